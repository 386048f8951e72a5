/**
 * Step: link files to server messages without trusting UIDs. Two cases need it:
 *  - the server renumbered a folder (new UIDVALIDITY: restored from backup, migrated,
 *    recreated): our UIDs mean nothing now, but our files are still the same messages;
 *  - a folder seen for the first time already has files (a Maildir another tool filled, or a
 *    lost state database): they must not all be uploaded again as duplicates.
 * Files are matched by Message-ID and size, and by content hash where that is ambiguous (or
 * there is no Message-ID), so nothing is downloaded again and no local change is lost.
 *
 * Files that match nothing stay as local messages (the upload step APPENDs them); server
 * messages that match nothing are returned for download; the old base flags carry over, so
 * flag changes made here before the renumbering still reach the server.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import type { SyncLogger } from './logger.js';
import { lfToCrlf } from './maildir/crlf.js';
import { imapFlagsOfLetters } from './maildir/flags.js';
import type { MaildirFolder } from './maildir/maildir-folder.js';
import type { MessageRow, StateDb } from './state-db.js';
import { messageIdOf } from './message-id.js';
import { asServed } from './served-bytes.js';

export interface RematchResult {
  /** Server UIDs no local file matched: to download. */
  unmatchedServerUids: number[];
  /** Current server flags of every message (our base is from another numbering). */
  serverFlags: Map<number, string[]>;
  matched: number;
}

interface ServerMessage {
  uid: number;
  size: number;
  messageId: string | null;
  flags: string[];
}

export async function rematchFolder(input: {
  client: ImapFlow;
  state: StateDb;
  folderId: number;
  local: MaildirFolder;
  uidValidity: number;
  exists: number;
  log: SyncLogger;
}): Promise<RematchResult> {
  const { client, local } = input;
  const server: ServerMessage[] = [];
  if (input.exists > 0) {
    for await (const m of client.fetch(
      '1:*',
      { uid: true, flags: true, size: true, headers: ['message-id'] },
      { uid: true },
    )) {
      server.push({
        uid: m.uid,
        size: m.size ?? -1,
        messageId: messageIdOf(m.headers),
        flags: [...(m.flags ?? [])],
      });
    }
  }
  const byKey = new Map<string, ServerMessage[]>();
  for (const m of server) {
    const key = `${m.messageId}\u0000${m.size}`;
    byKey.set(key, [...(byKey.get(key) ?? []), m]);
  }

  const files = await local.scan();
  const taken = new Set<number>();
  const rows: MessageRow[] = [];
  // Renumbered: the rows we had, with their base flags. First sight: every file, its own base.
  const known = input.state.messages(input.folderId);
  const candidates: MessageRow[] =
    known.length > 0
      ? known
      : [...files].map(([base, file]) => ({
          uid: 0,
          base,
          flags: imapFlagsOfLetters(file.letters),
          size: -1,
          internalDate: null,
        }));
  for (const old of candidates) {
    const file = files.get(old.base);
    if (!file) continue; // deleted here before the renumbering: the server copy comes back
    const read = await local.readMessage(file);
    // Gone meanwhile, or no file at all (a directory made in cur/): nothing to match.
    if (read.kind !== 'message') continue;
    const data = read.data;
    if (old.partial) {
      // A header block: no size to compare, and never to be uploaded as if it were a message.
      const sameId = server.filter(
        (m) => m.messageId !== null && m.messageId === messageIdOf(data) && !taken.has(m.uid),
      );
      if (sameId.length === 1) {
        taken.add(sameId[0]!.uid);
        rows.push({ ...old, uid: sameId[0]!.uid });
      } else {
        await fs.rm(path.join(local.dir, file.subdir, file.name), { force: true });
      }
      continue;
    }
    const wire = lfToCrlf(data);
    const messageId = messageIdOf(data);
    const candidates = (byKey.get(`${messageId}\u0000${wire.length}`) ?? []).filter(
      (m) => !taken.has(m.uid),
    );
    // A Message-ID and a size alike make one candidate the same message. Without a
    // Message-ID the size alone says little (alerts and receipts of one length), and taking a
    // new local message for a held one would leave it on neither side: the bytes decide.
    let match = candidates.length === 1 && messageId !== null ? candidates[0] : undefined;
    if (candidates.length > 1 || (candidates.length === 1 && messageId === null))
      match = await byContent(client, candidates, wire);
    if (!match) continue; // stays a local message: uploaded if it is not on the server
    taken.add(match.uid);
    rows.push({ ...old, uid: match.uid, size: data.length });
  }
  input.state.replaceFolderMessages(input.folderId, rows, input.uidValidity);
  const unmatchedServerUids = server.filter((m) => !taken.has(m.uid)).map((m) => m.uid);
  input.log.info(
    { matched: rows.length, toDownload: unmatchedServerUids.length },
    'folder renumbered by the server; messages matched again',
  );
  return {
    unmatchedServerUids,
    serverFlags: new Map(server.map((m) => [m.uid, m.flags])),
    matched: rows.length,
  };
}

/**
 * Message-IDs alike and sizes alike (resent copies): the bytes decide, as the server serves
 * them (a NUL comes as 0x80).
 */
async function byContent(
  client: ImapFlow,
  candidates: ServerMessage[],
  wire: Buffer,
): Promise<ServerMessage | undefined> {
  const want = createHash('sha256').update(asServed(wire)).digest('hex');
  for (const candidate of candidates) {
    const m = await client.fetchOne(
      String(candidate.uid),
      { uid: true, source: true },
      { uid: true },
    );
    if (m && m.source && createHash('sha256').update(m.source).digest('hex') === want)
      return candidate;
  }
  return undefined;
}
