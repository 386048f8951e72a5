/**
 * One folder's sync: make sure its directory exists, open it on the server, repair what an
 * interrupted run left, then run the content steps the MAPISIB flags ask for.
 */
import type { ImapFlow } from 'imapflow';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  completePartialMessages,
  type DownloadContext,
  downloadNewMessages,
  type DownloadResult,
  listNewUids,
  STREAM_ABOVE_BYTES,
} from './download-new-messages.js';
import { BodyLane } from './body-lane.js';
import type { ImapProtocolLog } from './imap-session.js';
import { openFolder } from './open-folder.js';
import { reconcileFolder, type ReconcileResult } from './reconcile-folder.js';
import { adoptFilesOfNewMessages, rematchFolder, type RematchResult } from './rematch-folder.js';
import {
  answersReadBy,
  flagsDifferFromRecorded,
  heldUidsOf,
  readFlagAnswersLike,
  recordableAnswerSets,
  remoteChanges,
  sequenceSetOf,
  uidsMatching,
  uidsOf,
  type FlagAnswers,
  type HeldUids,
  type RemoteChanges,
} from './remote-changes.js';
import { recoverPendingAppends, uploadNewMessages } from './upload-new-messages.js';
import { classifyError, SyncFailure } from './errors.js';
import type { RemoteFolder, ServerCounters } from './list-folders.js';
import type { SyncLogger } from './logger.js';
import { maildirLetters } from './maildir/flags.js';
import { mergeChangesNothing } from './merge-flags.js';
import { folderMark, SETTLED_AFTER_MS_FINE, type FolderMark } from './maildir/folder-mark.js';
import { filesInOtherFolders } from './maildir/files-elsewhere.js';
import { folderDirectory } from './maildir/folder-path.js';
import { openLocalFolder } from './maildir/open-local-folder.js';
import { MaildirFolder } from './maildir/maildir-folder.js';
import { ListingDigest, readListingDigest } from './maildir/listing-digest.js';
import type { FlagRow, FolderState, StateDb } from './state-db.js';

export interface FolderSyncInput {
  client: ImapFlow;
  state: StateDb;
  accountId: string;
  maildirRoot: string;
  /** Whether the account's config syncs a folder (by display path); all when absent. */
  folderSynced?: (path: string) => boolean;
  /**
   * Folders this run syncs (display paths), also those the state does not know yet: one made
   * here since the last pass and created on the server by this run uploads what was moved in.
   */
  runFolders?: readonly string[];
  /**
   * Syncs create on the server the folders made here (upload hierarchy): a file moved into
   * one, even one made after this run listed the folders, reaches the server with it.
   */
  foldersMadeHereUploaded?: boolean;
  remote: RemoteFolder;
  /** This run's listing found the folder's directory here. */
  listedHere?: boolean;
  downloadContents: boolean;
  uploadContents: boolean;
  headersOnly: boolean;
  deletePolicy: 'expunge' | 'trash' | 'keep-remote';
  trashPath: string | null;
  signal: AbortSignal;
  log: SyncLogger;
  onMessage(index: number, total: number, bytes: number): void;
  onUploaded(): void;
  /**
   * A message the server would not store, or would not send; the folder's sync goes on, and
   * is not vouched for in sync.
   */
  onRefused(failure: SyncFailure): void;
  /**
   * A new session in place of `client`, for the caller to use from now on. Given, a large
   * download turns `client`'s connection into a lane (body-lane.ts) and the pass goes on
   * with a new session; without it, everything goes over `client`.
   */
  renewSession?: () => Promise<ImapFlow>;
  /** Downloads of at least this many messages take a lane (default BULK_DOWNLOAD_FROM). */
  laneFrom?: number;
  protocolLog?: ImapProtocolLog;
}

/**
 * From how many new messages a download is worth a lane: it costs a login and a SELECT on a
 * new session after it, and saves most of the client's CPU time per message.
 */
export const BULK_DOWNLOAD_FROM = 64;

export interface FolderSyncResult extends ReconcileResult {
  downloaded: number;
  uploaded: number;
  bytes: number;
  created: boolean;
  /** Messages matched again after the server renumbered the folder. */
  rematched: number;
  /** Set when the server renumbered the folder (new UIDVALIDITY) since the last sync. */
  renumbered: { from: number; to: number; toDownload: number } | null;
  /** Nothing changed on either side since the folder was last left in sync: SELECT only. */
  unchanged: boolean;
  folderId: number;
}

