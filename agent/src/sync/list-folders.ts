/**
 * Step: list the server's folders that this account syncs, in a stable order (INBOX first),
 * with the directory each one maps to.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import { folderSelected } from './folder-filter.js';
import { displayPathOf } from './maildir/folder-path.js';

export interface RemoteFolder {
  /** The folder's path as the server names it (pass this to SELECT). */
  serverPath: string;
  /** Display path (folder-path.ts): "/" between levels; used in the state and in events. */
  path: string;
  delimiter: string | null;
  specialUse: string | null;
}

export interface RemoteFolderList {
  /** The folders this account syncs, INBOX first. */
  folders: RemoteFolder[];
  /** The server's \\Trash folder even when the config does not sync it (deletePolicy "trash"). */
  trashPath: string | null;
}

export async function listRemoteFolders(
  client: ImapFlow,
  account: AccountConfig,
): Promise<RemoteFolderList> {
  const listed = await client.list();
  const folders: RemoteFolder[] = [];
  let trashPath: string | null = null;
  for (const entry of listed) {
    const flags = entry.flags ?? new Set<string>();
    // \Noselect / \NonExistent entries are hierarchy placeholders with no messages of their own.
    if (hasFlag(flags, '\\Noselect') || hasFlag(flags, '\\NonExistent')) continue;
    if (entry.specialUse === '\\Trash') trashPath = entry.path;
    const delimiter = entry.delimiter || null;
    const path =
      entry.path.toUpperCase() === 'INBOX' ? 'INBOX' : displayPathOf(entry.path, delimiter);
    if (!folderSelected(path, account.folders)) continue;
    folders.push({ serverPath: entry.path, path, delimiter, specialUse: entry.specialUse || null });
  }
  folders.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  return { folders, trashPath };
}

function hasFlag(flags: Set<string>, flag: string): boolean {
  for (const f of flags) if (f.toLowerCase() === flag.toLowerCase()) return true;
  return false;
}

function rank(folder: RemoteFolder): number {
  return folder.path === 'INBOX' ? 0 : 1;
}
