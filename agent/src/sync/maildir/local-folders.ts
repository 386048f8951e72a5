/**
 * The folders present in an account's Maildir: every directory below the root that has
 * cur/, as "/"-separated paths (the layout folder-path.ts writes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const MAILDIR_SUBDIRS = new Set(['cur', 'new', 'tmp']);

export async function listLocalFolders(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, segments: string[]): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (segments.length > 0 && entries.some((e) => e.isDirectory() && e.name === 'cur'))
      found.push(segments.join('/'));
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || MAILDIR_SUBDIRS.has(entry.name))
        continue;
      await walk(path.join(dir, entry.name), [...segments, entry.name]);
    }
  };
  await walk(root, []);
  return found.sort();
}
