/**
 * Step: download the messages the server has above the highest UID we hold, in UID order,
 * in durable batches (see MaildirFolder). Bodies are stored as the server sent them with
 * CRLF turned into LF; flags go into the file name's info suffix.
 */
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import { crlfToLf } from './maildir/crlf.js';
import { maildirLetters } from './maildir/flags.js';
import { type MaildirFolder, type PendingFile, uniqueBaseName } from './maildir/maildir-folder.js';
import type { FolderState, MessageRow, StateDb } from './state-db.js';
import type { SyncLogger } from './logger.js';
import { SyncFailure } from './errors.js';

/** A batch is flushed (fsync, commit, rename) at whichever limit comes first. */
const BATCH_MAX_MESSAGES = 500;
const BATCH_MAX_BYTES = 32 * 1024 * 1024;
/** UIDs per FETCH command: long enough to stream, short enough to resume cheaply. */
const FETCH_CHUNK_UIDS = 2000;

export interface DownloadContext {
  client: ImapFlow;
  state: StateDb;
  folder: FolderState;
  local: MaildirFolder;
  signal: AbortSignal;
  log: SyncLogger;
  /** Called after every stored message with the running count and the bytes it added. */
  onMessage(index: number, total: number, bytes: number): void;
}

export interface DownloadResult {
  downloaded: number;
  bytes: number;
  skipped: number;
}

/** UIDs above the highest we hold, ascending; no command at all when UIDNEXT did not move. */
export async function listNewUids(
  client: ImapFlow,
  uidNext: number | null,
  highestKnown: number,
): Promise<number[]> {
  if (uidNext !== null && uidNext <= highestKnown + 1) return [];
  const found = await client.search({ uid: `${highestKnown + 1}:*` }, { uid: true });
  // "N:*" always matches the highest UID even when it is below N: filter it out.
  return (found || []).filter((uid) => uid > highestKnown).sort((a, b) => a - b);
}

export async function downloadNewMessages(
  ctx: DownloadContext,
  uids: readonly number[],
): Promise<DownloadResult> {
  const { client, state, folder, local, log } = ctx;
  const result: DownloadResult = { downloaded: 0, bytes: 0, skipped: 0 };
  if (uids.length === 0) return result;

  let batch: PendingFile[] = [];
  let rows: MessageRow[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await local.writeToTmp(batch);
    state.recordMessages(folder.id, rows);
    await local.publish(batch);
    batch = [];
    rows = [];
    batchBytes = 0;
  };

  try {
    for (let start = 0; start < uids.length && !ctx.signal.aborted; start += FETCH_CHUNK_UIDS) {
      const chunk = uids.slice(start, start + FETCH_CHUNK_UIDS);
      const messages = client.fetch(
        chunk.join(','),
        { uid: true, flags: true, internalDate: true, source: true },
        { uid: true },
      );
      for await (const message of messages) {
        if (ctx.signal.aborted) break;
        const file = toPendingFile(message);
        if (!file) {
          result.skipped += 1;
          log.warn({ uid: message.uid }, 'server sent no body for this message; skipped');
          continue;
        }
        batch.push(file.pending);
        rows.push(file.row);
        batchBytes += file.pending.data.length;
        result.downloaded += 1;
        result.bytes += file.serverBytes;
        ctx.onMessage(result.downloaded, uids.length, file.serverBytes);
        if (batch.length >= BATCH_MAX_MESSAGES || batchBytes >= BATCH_MAX_BYTES) await flush();
      }
    }
  } finally {
    // What was fetched before a cancel or a lost connection is kept: it is already paid for.
    await flush();
  }
  if (ctx.signal.aborted) throw new SyncFailure('CANCELLED', 'Sync cancelled', folder.path);
  return result;
}

function toPendingFile(
  message: FetchMessageObject,
): { pending: PendingFile; row: MessageRow; serverBytes: number } | null {
  if (!message.source) return null;
  const data = crlfToLf(message.source);
  const flags = [...(message.flags ?? [])].filter((f) => f !== '\\Recent');
  const base = uniqueBaseName(data.length);
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
    },
    serverBytes: message.source.length,
  };
}