export async function syncFolder(input: FolderSyncInput): Promise<FolderSyncResult> {
  const { state, remote, log } = input;
  let { client } = input;
  const local = openLocalFolder(
    state,
    { id: input.accountId, maildir: input.maildirRoot },
    remote.path,
    { create: true },
  );
  const dir = local.dir;
  const folder = state.folder(input.accountId, remote.path, remote.serverPath, remote.delimiter);
  // Created here in this pass: counted once (a folder pushed to the server already exists).
  const created = !existsSync(path.join(dir, 'cur'));
  const result: FolderSyncResult = {
    downloaded: 0,
    uploaded: 0,
    bytes: 0,
    created,
    flagsPulled: 0,
    flagsPushed: 0,
    expungedLocal: 0,
    expungedRemote: 0,
    rematched: 0,
    renumbered: null,
    unchanged: false,
    folderId: folder.id,
    deletionsPending: 0,
    trashed: 0,
  };
  // A synced folder whose directory vanished was deleted here on purpose or by accident:
  // recreating it empty would read as "every message deleted" and empty the server folder.
  if (created && folder.uidValidity !== null && state.messages(folder.id).length > 0) {
    throw new SyncFailure(
      'FOLDER_GONE',
      `The local folder "${remote.path}" was removed; nothing is deleted on the server because of it`,
      remote.path,
    );
  }
  // Found here when the run listed the folders, gone now: removed (or renamed) here while
  // the run went on. Made again, it would come back on both sides; a folder this run did not
  // make on the server is deleted there by the next run (it is then a folder deleted here).
  if (created && input.listedHere) {
    // Opening it made its directory again: taken away if nothing else was put there.
    await fs.rmdir(dir).catch(() => undefined);
    // Never passed yet, so this run made it on the server moments ago: taken back there too
    // while it holds nothing, or the next run would take it for a folder new on the server
    // (one a crash left without its directory) and make it here again.
    if (folder.uidValidity === null)
      await takeBackIfEmpty(client, remote.serverPath, state, folder.id);
    throw new SyncFailure(
      'FOLDER_GONE',
      `The local folder "${remote.path}" was removed while syncing; not made again`,
      remote.path,
    );
  }
  local.ensure();
  if (!input.downloadContents && !input.uploadContents) return result;

  // EXAMINE when only reading, so other clients keep their \Recent.
  const opened = await openFolder(client, remote.serverPath, folder, !input.uploadContents);
  // Taken before anything reads the directories: a change made while this pass runs shows
  // up as a different mark next time.
  const mark = await folderMark(dir);
  const wantsFullBodies = input.downloadContents && !input.headersOnly;
  const unchanged = unchangedSinceLastPass(state, folder, opened, mark, wantsFullBodies);
  if (
    unchanged === true &&
    // QRESYNC reported no change during the SELECT (the counters already say so).
    (!opened.qresync || (opened.qresync.flags.size === 0 && opened.qresync.vanished.size === 0))
  ) {
    // Its "last synced" time is written with the other unchanged folders' (one commit).
    result.unchanged = true;
    return result;
  }
  // Without CONDSTORE only every message's flags can tell: the same answers as those the
  // last pass left the state equal to, nothing changed. Else this pass goes on with them.
  let answersAtOpen: FlagAnswers | null = null;
  if (unchanged === 'ask the flags') {
    const highestUid = state.highestUid(folder.id);
    // One search for messages whose flags differ from the recorded answers, where kept.
    const differ = folder.flagAnswerSets
      ? await flagsDifferFromRecorded(
          client,
          opened,
          highestUid,
          folder.flagAnswers!,
          folder.flagAnswerSets,
        )
      : null;
    if (differ === false) {
      result.unchanged = true;
      return result;
    }
    answersAtOpen = await readFlagAnswersLike(client, opened, highestUid, folder.flagAnswers!);
    if (answersAtOpen?.digest === folder.flagAnswers) {
      result.unchanged = true;
      return result;
    }
  }
  let refused = false;
  const onRefused = (failure: SyncFailure) => {
    refused = true;
    input.onRefused(failure);
  };
  const repaired = await repairInterruptedDeliveries(local, state, folder.id, log);
  let rematched: RematchResult | null = null;
  const renumbered = folder.uidValidity !== null && folder.uidValidity !== opened.uidValidity;
  let firstSightWithFiles = false;
  if (folder.uidValidity === null) {
    firstSightWithFiles = (await local.scan()).size > 0;
    // A folder seen for the first time, empty on both sides here: its listing is known like
    // one vouched for, and the pass can vouch for what it delivered by its digest instead of
    // reading every file and row back (at 30,000 messages ~15 MB of heap at once).
    if (!firstSightWithFiles && state.messageCount(folder.id) === 0)
      local.expectListing(ListingDigest.empty());
  }
  if (renumbered || firstSightWithFiles) {
    rematched = await rematchFolder({
      client,
      state,
      folderId: folder.id,
      local,
      uidValidity: opened.uidValidity,
      exists: opened.exists,
      log,
    });
    result.rematched = rematched.matched;
    if (renumbered) {
      result.renumbered = {
        from: folder.uidValidity!,
        to: opened.uidValidity,
        toDownload: rematched.unmatchedServerUids.length,
      };
    }
  }
  const upload = {
    client,
    state,
    folder,
    local,
    serverPath: remote.serverPath,
    uidNextAtOpen: opened.uidNext,
    log,
    signal: input.signal,
  };
  // Before looking for new UIDs: an APPEND of ours that landed is not a new server message.
  await recoverPendingAppends(upload);

  // The Maildir is as the last pass that left the folder in sync vouched for: its mark, taken
  // before this pass touched anything, is the one recorded then, and no interrupted delivery
  // had to be finished. So every message held has its file, with its flags' letters, and
  // there is no other file: only the server side can have moved, and the directories need no
  // listing unless it did.
  const localAsVouched =
    !repaired && rematched === null && isRecordedMark(folder, mark) && mark.settled;
  // Its listing then is the one recorded with the mark: this pass's own changes move it on.
  if (localAsVouched) local.expectListing(ListingDigest.parse(folder.listingDigest));
  // What we held before this pass, ascending UIDs. With the Maildir as vouched, only the
  // rows of messages the server reports changed are read, once it has said which.
  let rows = localAsVouched ? null : state.flagRows(folder.id);
  const held = rows ? heldUidsOf(rows.map((r) => r.uid)) : heldUidsInState(state, folder.id);
  const highestKnown = held.highest;
  let newUids = rematched
    ? rematched.unmatchedServerUids
    : await listNewUids(client, opened.uidNext, highestKnown, {
        uidNext: folder.uidValidity === opened.uidValidity ? folder.uidNext : null,
        held: (uids) => new Set(state.flagRowsOf(folder.id, uids).map((row) => row.uid)),
      });
  // Files without rows beside new messages: the state may have lost rows it had. A Maildir
  // as vouched for has no file the state does not know, and a folder seen for the first
  // time had no rows to lose (its files, if any, were matched above).
  if (!rematched && !localAsVouched && folder.uidValidity !== null && newUids.length > 0)
    newUids = await adoptFilesOfNewMessages({
      client,
      state,
      folderId: folder.id,
      local,
      uidValidity: opened.uidValidity,
      newUids,
      log,
    });
  /** What a download needs, on the session the pass is on now. */
  /** UIDs a download of this pass asked for and did not store. */
  const notReceived: number[] = [];
  const downloadContextNow = () => ({
    client,
    state,
    folder,
    local,
    signal: input.signal,
    log,
    onMessage: input.onMessage,
  });
  if (input.downloadContents) {
    const downloadContext = downloadContextNow();
    const renew = input.renewSession;
    const overLane =
      renew !== undefined &&
      !input.headersOnly &&
      newUids.length >= (input.laneFrom ?? BULK_DOWNLOAD_FROM) &&
      !client.idling;
    const downloaded = overLane
      ? await downloadOverLane({ ...downloadContext, headersOnly: false }, newUids, {
          renew,
          protocolLog: input.protocolLog,
          reopen: async (fresh) => {
            client = fresh;
            upload.client = fresh;
            downloadContext.client = fresh;
            // Read-only as before; the first SELECT's answers still stand for this pass.
            const again = await fresh.mailboxOpen(remote.serverPath, {
              readOnly: !input.uploadContents,
            });
            if (Number(again.uidValidity) !== opened.uidValidity) {
              throw new SyncFailure(
                'UIDVALIDITY_CHANGED',
                `The server renumbered "${remote.path}" during the sync; the next sync matches its messages again`,
                remote.path,
              );
            }
          },
        })
      : await downloadNewMessages({ ...downloadContext, headersOnly: input.headersOnly }, newUids);
    result.downloaded = downloaded.downloaded;
    result.bytes = downloaded.bytes;
    notReceived.push(...downloaded.notReceived);
    if (!input.headersOnly) {
      // A full sync completes what earlier headers-only syncs left partial.
      const completed = await completePartialMessages(downloadContext);
      result.downloaded += completed.downloaded;
      result.bytes += completed.bytes;
    }
  }
  const changes = rematched
    ? { flags: rematched.serverFlags, vanished: new Set<number>() }
    : await remoteChanges(
        client,
        opened,
        folder.highestModseq,
        held,
        newUids.length,
        'cheaper',
        // Recorded answers speak for the state only while the Maildir is as then vouched
        // for: a pass cut short after pushing local changes leaves a moved mark.
        {
          prior: answersAtOpen,
          recorded: isRecordedMark(folder, mark) ? folder.flagAnswers : null,
        },
      );
  rows ??= rowsNamedIn(state, folder.id, changes, held);
  Object.assign(
    result,
    await reconcileFolder({
      client,
      state,
      folderId: folder.id,
      local,
      rows,
      localAsVouched,
      remote: changes,
      downloadContents: input.downloadContents,
      uploadContents: input.uploadContents,
      deletePolicy: input.deletePolicy,
      trashPath: input.trashPath,
      filesMovedElsewhere: async (uids) => {
        const wanted = new Set(uids);
        const rows = state.messages(folder.id).filter((row) => wanted.has(row.uid));
        const found = await filesInOtherFolders(
          state,
          { id: input.accountId, maildir: input.maildirRoot },
          remote.path,
          rows,
          input.folderSynced,
          { run: input.runFolders, anyLocal: input.foldersMadeHereUploaded },
        );
        return new Set(rows.filter((row) => found.has(row.base)).map((row) => row.uid));
      },
      serverPath: remote.serverPath,
      log,
    }),
  );
  if (changes.omitted?.length) {
    log.warn(
      { count: changes.omitted.length, uids: changes.omitted.slice(0, 20) },
      'the server left messages out of its answer with every flag; a UID SEARCH says it still has them: kept as they were',
    );
  }
  // Those this pass has stored since (new UIDs below the highest held, from the last pass's
  // UIDNEXT on) are held now: fetched again, they would be stored twice.
  if (changes.unheld?.length) {
    const stored = new Set(state.flagRowsOf(folder.id, changes.unheld).map((row) => row.uid));
    changes.unheld = changes.unheld.filter((uid) => !stored.has(uid));
  }
  if (input.downloadContents && changes.unheld?.length) {
    // Left behind by an earlier pass (the server left them out of a FETCH, or refused them):
    // new messages are only looked for above the highest held, so this is their way in.
    log.warn(
      { count: changes.unheld.length, uids: changes.unheld.slice(0, 20) },
      'the server has messages below the highest held that were never stored; fetching them',
    );
    const late = await downloadNewMessages(
      { ...downloadContextNow(), headersOnly: input.headersOnly },
      changes.unheld,
    );
    result.downloaded += late.downloaded;
    result.bytes += late.bytes;
    notReceived.push(...late.notReceived);
  }
  if (notReceived.length > 0) {
    const owed = await stillOnServer(client, notReceived);
    if (owed.length > 0) {
      log.warn(
        { count: owed.length, uids: owed.slice(0, 20) },
        'the server did not send messages it still has when asked; the next pass asks again',
      );
      onRefused(
        new SyncFailure(
          'MESSAGE_UNAVAILABLE',
          `The server did not send ${owed.length === 1 ? 'a message' : `${owed.length} messages`} of "${remote.path}" when asked (UID ${owed.slice(0, 5).join(', ')}${owed.length > 5 ? ', …' : ''})`,
          remote.path,
        ),
      );
    }
  }
  // A Maildir as vouched for holds no file the state does not know: nothing to upload.
  let leftOut = 0;
  if (input.uploadContents && !localAsVouched)
    ({ uploaded: result.uploaded, leftOut } = await uploadNewMessages(
      upload,
      input.onUploaded,
      onRefused,
    ));
  // Both directions ran and nothing was left for later: the next pass may compare against
  // this one. Anything else (one direction, a refused message, a file left out, deletions
  // kept pending) leaves work that only a full pass finds, so no mark is kept.
  const leftInSync =
    input.downloadContents &&
    input.uploadContents &&
    !rematched &&
    !refused &&
    leftOut === 0 &&
    result.deletionsPending === 0 &&
    !input.signal.aborted;
  const vouched = leftInSync ? await markAfterPass(local, state, folder.id, mark) : null;
  // The state's flags are now the answers read, unless this pass changed the server since it
  // asked (then the same answers could come back after another client undid it).
  const answersStand = leftInSync && result.flagsPushed === 0 && result.expungedRemote === 0;
  state.markFolderSynced(folder.id, {
    uidValidity: opened.uidValidity,
    uidNext: opened.uidNext,
    // Server changes not applied here (download off) must be reported again next time.
    highestModseq:
      input.downloadContents || rematched ? opened.highestModseq : folder.highestModseq,
    exists: opened.exists,
    localMark: vouched?.mark ?? null,
    listingDigest: vouched?.listing ?? null,
    flagAnswers: answersStand ? (changes.answers?.digest ?? null) : null,
    flagAnswerSets: answersStand ? recordableAnswerSets(changes.answers) : null,
  });
  return result;
}

