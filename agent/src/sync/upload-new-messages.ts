/**
 * Step: APPEND messages that appeared in the Maildir (another client saved a draft, a filter
 * delivered, the user copied files in), exactly once, without altering them.
 *
 * Before each APPEND the intent is journalled (file, hash and size of the bytes sent, the
 * folder's UIDNEXT). The UID comes back with APPENDUID (UIDPLUS) and is recorded in the same
 * transaction that clears the journal. After a crash in between, a journalled file is looked
 * for among the UIDs the server gave out since (same size, then same hash) before anything
 * is sent again. No marker header is added: the bytes on the server are the file's bytes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import { classifyError, SyncFailure } from './errors.js';
import type { SyncLogger } from './logger.js';
import { crlfToLf, lfToCrlf, sizeBeforeCrlfToLf } from './maildir/crlf.js';
import { imapFlagsOfLetters, keywordsWithoutLetter } from './maildir/flags.js';
import {
  MESSAGE_FILE_MAX_BYTES,
  type LocalFile,
  type MaildirFolder,
} from './maildir/maildir-folder.js';
import {
  normalizeMessageId,
  type FolderState,
  type PendingAppend,
  type StateDb,
} from './state-db.js';
import { messageIdOf } from './message-id.js';
import { flagsTheServerStores } from './reconcile-folder.js';
import { alterableBytes, asServed, looseDigest, mayBeAltered } from './served-bytes.js';

export interface UploadContext {
  client: ImapFlow;
  state: StateDb;
  folder: FolderState;
  local: MaildirFolder;
  serverPath: string;
  /**
   * A lower bound for the UIDs of our next APPENDs: UIDNEXT when the folder was selected,
   * raised past each APPEND recorded (UIDs only grow), so that looking for one reads only
   * what came since.
   */
  uidNextAtOpen: number | null;
  log: SyncLogger;
  signal: AbortSignal;
}

/** Settles APPENDs a crash left unconfirmed; returns how many were found on the server. */
export async function recoverPendingAppends(ctx: UploadContext): Promise<number> {
  let found = 0;
  const pendings = ctx.state.pendingAppends(ctx.folder.id);
  const files = pendings.length > 0 ? await ctx.local.scan() : new Map<string, LocalFile>();
  for (const pending of pendings) {
    const file = files.get(pending.base);
    const read = file ? await ctx.local.readMessage(file) : null;
    const data = read?.kind === 'message' ? read.data : null;
    const uid = await findAppended(ctx, pending, data ?? undefined);
    let size: number | null = null;
    if (uid !== null && file && data) {
      size = (await keepServerCopy(ctx, uid, file, data, lfToCrlf(data))).length;
    }
    const stat = file
      ? await fs.stat(path.join(ctx.local.dir, file.subdir, file.name)).catch(() => null)
      : null;
    ctx.state.settleAppend(
      ctx.folder.id,
      pending.base,
      uid === null
        ? null
        : {
            uid,
            base: pending.base,
            flags: imapFlagsOfLetters(file?.letters ?? ''),
            size: size ?? stat?.size ?? 0,
            internalDate: stat?.mtimeMs ?? null,
          },
    );
    if (uid !== null) found += 1;
    ctx.log.info(
      { base: pending.base, uid },
      uid === null ? 'interrupted APPEND had not landed' : 'interrupted APPEND had landed',
    );
  }
  return found;
}

/**
 * APPENDs every message file the state does not know; returns how many were uploaded. A
 * message the server refuses (too big, a byte it will not take) is reported through
 * `onRefused` and the others still go: the server's rules win, but the file stays here and
 * is offered again next time. A full mailbox ends the uploads of this folder (the rest would
 * be refused too); anything else (a lost connection) ends the folder's sync.
 */
