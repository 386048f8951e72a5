/**
 * The folders present in an account's Maildir: every directory below the root that has
 * cur/, as display paths (directory names read back by folder-names.ts, the layout
 * folder-path.ts writes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { hostFolderNameRules, isFolderEntry, type FolderNameRules } from './folder-names.js';
import { displaySegments, joinDisplayPath, levelNameOf } from './folder-path.js';

export async function listLocalFolders(
  root: string,
  rules: FolderNameRules = hostFolderNameRules(),
  /** Display paths the sync state knows: they name cut directories whose record is lost. */
  knownPaths: readonly string[] = [],
  /**
   * Told of each hidden directory at the top that holds a cur/: a Maildir++ folder (".Sent",
   * ".Archive.2024") another program made. Not one of these folders: its name is not ours.
   */
  onMaildirPlusPlus?: (entry: string) => void,
): Promise<string[]> {
  const known = knownPaths.map(displaySegments);
  const candidatesAt = (levels: readonly string[]) =>
    known
      .filter((k) => k.length > levels.length && levels.every((l, i) => k[i] === l))
      .map((k) => k[levels.length]!);
  const found = new Set<string>();
  const walk = async (dir: string, levels: string[]): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (levels.length > 0 && entries.some((e) => e.isDirectory() && e.name === 'cur'))
      found.add(joinDisplayPath(levels));
    for (const entry of entries) {
      if (
        onMaildirPlusPlus &&
        levels.length === 0 &&
        entry.isDirectory() &&
        /^\.[^.]/.test(entry.name) &&
        (await isDirectory(path.join(dir, entry.name, 'cur')))
      )
        onMaildirPlusPlus(entry.name);
      if (!entry.isDirectory() || !isFolderEntry(entry.name, rules)) continue;
      // A cut name whose record is gone and that the state does not know cannot be named:
      // leave it alone (it is not a folder we synced, so nothing is deleted for it).
      const level = levelNameOf(dir, entry.name, rules, candidatesAt(levels));
      if (level === null) continue;
      await walk(path.join(dir, entry.name), [...levels, level]);
    }
  };
  await walk(root, []);
  return [...found].sort();
}

async function isDirectory(where: string): Promise<boolean> {
  return (await fs.stat(where).catch(() => null))?.isDirectory() ?? false;
}
