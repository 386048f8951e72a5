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
 * flag changes made here before the renumbering still reach the server. A row whose file was
 * deleted or moved away here keeps its message where that message is beyond doubt, so the
 * deletion or move still reaches the server.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import type { SyncLogger } from './logger.js';
import { crlfToLf, lfToCrlf, sizeAfterLfToCrlf, sizeBeforeCrlfToLf } from './maildir/crlf.js';
import { imapFlagsOfLetters, maildirLetters } from './maildir/flags.js';
import type { LocalFile, MaildirFolder } from './maildir/maildir-folder.js';
import { normalizeMessageId, type MessageRow, type StateDb } from './state-db.js';
import { messageIdOf } from './message-id.js';
import { sequenceSetOf } from './remote-changes.js';
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
  /**
   * Only these files (which have no row) against only these server messages (which have
   * none either), keeping every row: see adoptFilesOfNewMessages.
   */
  only?: { bases: ReadonlySet<string>; uids: readonly number[] };
}): Promise<RematchResult> {
  const { client, local, only } = input;
  const server: ServerMessage[] = [];
  if (input.exists > 0 && (!only || only.uids.length > 0)) {
    for await (const m of client.fetch(
      only ? sequenceSetOf(only.uids) : '1:*',
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
  const serverByUid = new Map(server.map((m) => [m.uid, m]));
  const byKey = new Map<string, ServerMessage[]>();
  for (const m of server) {
    const key = `${m.messageId}\u0000${m.size}`;
    byKey.set(key, [...(byKey.get(key) ?? []), m]);
  }

  const files = await local.scan();
  const taken = new Set<number>();
  const rows: MessageRow[] = [];
  // Renumbered: the rows we had, with their base flags, and the files whose APPEND a crash
  // left unconfirmed (the journal goes with the old numbering). First sight: every file, its
  // own base.
  const known = input.state.messages(input.folderId);
  const fileRow = (base: string, letters: string): MessageRow => ({
    uid: 0,
    base,
    flags: imapFlagsOfLetters(letters),
    size: -1,
    internalDate: null,
  });
  const journalled = input.state
    .pendingAppends(input.folderId)
    .map((pending) => pending.base)
    .filter((base) => files.has(base) && !known.some((row) => row.base === base));
  const candidates: MessageRow[] = only
    ? [...only.bases].flatMap((base) => {
        const file = files.get(base);
        return file ? [fileRow(base, file.letters)] : [];
      })
    : known.length > 0
      ? [...known, ...journalled.map((base) => fileRow(base, files.get(base)!.letters))]
      : [...files].map(([base, file]) => fileRow(base, file.letters));
  // What matching needs of each file, read once; its bytes again only where they decide.
  // Local files alike by Message-ID and size: one server candidate does not tell them apart.
  const summaries = new Map<string, FileSummary>();
  const localKeys = new Map<string, number>();
  for (const old of candidates) {
    const file = files.get(old.base);
    if (!file || old.partial) continue;
    const read = await local.readMessage(file);
    if (read.kind !== 'message') continue;
    const summary = summaryOf(read.data);
    summaries.set(old.base, summary);
    for (const key of summary.keys) localKeys.set(key, (localKeys.get(key) ?? 0) + 1);
  }
  const unmatched: Unmatched[] = [];
  for (const old of candidates) {
    const file = files.get(old.base);
    if (!file) continue; // deleted or moved here before the renumbering: see filelessRowsMatched
    if (old.partial) {
      const read = await local.readMessage(file);
      // Gone meanwhile, or no file at all (a directory made in cur/): nothing to match.
      if (read.kind !== 'message') continue;
      // A header block: no size to compare, and never to be uploaded as if it were a message.
      const sameId = server.filter(
        (m) => m.messageId !== null && m.messageId === messageIdOf(read.data) && !taken.has(m.uid),
      );
      if (sameId.length === 1) {
        taken.add(sameId[0]!.uid);
        rows.push({ ...old, uid: sameId[0]!.uid });
      } else {
        await fs.rm(path.join(local.dir, file.subdir, file.name), { force: true });
      }
      continue;
    }
    const summary = summaries.get(old.base);
    if (!summary) continue;
    const { keys } = summary;
    const found = new Set(keys.flatMap((key) => byKey.get(key) ?? []));
    const choices = [...found].filter((m) => !taken.has(m.uid));
    // A Message-ID and a size alike make one candidate the same message, unless another file
    // here has them too, or the file's CRLFs leave its size on the server open. Without a
    // Message-ID the size alone says little (alerts and receipts of one length), and taking
    // a new local message for a held one would leave it on neither side: the bytes decide.
    const sure =
      choices.length === 1 &&
      summary.messageId !== null &&
      keys.length === 1 &&
      localKeys.get(keys[0]!) === 1;
    const match = sure
      ? choices[0]
      : choices.length > 0
        ? await byContentOfFile(client, sameFlagsFirst(choices, file.letters), local, file)
        : undefined;
    if (!match) {
      unmatched.push({ old, file, ...summary });
      continue;
    }
    taken.add(match.uid);
    rows.push({ ...old, uid: match.uid, size: summary.length });
  }
  let left = unmatched;
  if (known.length === 0 || only) {
    // First sight of files a headers-only pass stored (the state that said so is lost): each
    // is the header block of a server message, not a message to upload.
    const blocks = await headerBlocksAmong(client, left, serverByUid, taken);
    for (const { old, uid, size } of blocks) {
      taken.add(uid);
      rows.push({ ...old, uid, size, partial: true });
    }
    const isBlock = new Set(blocks.map((block) => block.old));
    left = left.filter((candidate) => !isBlock.has(candidate.old));
  }
  // A size the server reports otherwise than it serves (some estimate RFC822.SIZE), or bytes
  // it changed on the way in: the Message-ID finds the candidates, the bytes decide.
  for (const { old, file, messageId } of left) {
    const sameId = server.filter((m) => !taken.has(m.uid) && m.messageId === messageId);
    if (messageId === null || sameId.length === 0) continue;
    const match = await byContentOfFile(client, sameFlagsFirst(sameId, file.letters), local, file);
    if (!match) continue; // stays a local message: uploaded if it is not on the server
    taken.add(match.uid);
    rows.push({ ...old, uid: match.uid, size: summaries.get(old.base)!.length });
  }
  // Without a Message-ID, the messages without one whose size is near the file's: each
  // fetched once, however many files it is near, and matched by the digest of its bytes.
  const withoutId = left.filter((candidate) => candidate.messageId === null);
  const near = server.filter(
    (m) =>
      !taken.has(m.uid) &&
      m.messageId === null &&
      withoutId.some(({ sizes }) => sizes.some((size) => isNear(m.size, size))),
  );
  if (near.length > 0) {
    const served = await servedDigests(
      client,
      near.map((m) => m.uid),
    );
    for (const { old, file } of withoutId) {
      const read = await local.readMessage(file);
      if (read.kind !== 'message') continue;
      const alike = [
        ...(served.asSent.get(digestOf(asServed(lfToCrlf(read.data)))) ?? []),
        ...(served.asStored.get(digestOf(asServed(read.data))) ?? []),
      ].flatMap((u) => (taken.has(u) ? [] : [serverByUid.get(u)!]));
      const uid = sameFlagsFirst(alike, file.letters)[0]?.uid;
      if (uid === undefined) continue;
      taken.add(uid);
      rows.push({ ...old, uid, size: summaries.get(old.base)!.length });
    }
  }
  if (!only) {
    // Rows whose file is gone: deleted here, or moved to another folder, since the last pass.
    // Kept, with no file, on their message, the reconcile that follows applies that change;
    // dropped, the message would come back here (or be in both folders).
    const placed = new Set(rows.map((row) => row.base));
    const idsOfFilesLeft = new Set(
      candidates
        .filter((old) => files.has(old.base) && !placed.has(old.base))
        .map((old) => normalizeMessageId(summaries.get(old.base)?.messageId ?? '')),
    );
    const fileless = known.filter((old) => !files.has(old.base));
    for (const { old, uid } of await filelessRowsMatched(
      client,
      fileless,
      server,
      taken,
      idsOfFilesLeft,
    )) {
      taken.add(uid);
      rows.push({ ...old, uid });
    }
  }
  const serverFlags = new Map(server.map((m) => [m.uid, m.flags]));
  if (only) {
    // Their flags as the server has them are the base: a letter of the file that differs is
    // this side's change and goes up. (The pass reads the server's changes of the rows it
    // held, not of these.) UIDs the server did not send are left to be downloaded.
    const adopted = rows.map((row) => ({ ...row, flags: serverFlags.get(row.uid) ?? [] }));
    input.state.addMessages(input.folderId, adopted);
    const toDownload = only.uids.filter((uid) => !taken.has(uid));
    input.log.warn(
      { adopted: adopted.length, toDownload: toDownload.length },
      'files the state had no rows for are new server messages: linked to them, not sent again',
    );
    return { unmatchedServerUids: toDownload, serverFlags, matched: adopted.length };
  }
  input.state.replaceFolderMessages(input.folderId, rows, input.uidValidity);
  const unmatchedServerUids = server.filter((m) => !taken.has(m.uid)).map((m) => m.uid);
  input.log.info(
    { matched: rows.length, toDownload: unmatchedServerUids.length },
    'folder renumbered by the server; messages matched again',
  );
  return { unmatchedServerUids, serverFlags, matched: rows.length };
}

/**
 * Files with no row in a folder whose state holds rows, while the server has messages above
 * the highest UID held: the same messages when the state lost rows it had (restored from an
 * older copy, or its last transactions lost with its WAL file). Sending each file again and
 * downloading each message again would double them on both sides. They are matched as after
 * a renumbering (Message-ID and size, then the bytes); what matches is linked, the rest stays
 * a new file to upload and a new message to download. The new messages' Message-IDs are read
 * only when a pass finds both new files and new messages: a draft saved here while mail came.
 */
export async function adoptFilesOfNewMessages(input: {
  client: ImapFlow;
  state: StateDb;
  folderId: number;
  local: MaildirFolder;
  uidValidity: number;
  newUids: readonly number[];
  log: SyncLogger;
}): Promise<number[]> {
  if (input.newUids.length === 0) return [...input.newUids];
  const known = input.state.messageBases(input.folderId);
  const journalled = new Set(input.state.pendingAppends(input.folderId).map((p) => p.base));
  const bases = new Set(
    [...(await input.local.scan()).keys()].filter(
      (base) => !known.has(base) && !journalled.has(base),
    ),
  );
  if (bases.size === 0) return [...input.newUids];
  const result = await rematchFolder({
    ...input,
    exists: input.newUids.length,
    only: { bases, uids: input.newUids },
  });
  return result.unmatchedServerUids;
}

/**
 * The sizes a file's server copy may have (with its Message-ID, the keys it is looked up
 * by). A file with CRLFs in it has two sizes there: as a line end already (a file written
 * with CRLF line ends is uploaded as it is), or as a CR before a line end (a server's
 * "\r\r\n", stored "\r\n").
 */
function sizesOf(data: Buffer): number[] {
  return [...new Set([sizeAfterLfToCrlf(data), sizeBeforeCrlfToLf(data)])];
}

/**
 * Whether a size the server reports may be its estimate of one it serves: within an eighth
 * of it plus a kilobyte. Asked only of messages without a Message-ID, to bound the bodies
 * fetched to compare.
 */
function isNear(reported: number, size: number): boolean {
  return reported >= 0 && Math.abs(reported - size) <= size / 8 + 1024;
}

/**
 * The candidates, those whose flags are the file's letters first. Copies of one message
 * alike byte for byte in a folder (one read, one not) are told apart by nothing else: taken
 * in the server's order, each file could be linked to another copy's message, and the pass
 * would then pull every copy's flags onto a file that had another's, renaming them all.
 */
function sameFlagsFirst(candidates: readonly ServerMessage[], letters: string): ServerMessage[] {
  const wanted = maildirLetters(imapFlagsOfLetters(letters));
  const same = candidates.filter((m) => maildirLetters(m.flags) === wanted);
  return [...same, ...candidates.filter((m) => !same.includes(m))];
}

/** `byContent` with the file read now; undefined if it is no message any more. */
async function byContentOfFile(
  client: ImapFlow,
  candidates: ServerMessage[],
  local: MaildirFolder,
  file: LocalFile,
): Promise<ServerMessage | undefined> {
  const read = await local.readMessage(file);
  return read.kind === 'message' ? byContent(client, candidates, read.data) : undefined;
}

/**
 * The candidate whose bytes are the file's: as the file would be uploaded, or as it was
 * stored from the server (CRLF → LF), each as the server serves it (a NUL comes as 0x80).
 */
async function byContent(
  client: ImapFlow,
  candidates: ServerMessage[],
  data: Buffer,
): Promise<ServerMessage | undefined> {
  const served = asServed(data);
  const wire = asServed(lfToCrlf(data));
  for (const candidate of candidates) {
    const m = await client.fetchOne(
      String(candidate.uid),
      { uid: true, source: true },
      { uid: true },
    );
    if (m && m.source && (m.source.equals(wire) || crlfToLf(m.source).equals(served)))
      return candidate;
  }
  return undefined;
}

/**
 * The digests of these messages' bytes as served (what `byContent` compares): as they came,
 * for a file uploaded as it is, and with CRLF → LF, for one stored from the server.
 */
async function servedDigests(
  client: ImapFlow,
  uids: readonly number[],
): Promise<{ asSent: Map<string, number[]>; asStored: Map<string, number[]> }> {
  const asSent = new Map<string, number[]>();
  const asStored = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: string, uid: number) =>
    map.set(key, [...(map.get(key) ?? []), uid]);
  const asked = new Set(uids);
  for await (const m of client.fetch(
    sequenceSetOf(uids),
    { uid: true, source: true },
    { uid: true },
  )) {
    if (!m.source || !asked.has(m.uid)) continue;
    add(asSent, digestOf(m.source), m.uid);
    add(asStored, digestOf(crlfToLf(m.source)), m.uid);
  }
  return { asSent, asStored };
}

/** What matching needs of a file's bytes. */
interface FileSummary {
  keys: string[];
  /** What its server copy may measure (see `sizesOf`). */
  sizes: number[];
  length: number;
  messageId: string | null;
  /** Of the file's bytes, if it may be a header block (it ends in a blank line). */
  digest: string | null;
}

function summaryOf(data: Buffer): FileSummary {
  const messageId = messageIdOf(data);
  const sizes = sizesOf(data);
  return {
    keys: sizes.map((size) => `${messageId}\u0000${size}`),
    sizes,
    length: data.length,
    messageId,
    digest: endsWithBlankLine(data) ? digestOf(data) : null,
  };
}

/** A file that matched no message by Message-ID and size. */
interface Unmatched extends FileSummary {
  old: MessageRow;
  file: LocalFile;
}

/** The blank line may be all there is: the header block of a message with no header field. */
function endsWithBlankLine(data: Buffer): boolean {
  const n = data.length;
  return n >= 1 && data[n - 1] === 0x0a && (n === 1 || data[n - 2] === 0x0a);
}

function digestOf(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Of files that matched no message, those that are a server message's header block (a
 * headers-only pass stores that): ending in the blank line that closes it, shorter than the
 * message, with its Message-ID if it has one. Their headers are fetched, not their bodies.
 */
async function headerBlocksAmong(
  client: ImapFlow,
  files: readonly Unmatched[],
  serverByUid: ReadonlyMap<number, ServerMessage>,
  taken: ReadonlySet<number>,
): Promise<Array<{ old: MessageRow; uid: number; size: number }>> {
  const server = [...serverByUid.values()];
  const blocks = files.filter((file) => file.digest !== null);
  if (blocks.length === 0) return [];
  const ids = new Set(blocks.map((block) => block.messageId));
  const shortest = blocks.reduce((least, block) => Math.min(least, block.length), Infinity);
  const wanted = server
    .filter((m) => !taken.has(m.uid) && m.size > shortest && ids.has(m.messageId))
    .map((m) => m.uid);
  if (wanted.length === 0) return [];
  const byHeader = new Map<string, number[]>();
  for await (const m of client.fetch(
    sequenceSetOf(wanted),
    { uid: true, headers: true },
    { uid: true },
  )) {
    if (!m.headers) continue;
    const key = digestOf(crlfToLf(m.headers));
    byHeader.set(key, [...(byHeader.get(key) ?? []), m.uid]);
  }
  const found: Array<{ old: MessageRow; uid: number; size: number }> = [];
  const used = new Set<number>();
  for (const { old, file, digest, length } of blocks) {
    const alike = (byHeader.get(digest!) ?? []).flatMap((u) =>
      used.has(u) ? [] : [serverByUid.get(u)!],
    );
    const uid = sameFlagsFirst(alike, file.letters)[0]?.uid;
    if (uid === undefined) continue;
    used.add(uid);
    found.push({ old, uid, size: length });
  }
  return found;
}

/**
 * Rows whose file is gone (deleted or moved away here before the renumbering), each with the
 * server message that is certainly the one it held: the only one left with its Message-ID
 * whose bytes, stored here (CRLF → LF; the header block of a partial row), have the row's
 * size, and no other such row nor any unmatched file with that Message-ID. The file is not
 * here for its bytes to decide, and a wrong match would delete a message the user kept: any
 * doubt leaves the row out, and the server's copy comes back here (nothing lost).
 */
async function filelessRowsMatched(
  client: ImapFlow,
  rows: readonly MessageRow[],
  server: readonly ServerMessage[],
  taken: ReadonlySet<number>,
  idsOfFilesLeft: ReadonlySet<string>,
): Promise<Array<{ old: MessageRow; uid: number }>> {
  const serverById = new Map<string, ServerMessage[]>();
  for (const m of server) {
    const id = normalizeMessageId(m.messageId ?? '');
    if (taken.has(m.uid) || id === '') continue;
    serverById.set(id, [...(serverById.get(id) ?? []), m]);
  }
  // Null: the row's Message-ID was never read; '': it has none (the size alone says little).
  const wanted = rows.filter(
    (row) => row.messageId && !idsOfFilesLeft.has(row.messageId) && serverById.has(row.messageId),
  );
  if (wanted.length === 0) return [];
  const sizes = await storedSizes(
    client,
    wanted.flatMap((row) => serverById.get(row.messageId!)!.map((m) => m.uid)),
    new Set(
      wanted
        .filter((row) => row.partial)
        .flatMap((row) => serverById.get(row.messageId!)!.map((m) => m.uid)),
    ),
  );
  const fits = (row: MessageRow) =>
    serverById
      .get(row.messageId!)!
      .filter((m) => sizes.get(m.uid)?.[row.partial ? 'head' : 'whole'] === row.size);
  const fitted = wanted.map((row) => ({ row, fit: fits(row) }));
  const rowsFitting = new Map<number, number>();
  for (const { fit } of fitted)
    for (const m of fit) rowsFitting.set(m.uid, (rowsFitting.get(m.uid) ?? 0) + 1);
  return fitted
    .filter(({ fit }) => fit.length === 1 && rowsFitting.get(fit[0]!.uid) === 1)
    .map(({ row, fit }) => ({ old: row, uid: fit[0]!.uid }));
}

/**
 * What these messages measure once stored here (CRLF → LF): whole, and for those in
 * `heads` also their header block (what a headers-only pass stores).
 */
async function storedSizes(
  client: ImapFlow,
  uids: readonly number[],
  heads: ReadonlySet<number>,
): Promise<Map<number, { whole: number; head?: number }>> {
  const sizes = new Map<number, { whole: number; head?: number }>();
  const asked = new Set(uids);
  for await (const m of client.fetch(
    sequenceSetOf([...asked].sort((a, b) => a - b)),
    { uid: true, source: true, ...(heads.size > 0 ? { headers: true } : {}) },
    { uid: true },
  )) {
    if (!m.source || !asked.has(m.uid)) continue;
    sizes.set(m.uid, {
      whole: crlfToLf(m.source).length,
      ...(heads.has(m.uid) && m.headers ? { head: crlfToLf(m.headers).length } : {}),
    });
  }
  return sizes;
}