export async function uploadNewMessages(
  ctx: UploadContext,
  onUploaded: () => void,
  onRefused: (failure: SyncFailure) => void,
): Promise<UploadResult> {
  const known = ctx.state.messageBases(ctx.folder.id);
  let files = await ctx.local.scan();
  // A name that is not UTF-8 reads with U+FFFD in it, and cannot be opened by that name.
  if ([...files.values()].some((file) => file.name.includes('\uFFFD'))) {
    for (const { from, to } of await ctx.local.renameUndecodableNames())
      ctx.log.warn({ from, to }, 'file name not UTF-8: renamed to be uploaded');
    files = await ctx.local.scan();
  }
  const separated = await ctx.local.separateSharedBases(files, (base) =>
    ctx.state.sizeOfBase(ctx.folder.id, base),
  );
  for (const [base, file] of separated)
    ctx.log.warn(
      { file: `${file.subdir}/${file.name}`, base },
      'file shared its name (the part before the flags) with another: renamed to be a message of its own',
    );
  let uploaded = 0;
  let leftOut = 0;
  for (const [base, file] of files) {
    if (ctx.signal.aborted) break;
    if (known.has(base)) continue;
    try {
      const outcome = await appendOne(ctx, base, file);
      if (outcome === 'too-large') {
        // The file's own fault, not the folder's: reported, and the rest of the folder goes.
        onRefused(
          new SyncFailure(
            'LOCAL_IO',
            `${file.name} is too large to upload (over ${MESSAGE_FILE_MAX_BYTES} bytes)`,
            ctx.folder.path,
            'Move this file out of the Maildir: no mail server takes a message this large. It is kept, and offered again at every sync while it is there.',
          ),
        );
      }
      if (outcome !== 'sent') {
        if (outcome === 'left-may-change' || outcome === 'too-large') leftOut += 1;
        continue;
      }
    } catch (err) {
      const failure = classifyError(err, ctx.folder.path);
      if (!REFUSALS.has(failure.code)) throw failure;
      ctx.log.warn({ base, code: failure.code, err: failure.message }, 'APPEND refused');
      onRefused(
        new SyncFailure(
          failure.code,
          `The server refused to store ${file.name}: ${failure.message}`,
          ctx.folder.path,
        ),
      );
      if (failure.code === 'QUOTA_EXCEEDED') break;
      continue;
    }
    uploaded += 1;
    onUploaded();
  }
  return { uploaded, leftOut };
}

export interface UploadResult {
  uploaded: number;
  /**
   * Entries new to the state that were not sent and may become messages without their
   * directory changing: an empty file (filled in place), an unreadable one (its permissions
   * fixed), a link (its target appears), one gone meanwhile. The folder cannot be taken as
   * in sync while there are any. A directory, FIFO or socket is not one of them.
   */
  leftOut: number;
}

/** A refused APPEND stored nothing: the message failed, not the connection or the folder. */
const REFUSALS = new Set(['SERVER_NO', 'SERVER_BAD', 'QUOTA_EXCEEDED']);

/**
 * 'sent', or why not: the entry is no message to send (see MaildirFolder.readMessage) and
 * will stay so until its directory changes ('left'), or may become one without that (an
 * empty file filled in place, a file made readable, a link whose target appears, a file
 * too large to send cut down: 'too-large' is also reported to the user).
 */
type AppendOutcome = 'sent' | 'left' | 'left-may-change' | 'too-large';