/**
 * The longest a pass waits to vouch for its own changes: the settle window of file systems
 * with fine times, plus the millisecond Date.now() truncates away and rounding.
 */
const MAX_VOUCH_WAIT_MS = SETTLED_AFTER_MS_FINE + 5;

/** A Maildir mark to record, with the digest of the listing it vouches for. */
interface VouchedMark {
  mark: string;
  listing: string;
}

/**
 * The mark a pass that left the folder in sync may record: the one taken before it read the
 * directories, if nothing moved them since; else, when this pass changed them itself, a new
 * one — once it is settled (on a file system with fine times, once its clock has ticked past
 * the last change: a few ms, at most SETTLED_AFTER_MS_FINE) and a fresh listing shows exactly
 * what the state holds, so that no change by another program can hide behind it. Otherwise
 * none: the next pass is a full one.
 *
 * The fresh listing is checked by its digest when the pass began on the listing the last
 * pass vouched for and changed it only through `local` (which then knows the digest it must
 * have); else file by file against every state row.
 */
async function markAfterPass(
  local: MaildirFolder,
  state: StateDb,
  folderId: number,
  before: FolderMark | null,
): Promise<VouchedMark | null> {
  let after = await folderMark(local.dir, { probeClock: true });
  if (before === null || after === null) return null;
  if (after.mark === before.mark && before.settled) {
    // Nothing moved since the mark: the listing is the one this pass began with.
    const listing =
      local.expectedListing() ?? local.lastScannedListing() ?? (await readListingDigest(local.dir));
    return { mark: before.mark, listing: listing.toString() };
  }
  // Waited out only where it is short (a tick of the file system's clock, or at most the
  // settle window); the timer may fire a little early: check again.
  const giveUpAt = performance.now() + 2 * MAX_VOUCH_WAIT_MS;
  while (after && !after.settled) {
    if (after.settlesInMs > MAX_VOUCH_WAIT_MS || performance.now() > giveUpAt) return null;
    await sleep(after.settlesInMs);
    after = await folderMark(local.dir, { probeClock: true });
  }
  if (after === null) return null;
  // Listed after the mark was taken: a change before it shows here, one after it moves it.
  const expected = local.expectedListing();
  if (expected?.equals(await readListingDigest(local.dir))) {
    return { mark: after.mark, listing: expected.toString() };
  }
  const files = await local.scan();
  let rows = 0;
  for (const row of state.messageBasesAndFlags(folderId)) {
    rows += 1;
    const file = files.get(row.base);
    if (!file || !mergeChangesNothing(row.flags, file.letters, undefined)) return null;
  }
  if (rows !== files.size) return null;
  return { mark: after.mark, listing: local.lastScannedListing()!.toString() };
}

