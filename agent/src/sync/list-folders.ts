/**
 * Step: list the server's folders that this account syncs, in a stable order (INBOX first),
 * with the directory each one maps to.
 */
import type { ImapFlow, StatusObject } from 'imapflow';
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
  /**
   * The folder's counters as LIST-STATUS reported them with the listing, or null when the
   * server did not (then only a SELECT tells whether the folder changed).
   */
  status: ServerCounters | null;
}

/** What a SELECT or a STATUS tells of a folder's state on the server. */
export interface ServerCounters {
  uidValidity: number;
  uidNext: number | null;
  exists: number;
  /** Null when the server keeps no modification sequences for the folder. */
  highestModseq: bigint | null;
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
  // With LIST-STATUS (RFC 5819) and CONDSTORE, the listing's one round trip also tells for
  // every folder whether anything changed on the server since the last pass: an unchanged
  // folder then needs no SELECT at all. Without CONDSTORE a flag change leaves no trace in
  // the counters, so they are not asked for.
  const withStatus = client.capabilities.has('LIST-STATUS') && client.capabilities.has('CONDSTORE');
  const listed = await client.list(withStatus ? { statusQuery: STATUS_QUERY } : undefined);
  const byPath = new Map<string, RemoteFolder>();
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
    // A server that lists a folder twice (or INBOX also as "Inbox"): one folder, synced once.
    // Two passes over it at once would each take the other's downloads for local messages
    // and upload them. INBOX keeps its own spelling where the server gives it.
    if (byPath.has(path) && !(path === 'INBOX' && entry.path === 'INBOX')) continue;
    byPath.set(path, {
      serverPath: entry.path,
      path,
      delimiter,
      specialUse: entry.specialUse || null,
      status: withStatus ? countersOf(entry.status) : null,
    });
  }
  // By code unit, as the server and the file system do: the same order on every machine, and
  // no ICU collation data loaded into the process for it.
  const folders = [...byPath.values()];
  folders.sort((a, b) => rank(a) - rank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { folders, trashPath };
}

const STATUS_QUERY = { messages: true, uidNext: true, uidValidity: true, highestModseq: true };

/** Counters from a STATUS answer; null when one is missing (or the STATUS failed). */
function countersOf(status: StatusObject | { error: unknown } | undefined): ServerCounters | null {
  if (!status || 'error' in status) return null;
  const { uidValidity, uidNext, messages, highestModseq } = status;
  if (uidValidity === undefined || uidNext === undefined || messages === undefined) return null;
  return {
    uidValidity: Number(uidValidity),
    uidNext,
    exists: messages,
    // 0: the folder keeps no modification sequences (RFC 7162 3.1.2.1).
    highestModseq: highestModseq ? BigInt(highestModseq) : null,
  };
}

function hasFlag(flags: Set<string>, flag: string): boolean {
  for (const f of flags) if (f.toLowerCase() === flag.toLowerCase()) return true;
  return false;
}

function rank(folder: RemoteFolder): number {
  return folder.path === 'INBOX' ? 0 : 1;
}