async function appendOne(
  ctx: UploadContext,
  base: string,
  file: LocalFile,
): Promise<AppendOutcome> {
  const read = await ctx.local.readMessage(file);
  if (read.kind === 'gone') {
    ctx.log.info({ file: `${file.subdir}/${file.name}` }, 'new file gone before upload; next time');
    return 'left-may-change';
  }
  if (read.kind === 'not-a-file') {
    ctx.log.warn(
      { file: `${file.subdir}/${file.name}`, type: read.type },
      'entry in the Maildir is not a message file; left alone',
    );
    // Only a link's target can change without the directory changing.
    return read.type.includes('symbolic link') ? 'left-may-change' : 'left';
  }
  if (read.kind === 'unreadable') {
    ctx.log.warn(
      { file: `${file.subdir}/${file.name}`, code: read.code },
      'message file in the Maildir cannot be read (its permissions); left alone until it can',
    );
    return 'left-may-change';
  }
  if (read.kind === 'too-large') {
    ctx.log.warn(
      { file: `${file.subdir}/${file.name}`, size: read.size },
      'message file too large to read and upload; left alone',
    );
    return 'too-large';
  }
  const { data, mtime } = read;
  if (data.length === 0) {
    // No message at all (servers refuse one, RFC 5322 wants a header): asking again at every
    // pass would only fail the run each time.
    ctx.log.warn({ file: `${file.subdir}/${file.name}` }, 'empty file in the Maildir; left alone');
    return 'left-may-change'; // it may be filled in place
  }
  const wire = lfToCrlf(data);
  const pending: PendingAppend = {
    base,
    sha256: sha256(wire),
    size: wire.length,
    uidNextBefore: ctx.uidNextAtOpen ?? 1,
  };
  const letterFlags = imapFlagsOfLetters(file.letters);
  const carried = flagsFromElsewhere(ctx, base, data.length);
  const flags = [...new Set([...letterFlags, ...carried])];
  ctx.state.journalAppend(ctx.folder.id, pending);
  let uid: number | null;
  try {
    const response = await ctx.client.append(ctx.serverPath, wire, flags, mtime);
    // A UID the server gave (APPENDUID) is the message's; one read from the folder's count
    // (imapflow's guess without UIDPLUS) may be another client's delivery: the bytes decide.
    uid =
      response && response.uid && response.uidValidity
        ? response.uid
        : await findAppended(ctx, pending, data);
  } catch (err) {
    const failure = classifyError(err, ctx.folder.path);
    // A refusal means nothing was stored; a lost connection leaves it unknown: keep the journal.
    if (REFUSALS.has(failure.code)) ctx.state.settleAppend(ctx.folder.id, base, null);
    throw failure;
  }
  if (uid === null) {
    ctx.log.warn(
      { base },
      'APPEND acknowledged but the message was not found; will look again next time',
    );
    return 'sent';
  }
  ctx.uidNextAtOpen = Math.max(ctx.uidNextAtOpen ?? 1, uid + 1);
  const stored = await keepServerCopy(ctx, uid, file, data, wire);
  ctx.state.settleAppend(ctx.folder.id, base, {
    uid,
    base,
    // The base is what this side holds: a flag with a letter that came from elsewhere is the
    // server's alone until the next pass pulls it into the file's name.
    // A flag the server does not store (not in its PERMANENTFLAGS) stays this side's alone.
    flags: [...new Set([...letterFlags, ...keywordsWithoutLetter(carried)])].filter(
      flagsTheServerStores(ctx.client),
    ),
    size: stored.length,
    internalDate: mtime.getTime(),
    messageId: normalizeMessageId(messageIdOf(stored) ?? ''),
  });
  if (carried.length > 0) ctx.state.forgetRemovedKeywords(ctx.folder.id, base);
  return 'sent';
}

/**
 * The flags the file had as a message of another folder (moved or copied here by another
 * mail client, its name carries only the flags with a letter): the keywords of a copy held
 * there, and what was kept of a message deleted there because its file left (its keywords
 * and the flags the server added meanwhile). A server that takes no new keywords here would
 * refuse the whole APPEND, so keywords are added only where its PERMANENTFLAGS allow them.
 */
function flagsFromElsewhere(ctx: UploadContext, base: string, size: number): string[] {
  const { held, removed } = ctx.state.flagsOfFileElsewhere(ctx.folder.id, base, size);
  const found = [...new Set([...keywordsWithoutLetter(held), ...removed])];
  if (found.length === 0) return [];
  const mailbox = ctx.client.mailbox;
  if (!mailbox || mailbox.path !== ctx.serverPath) return [];
  const allowed = mailbox.permanentFlags ?? new Set<string>();
  return found.filter(
    (f) => (f.startsWith('\\') && f !== '\\Recent') || allowed.has('\\*') || allowed.has(f),
  );
}

/**
 * The UID of a journalled message on the server, by size then content hash; null if absent.
 * Given the file's bytes now, also one that differs from what was sent only in bytes a server
 * may change (see `mayBeAltered`), of a size near it or with its Message-ID; and one the file
 * already holds as stored from the server (a crash after `keepServerCopy`, before the UID
 * was recorded).
 */