/**
 * The rows of the messages held before this pass whose flags or presence the server reports:
 * a few by their UIDs, or all of them where it reports (nearly) every message, as a server
 * without CONDSTORE does once any flag changed. Messages this pass downloaded are left out:
 * their flags were read with them.
 */
function rowsNamedIn(
  state: StateDb,
  folderId: number,
  changes: RemoteChanges,
  held: HeldUids,
): FlagRow[] {
  const uids = [...changes.flags.keys(), ...changes.vanished].filter((uid) => uid <= held.highest);
  if (uids.length > held.count / 4)
    return state.flagRows(folderId).filter((r) => r.uid <= held.highest);
  return state.flagRowsOf(folderId, uids);
}

/**
 * Of the UIDs a download asked for and did not store, those the server still has: the others
 * were expunged meanwhile, as happens. One UID SEARCH.
 */
async function stillOnServer(client: ImapFlow, uids: readonly number[]): Promise<number[]> {
  const answer = await uidsMatching(client, { uid: sequenceSetOf(uids) });
  // No answer: each is taken as still there (owed), which only costs a full pass.
  if (answer === null) return [...uids];
  const asked = new Set(uids);
  return [...uidsOf(answer)].filter((uid) => asked.has(uid)).sort((a, b) => a - b);
}

