/**
 * The folders present in an account's Maildir: every directory below the root that has
 * cur/, as display paths (directory names read back by folder-names.ts, the layout
 * folder-path.ts writes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { hostFolderNameRules, isFolderEntry, type FolderNameRules } from './folder-names.js';
import { joinDisplayPath, levelNameOf } from './folder-path.js';

export async function listLocalFolders(
  root: string,
  rules: FolderNameRules = hostFolderNameRules(),
): Promise<string[]> {
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
      if (!entry.isDirectory() || !isFolderEntry(entry.name, rules)) continue;
      // A cut name whose full-name record is gone cannot be named: leave it alone.
      const level = levelNameOf(dir, entry.name, rules);
      if (level === null) continue;
      await walk(path.join(dir, entry.name), [...levels, level]);
    }
  };
  await walk(root, []);
  return [...found].sort();
}