async function findAppended(
  ctx: UploadContext,
  pending: PendingAppend,
  data?: Buffer,
): Promise<number | null> {
  const wire = data ? lfToCrlf(data) : null;
  const loose = wire && mayBeAltered(wire) ? alterableBytes(wire) : 0;
  const messageId = wire ? messageIdOf(wire) : null;
  // The size of the server copy the file was stored from: every LF was a CRLF there.
  const storedSize = data ? sizeBeforeCrlfToLf(data) : -1;
  const exact: number[] = [];
  const near: number[] = [];
  const stored: number[] = [];
  const sameId: number[] = [];
  const answers: Array<{ uid: number; size?: number; headers?: Buffer }> = [];
  for await (const message of ctx.client.fetch(
    `${pending.uidNextBefore}:*`,
    { uid: true, size: true, ...(messageId !== null ? { headers: ['message-id'] } : {}) },
    { uid: true },
  ))
    if (message.uid >= pending.uidNextBefore) answers.push(message);
  // Those the state holds are other messages (only those UIDs are looked up).
  const known = new Set(
    ctx.state
      .flagRowsOf(
        ctx.folder.id,
        answers.map((m) => m.uid),
      )
      .map((row) => row.uid),
  );
  for (const message of answers) {
    if (known.has(message.uid)) continue;
    if (message.size === pending.size) exact.push(message.uid);
    else if (
      message.size !== undefined &&
      message.size < pending.size &&
      message.size >= pending.size - loose
    )
      near.push(message.uid);
    else if (message.size === storedSize) stored.push(message.uid);
    else if (messageId !== null && messageIdOf(message.headers) === messageId)
      sameId.push(message.uid);
  }
  const sourceOf = async (uid: number) =>
    ((await ctx.client.fetchOne(String(uid), { uid: true, source: true }, { uid: true })) || null)
      ?.source ?? null;
  for (const uid of exact) {
    const source = await sourceOf(uid);
    if (source && sha256(source) === pending.sha256) return uid;
  }
  if (!data || !wire) return null;
  const served = asServed(data);
  for (const uid of stored) {
    const source = await sourceOf(uid);
    if (source && crlfToLf(source).equals(served)) return uid;
  }
  // Stored with bytes changed, or under a size the server reports otherwise than it serves
  // (some estimate RFC822.SIZE): the same bytes but for those a server may change.
  const wanted = looseDigest(wire);
  for (const uid of [...(loose > 0 ? [...exact, ...near] : []), ...sameId]) {
    const source = await sourceOf(uid);
    if (source && looseDigest(source) === wanted) return uid;
  }
  return null;
}

/**
 * After an APPEND whose bytes a server may alter: if its copy differs from what was sent,
 * the file takes the server's bytes (with LF line ends, same name, same time), so that both
 * sides hold one message and a later rebuild or renumbering matches them. Returns what the
 * file holds.
 */
async function keepServerCopy(
  ctx: UploadContext,
  uid: number,
  file: LocalFile,
  data: Buffer,
  wire: Buffer,
): Promise<Buffer> {
  if (!mayBeAltered(wire)) return data;
  const message = await ctx.client.fetchOne(
    String(uid),
    { uid: true, source: true },
    { uid: true },
  );
  const source = message ? message.source : undefined;
  // Served as sent, but for the 0x80 of each NUL: the server kept the bytes.
  if (!source || source.equals(asServed(wire))) return data;
  const stored = crlfToLf(source);
  const { mtime } = await fs.stat(path.join(ctx.local.dir, file.subdir, file.name));
  const replaced = await ctx.local.replaceContent(file, stored);
  if (replaced)
    await fs.utimes(path.join(ctx.local.dir, replaced.subdir, replaced.name), mtime, mtime);
  ctx.log.warn(
    { file: `${file.subdir}/${file.name}`, uid, sent: wire.length, stored: source.length },
    'the server stored the message with bytes changed (a NUL or a CR that ends no line); the file now holds its copy',
  );
  return stored;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
