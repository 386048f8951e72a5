/**
 * Step: download the messages the server has above the highest UID we hold, in UID order,
 * in durable batches (see MaildirFolder). Bodies are stored as the server sent them with
 * CRLF turned into LF; flags go into the file name's info suffix.
 */
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import { crlfToLfInPlace } from './maildir/crlf.js';
import { type BodyLane, headOf } from './body-lane.js';
import { maildirLetters } from './maildir/flags.js';
import path from 'node:path';
import {
  fsyncDirectory,
  type MaildirFolder,
  type PendingFile,
  uniqueBaseName,
} from './maildir/maildir-folder.js';
import { normalizeMessageId, type FolderState, type MessageRow, type StateDb } from './state-db.js';
import { headerBlockEnd, messageIdOf } from './message-id.js';
import type { SyncLogger } from './logger.js';
import { SyncFailure } from './errors.js';
import { uidsMatching, uidsOf } from './remote-changes.js';

/**
 * A batch is made durable (fsync, commit, rename) at whichever limit comes first. Its messages
 * are already in tmp/ by then (written as they arrive), so the limits bound the work a crash
 * throws away and the files fsynced together, not memory. Each batch's commit waits for the
 * disk on this thread, so fewer, larger batches let the socket be read more of the time: 16 MB
 * instead of 4 MB took ~2 s off a 20k initial sync (BENCHMARKS.md).
 */
const BATCH_MAX_MESSAGES = 500;
const BATCH_MAX_BYTES = 16 * 1024 * 1024;
/** Bytes of received messages on their way to tmp/ at once; beyond it the FETCH stream waits. */
const WRITES_IN_FLIGHT_BYTES = 2 * 1024 * 1024;
/** Messages above this size are streamed to disk instead of fetched into memory. */
export const STREAM_ABOVE_BYTES = 8 * 1024 * 1024;
/** UIDs per FETCH command: long enough to stream, short enough to resume cheaply. */
const FETCH_CHUNK_UIDS = 2000;

export interface DownloadContext {
  client: ImapFlow;
  state: StateDb;
  folder: FolderState;
  local: MaildirFolder;
  signal: AbortSignal;
  log: SyncLogger;
  /** SYNC_GLOBAL_HEADERS: store the header block only, marked partial. */
  headersOnly: boolean;
  /** Full bodies come over this lane instead of `client` (see body-lane.ts). */
  lane?: BodyLane | null;
  /** Called after every stored message with the running count and the bytes it added. */
  onMessage(index: number, total: number, bytes: number): void;
}

export interface DownloadResult {
  downloaded: number;
  bytes: number;
  skipped: number;
  /**
   * UIDs asked for and not stored (ascending; empty after a cancel): expunged meanwhile, or
   * left out, garbled or refused by the server. The pass asks which the server still has.
   */
  notReceived: number[];
}

/**
 * UIDs above the highest we hold, and those since the last pass's UIDNEXT that the state
 * lacks, ascending; no command at all when UIDNEXT did not move.
 * Asked as an ESEARCH range list where the server offers it: a folder's first sync then
 * reads "1:29899" instead of 29,899 numbers through imapflow's parser.
 */
export async function listNewUids(
  client: ImapFlow,
  uidNext: number | null,
  highestKnown: number,
  /**
   * The UIDNEXT the last pass opened the folder with, and which UIDs from there up to the
   * highest known the state holds. A message another client delivered after that pass
   * opened the folder and before its APPEND got a UID below the one of the upload: above
   * the highest known only, it would never be looked for.
   */
  since?: { uidNext: number | null; held(uids: readonly number[]): Set<number> },
): Promise<number[]> {
  const from = Math.min(highestKnown + 1, since?.uidNext ?? Infinity);
  if (uidNext !== null && uidNext <= from) return [];
  const found = await uidsMatching(client, { uid: `${from}:*` });
  // "N:*" always matches the highest UID even when it is below N: filter it out.
  const uids = [...uidsOf(found ?? [])].filter((uid) => uid >= from).sort((a, b) => a - b);
  const below = uids.filter((uid) => uid <= highestKnown);
  if (below.length === 0 || !since) return uids;
  const held = since.held(below);
  return uids.filter((uid) => !held.has(uid));
}