/** The UIDs held before this pass: count and highest now, the list only if asked for. */
function heldUidsInState(state: StateDb, folderId: number): HeldUids {
  const highest = state.highestUid(folderId);
  let all: number[] | null = null;
  return {
    count: state.messageCount(folderId),
    highest,
    all: () => (all ??= state.uids(folderId).filter((uid) => uid <= highest)),
  };
}

/** The Maildir's mark is the one the last pass that left the folder in sync recorded. */
function isRecordedMark(folder: FolderState, mark: FolderMark | null): mark is FolderMark {
  return mark !== null && folder.localMark !== null && folder.localMark === mark.mark;
}

/**
 * True when neither side can have changed since a pass that left the folder in sync: the
 * server's UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and message count are those of that pass, the
 * Maildir's mark is the one recorded then, and no APPEND or body is still owed. Without
 * CONDSTORE a flag change leaves no trace in the counters: 'ask the flags' when all else is
 * unchanged and that pass recorded the answers it read every message's flags from. Answers
 * recorded while the folder held nothing (a first pass: the flags of what it downloaded came
 * with the bodies) say nothing of what it holds now: compared with them, every flag would be
 * read by FETCH, a line per message, and that way would stay the folder's; the full pass
 * reads them the cheaper way instead (remoteChanges).
 */
