/**
 * Whether files that left a folder of the Maildir are now in another folder of the account:
 * another mail client moved them there (mutt's save, a drag in a desktop client). Such a
 * message is not deleted: the folder it went to uploads it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StateDb } from '../state-db.js';
import { canonicalFolderPath } from './folder-path.js';
import { hostFolderNameRules } from './folder-names.js';
import { listLocalFolders } from './local-folders.js';
import { openLocalFolder } from './open-local-folder.js';

/**
 * The bases of `messages` whose file (same base, same size: names without a unique part
 * repeat) is in another synced folder of the account's Maildir: one the state knows, one
 * this run syncs, or, where syncs create on the server the folders made here, any the config
 * selects (made since the last pass, even since this run listed the folders: a later pass
 * creates it). A file moved to a folder that is not synced does not reach the server. One
 * listing of each.
 */
export async function filesInOtherFolders(
  state: Pick<StateDb, 'maildirInfoSeparator' | 'folders'>,
  account: { id: string; maildir: string; maildirInfoSeparator?: string },
  displayPath: string,
  messages: ReadonlyArray<{ base: string; size: number }>,
  /** The config's choice: a folder the state knows may be excluded since. */
  folderSynced: (path: string) => boolean = () => true,
  reach: {
    /** Folders this run syncs, known to the state or not. */
    run?: readonly string[];
    /** Every folder here that the config selects. */
    anyLocal?: boolean;
  } = {},
): Promise<Set<string>> {
  const found = new Set<string>();
  if (messages.length === 0) return found;
  const sizes = new Map(messages.map((m) => [m.base, m.size]));
  const known = [
    ...new Set([...state.folders(account.id).map((f) => f.path), ...(reach.run ?? [])]),
  ];
  const synced = new Set(known.filter(folderSynced).map(canonicalFolderPath));
  const self = canonicalFolderPath(displayPath);
  for (const other of await listLocalFolders(account.maildir, hostFolderNameRules(), known)) {
    const name = canonicalFolderPath(other);
    if (name === self) continue;
    if (!synced.has(name) && !(reach.anyLocal && folderSynced(other))) continue;
    let folder;
    try {
      folder = openLocalFolder(state, account, other);
    } catch {
      continue; // a name this platform cannot map back: not one of ours
    }
    for (const [base, file] of await folder.scan()) {
      const size = sizes.get(base);
      if (size === undefined || found.has(base)) continue;
      const stat = await fs.stat(path.join(folder.dir, file.subdir, file.name)).catch(() => null);
      if (stat?.size === size) found.add(base);
    }
  }
  return found;
}