export async function downloadNewMessages(
  ctx: DownloadContext,
  uids: readonly number[],
): Promise<DownloadResult> {
  const { client, state, folder, local, log } = ctx;
  const result: DownloadResult = { downloaded: 0, bytes: 0, skipped: 0, notReceived: [] };
  if (uids.length === 0) return result;

  // Each message is written to tmp/ as it arrives (the FETCH stream waits while more than
  // WRITES_IN_FLIGHT_BYTES are on their way to the disk); a batch is then fsynced, committed
  // and published as a whole while the next one is received. Commits stay in UID order (the
  // state's highest UID is where the next run resumes, so a later batch must never be
  // committed before an earlier one).
  let batch: Array<Pick<PendingFile, 'base' | 'letters'>> = [];
  let rows: MessageRow[] = [];
  let writes: Array<Promise<void>> = [];
  let batchBytes = 0;
  const inFlight = new Set<Promise<void>>();
  let inFlightBytes = 0;
  let writeFailed: unknown = null;
  let flushing: Promise<void> = Promise.resolve();
  let flushFailed: unknown = null;
  const write = async (file: PendingFile, size: number) => {
    while (inFlight.size > 0 && inFlightBytes >= WRITES_IN_FLIGHT_BYTES) {
      await Promise.race(inFlight);
    }
    inFlightBytes += size;
    // Settles either way (a failure is kept for the flush): the buffer is referenced only
    // until this write is done.
    const written: Promise<void> = local.writeTmpUnsynced(file).then(
      () => {},
      (err: unknown) => {
        writeFailed ??= err;
      },
    );
    const done = written.then(() => {
      inFlight.delete(done);
      inFlightBytes -= size;
    });
    inFlight.add(done);
    batch.push({ base: file.base, letters: file.letters });
    writes.push(written);
    batchBytes += size;
  };
  const startFlush = async () => {
    if (batch.length === 0) return;
    const files = batch;
    const fileRows = rows;
    const fileWrites = writes;
    batch = [];
    rows = [];
    writes = [];
    batchBytes = 0;
    // At most one batch being made durable besides the one being received.
    const previous = flushing;
    await previous;
    flushing = (async () => {
      const bases = files.map((f) => f.base);
      await Promise.all(fileWrites);
      if (writeFailed) {
        await local.removeFromTmp(bases);
        throw writeFailed;
      }
      await local.syncTmp(bases);
      try {
        state.recordMessages(folder.id, fileRows);
      } catch (err) {
        // Not committed (the state's disk full): the files are nobody's. Left in tmp/ they
        // would stay while the agent runs (a sweep spares its own process's files), a copy
        // of the batch more at every pass that fails the same way.
        if (bases.every((base) => state.sizeOfBase(folder.id, base) === null)) {
          await local.removeFromTmp(bases);
        }
        throw err;
      }
      await local.publish(files);
    })();
    flushing.catch((err: unknown) => {
      flushFailed ??= err;
    });
  };
  /** Everything received so far written and committed. */
  const flush = async () => {
    await startFlush();
    await flushing;
  };

  // A server's answer is checked before anything is stored under its UID: a message without
  // one cannot be kept, one not asked for would hide the message that was (and vanish at the
  // next pass), and a second copy under the same UID would be taken for a local message and
  // uploaded. Such a message is skipped, said in the log; a later pass asks for it again.
  const wanted = new Set(uids);
  const answered = new Set<number>();
  const refusal = (uid: number | undefined): string | null => {
    if (uid === undefined || !Number.isSafeInteger(uid) || uid <= 0) return 'no valid UID';
    if (!wanted.has(uid)) return 'a UID that was not asked for';
    if (answered.has(uid)) return 'the same UID a second time';
    answered.add(uid);
    return null;
  };
  const kept = new Set<number>();
  /** A message on its way to the Maildir under its UID. */
  const counted = (uid: number, serverBytes: number) => {
    kept.add(uid);
    result.downloaded += 1;
    result.bytes += serverBytes;
    ctx.onMessage(result.downloaded, uids.length, serverBytes);
  };

  const fetchBatch = async (batchUids: readonly number[]) => {
    const messages = client.fetch(
      batchUids.join(','),
      ctx.headersOnly
        ? { uid: true, flags: true, internalDate: true, headers: true }
        : { uid: true, flags: true, internalDate: true, source: true },
      { uid: true },
    );
    for await (const message of messages) {
      if (ctx.signal.aborted) break;
      if (flushFailed) throw flushFailed;
      if (writeFailed) throw writeFailed;
      const refused = refusal(message.uid);
      if (refused) {
        result.skipped += 1;
        log.warn({ uid: message.uid }, `server sent a message with ${refused}; skipped`);
        continue;
      }
      const file = toPendingFile(message, ctx.headersOnly);
      if (!file) {
        result.skipped += 1;
        log.warn({ uid: message.uid }, 'server sent no body for this message; skipped');
        continue;
      }
      rows.push(file.row);
      await write(file.pending, file.row.size);
      counted(message.uid, file.serverBytes);
      if (batch.length >= BATCH_MAX_MESSAGES || batchBytes >= BATCH_MAX_BYTES) await startFlush();
    }
  };
  /** A file already in tmp/ under its final name joins the batch being received. */
  const adopt = (file: Pick<PendingFile, 'base' | 'letters'>, size: number) => {
    batch.push(file);
    writes.push(Promise.resolve());
    batchBytes += size;
  };
  const fetchOverLane = async (lane: BodyLane, batchUids: readonly number[]) => {
    for await (const message of lane.fetchBodies(batchUids.join(','), ctx.signal)) {
      if (flushFailed) throw flushFailed;
      if (writeFailed) throw writeFailed;
      const { uid, body } = message;
      const refused = refusal(uid);
      if (refused || uid === undefined || body === null) {
        if (body?.kind === 'spill') await body.spill.discard();
        result.skipped += 1;
        log.warn(
          { uid },
          refused
            ? `server sent a message with ${refused}; skipped`
            : 'server sent no body for this message; skipped',
        );
        continue;
      }
      const flags = message.flags.filter((f) => f !== '\\Recent');
      const row = (base: string, size: number, head: Buffer): MessageRow => ({
        uid,
        base,
        flags,
        size,
        internalDate: message.internalDate,
        messageId: messageIdOfHead(head, size),
      });
      const letters = maildirLetters(flags);
      if (body.kind === 'memory') {
        const base = uniqueBaseName(body.size);
        rows.push(row(base, body.size, headOf(body.pieces)));
        await write({ base, letters, data: body.pieces }, body.size);
      } else {
        const size = await body.spill.finish();
        const base = uniqueBaseName(size);
        await local.renameInTmp(body.spill.name, base);
        rows.push(row(base, size, body.head));
        adopt({ base, letters }, size);
      }
      counted(uid, message.wireBytes);
      if (batch.length >= BATCH_MAX_MESSAGES || batchBytes >= BATCH_MAX_BYTES) await startFlush();
    }
  };
  const streamOne = async (uid: number) => {
    // Committed alone and in UID order: the batch before it goes first.
    await flush();
    const meta = await client.fetchOne(
      String(uid),
      { uid: true, flags: true, internalDate: true, headers: ['message-id'] },
      { uid: true },
    );
    const download = await client.download(String(uid), undefined, { uid: true });
    if (!meta || !download || !('content' in download) || !download.content) {
      result.skipped += 1;
      log.warn({ uid }, 'server sent no body for this message; skipped');
      return;
    }
    const partialName = uniqueBaseName(null);
    let serverBytes = 0;
    const bytesCounted = (async function* () {
      for await (const chunk of download.content as AsyncIterable<Buffer>) {
        serverBytes += chunk.length;
        yield chunk;
      }
    })();
    const size = await local.streamToTmp(partialName, bytesCounted);
    const base = uniqueBaseName(size);
    await local.renameInTmp(partialName, base);
    const flags = [...(meta.flags ?? [])].filter((f) => f !== '\\Recent');
    const internalDate = meta.internalDate ? new Date(meta.internalDate).getTime() : NaN;
    state.recordMessages(folder.id, [
      {
        uid,
        base,
        flags,
        size,
        internalDate: Number.isFinite(internalDate) ? internalDate : null,
        messageId: normalizeMessageId(messageIdOf(meta.headers) ?? ''),
      },
    ]);
    await local.publish([{ base, letters: maildirLetters(flags) }]);
    counted(uid, serverBytes);
  };

  try {
    for (let start = 0; start < uids.length && !ctx.signal.aborted; start += FETCH_CHUNK_UIDS) {
      const chunk = uids.slice(start, start + FETCH_CHUNK_UIDS);
      if (ctx.lane && !ctx.headersOnly) {
        // Large bodies are spilled to tmp/ as they arrive: no sizes to ask first.
        await fetchOverLane(ctx.lane, chunk);
        continue;
      }
      // Sizes first (a few bytes per message): large messages are streamed, never buffered.
      const large = ctx.headersOnly ? new Set<number>() : await largeMessages(client, chunk);
      let run: number[] = [];
      for (const uid of chunk) {
        if (ctx.signal.aborted) break;
        if (!large.has(uid)) {
          run.push(uid);
          continue;
        }
        if (run.length > 0) await fetchBatch(run);
        run = [];
        if (!ctx.signal.aborted) await streamOne(uid);
      }
      if (run.length > 0 && !ctx.signal.aborted) await fetchBatch(run);
    }
  } finally {
    // What was fetched before a cancel or a lost connection is kept: it is already paid for.
    try {
      await flush();
    } finally {
      local.releaseUnsynced();
    }
  }
  if (ctx.signal.aborted) throw new SyncFailure('CANCELLED', 'Sync cancelled', folder.path);
  if (kept.size < uids.length) result.notReceived = uids.filter((uid) => !kept.has(uid));
  return result;
}