function unchangedSinceLastPass(
  state: StateDb,
  folder: FolderState,
  server: ServerCounters,
  mark: FolderMark | null,
  wantsFullBodies: boolean,
): boolean | 'ask the flags' {
  if (!isRecordedMark(folder, mark)) return false;
  if (folder.uidValidity !== server.uidValidity) return false;
  if (folder.uidNext === null || folder.uidNext !== server.uidNext) return false;
  if (folder.existsCount !== server.exists) return false;
  const condstore = folder.highestModseq !== null && server.highestModseq !== null;
  if (condstore) {
    if (folder.highestModseq !== server.highestModseq) return false;
  } else if (
    folder.highestModseq !== null ||
    server.highestModseq !== null ||
    folder.flagAnswers === null ||
    (answersReadBy(folder.flagAnswers) === 'none' && state.highestUid(folder.id) > 0)
  )
    return false;
  if (state.hasPendingAppends(folder.id)) return false;
  if (wantsFullBodies && state.hasPartialMessages(folder.id)) return false;
  return condstore || 'ask the flags';
}

/**
 * The folder's id when the counters LIST-STATUS gave with the listing show it unchanged
 * since it was last left in sync (see unchangedSinceLastPass): it needs no SELECT, no
 * connection. Null when it needs its pass, or when that cannot be told without one.
 */
export async function unchangedByStatus(input: {
  state: StateDb;
  accountId: string;
  maildirRoot: string;
  remote: RemoteFolder;
  wantsFullBodies: boolean;
}): Promise<number | null> {
  const { state, remote } = input;
  if (remote.status === null) return null;
  const folder = state.knownFolder(input.accountId, remote.path);
  // A renamed server path or a first sight goes through syncFolder, which records both.
  if (folder === null || folder.serverPath !== remote.serverPath || folder.localMark === null)
    return null;
  let dir: string;
  try {
    dir = folderDirectory(input.maildirRoot, remote.path);
  } catch {
    return null; // syncFolder reports the name it cannot store
  }
  const mark = await folderMark(dir);
  return unchangedSinceLastPass(state, folder, remote.status, mark, input.wantsFullBodies) === true
    ? folder.id
    : null;
}

/**
 * A crash between committing a batch and renaming its files leaves them in tmp/: finish
 * those renames, and remove tmp/ files no committed batch owns.
 */
async function repairInterruptedDeliveries(
  local: MaildirFolder,
  state: StateDb,
  folderId: number,
  log: SyncLogger,
): Promise<boolean> {
  // Both repairs start from a file in tmp/; an empty tmp/ (the usual case) needs no more.
  const inTmp = new Set(await local.tmpNames());
  if (inTmp.size === 0) return false;
  const rows = state.flagRows(folderId);
  const known = new Set(rows.map((row) => row.base));
  const candidates = rows.filter((row) => inTmp.has(row.base));
  const present = candidates.length > 0 ? await local.scan() : new Map();
  const replacementsCutShort: string[] = [];
  for (const row of candidates) {
    // A file both in place and in tmp/ is a body replacement cut short (written under the
    // message's own name by earlier versions): the one in place stays, and the copy goes, or
    // the sweep, which spares every name the state knows, would keep it for good.
    if (present.has(row.base)) {
      replacementsCutShort.push(row.base);
      continue;
    }
    if (await local.recoverFromTmp(row.base, maildirLetters(row.flags))) {
      log.info({ uid: row.uid }, 'finished a delivery interrupted by a crash');
    }
  }
  await local.removeFromTmp(replacementsCutShort);
  const swept = replacementsCutShort.length + (await local.sweepTmp((name) => known.has(name)));
  if (swept > 0) log.info({ swept }, 'removed partial files left in tmp/ by an interrupted run');
  return true;
}

/**
 * The download over a lane made of the pass's session, then a new session for the rest of
 * the pass (`reopen` selects the folder on it). A failure of the folder (not of the
 * connection, not a cancel) still gets the new session, so the caller goes on to its next
 * folder with it.
 */
async function downloadOverLane(
  ctx: DownloadContext,
  uids: readonly number[],
  session: {
    renew: () => Promise<ImapFlow>;
    reopen: (client: ImapFlow) => Promise<void>;
    protocolLog: ImapProtocolLog | undefined;
  },
): Promise<DownloadResult> {
  const lane = new BodyLane(ctx.client, {
    spillAbove: STREAM_ABOVE_BYTES,
    openSpill: () => ctx.local.openTmpSpill(),
    protocolLog: session.protocolLog,
  });
  let downloaded: DownloadResult;
  try {
    downloaded = await downloadNewMessages({ ...ctx, lane }, uids);
  } catch (err) {
    lane.close();
    const failure = classifyError(err, ctx.folder.path);
    if (ctx.signal.aborted || ['CANCELLED', 'CONNECTION_LOST'].includes(failure.code)) throw err;
    await session.reopen(await session.renew());
    throw err;
  }
  await lane.logout();
  await session.reopen(await session.renew());
  return downloaded;
}

/** Deletes a folder on the server, and its row, if it holds no message; else leaves both. */
async function takeBackIfEmpty(
  client: ImapFlow,
  serverPath: string,
  state: StateDb,
  folderId: number,
): Promise<void> {
  try {
    const status = await client.status(serverPath, { messages: true });
    if (!status || status.messages !== 0) return;
    await client.mailboxDelete(serverPath);
    state.deleteFolder(folderId);
  } catch {
    // Not known empty, or not deletable: the next run sees it on the server and syncs it.
  }
}