/**
 * The Message-ID from the first bytes of a message: null (not known yet: read from the file
 * later) when they hold no Message-ID but stop before the header block does.
 */
function messageIdOfHead(head: Buffer, size: number): string | null {
  const id = messageIdOf(head);
  if (id !== null) return normalizeMessageId(id);
  const cut = head.length < size && headerBlockEnd(head) < 0;
  return cut ? null : '';
}

function toPendingFile(
  message: FetchMessageObject,
  headersOnly: boolean,
): { pending: PendingFile; row: MessageRow; serverBytes: number } | null {
  const raw = headersOnly ? message.headers : message.source;
  if (!raw) return null;
  const serverBytes = raw.length;
  // imapflow hands each message its own buffer: converted where it lies, not copied again.
  const data = crlfToLfInPlace(raw);
  const flags = [...(message.flags ?? [])].filter((f) => f !== '\\Recent');
  const base = uniqueBaseName(headersOnly ? null : data.length);
  const internalDate = message.internalDate ? new Date(message.internalDate).getTime() : NaN;
  return {
    pending: { base, letters: maildirLetters(flags), data },
    row: {
      uid: message.uid,
      base,
      // The full set, keywords included: the base of the three-way flag merge.
      flags,
      size: data.length,
      internalDate: Number.isFinite(internalDate) ? internalDate : null,
      partial: headersOnly,
      messageId: normalizeMessageId(messageIdOf(data) ?? ''),
    },
    serverBytes,
  };
}

/**
 * Fetches the bodies of messages stored headers-only (all of the folder's, or the UIDs given)
 * and puts each in place of its header-only file. Returns how many were completed.
 */
export async function completePartialMessages(
  ctx: Omit<DownloadContext, 'headersOnly'>,
  onlyUids?: ReadonlySet<number>,
): Promise<DownloadResult> {
  const { client, state, folder, local } = ctx;
  const result: DownloadResult = { downloaded: 0, bytes: 0, skipped: 0, notReceived: [] };
  if (!state.hasPartialMessages(folder.id)) return result;
  const partial = state
    .messages(folder.id)
    .filter((row) => row.partial && (!onlyUids || onlyUids.has(row.uid)));
  if (partial.length === 0) return result;
  const files = await local.scan();
  const byUid = new Map(partial.map((row) => [row.uid, row]));
  for (let start = 0; start < partial.length && !ctx.signal.aborted; start += FETCH_CHUNK_UIDS) {
    const chunk = partial.slice(start, start + FETCH_CHUNK_UIDS).map((row) => row.uid);
    for await (const message of client.fetch(
      chunk.join(','),
      { uid: true, source: true },
      { uid: true },
    )) {
      const row = byUid.get(message.uid);
      const file = row && files.get(row.base);
      if (!row || !file || !message.source) continue; // deleted meanwhile: nothing to complete
      const serverBytes = message.source.length;
      const data = crlfToLfInPlace(message.source);
      // Gone meanwhile (the pass beside a pane's fetch took it away): nothing completed.
      if (!(await local.replaceContent(file, data))) continue;
      state.markComplete(folder.id, row.uid, data.length);
      result.downloaded += 1;
      result.bytes += serverBytes;
      ctx.onMessage(result.downloaded, partial.length, serverBytes);
    }
  }
  await fsyncDirectory(path.join(local.dir, 'cur'));
  return result;
}

/** UIDs of the chunk whose RFC822.SIZE is above STREAM_ABOVE_BYTES. */
async function largeMessages(client: ImapFlow, uids: readonly number[]): Promise<Set<number>> {
  const large = new Set<number>();
  for await (const m of client.fetch(uids.join(','), { uid: true, size: true }, { uid: true })) {
    if ((m.size ?? 0) > STREAM_ABOVE_BYTES) large.add(m.uid);
  }
  return large;
}
