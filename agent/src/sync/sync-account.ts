/**
 * One account's part of a sync run: connect, list folders, sync each folder. A folder that
 * fails is reported and the others still sync; a failure of the account itself (login,
 * connection) ends the account's part.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import type { SyncFlags, SyncStats, SyncStep } from '../protocol/index.js';
import { classifyError, SyncFailure } from './errors.js';
import type { ImapProtocolLog } from './imap-session.js';
import { freshSessions, type SessionSource } from './session-pool.js';
import { listRemoteFolders, type RemoteFolder } from './list-folders.js';
import { applyHierarchy } from './apply-hierarchy.js';
import { folderSelected } from './folder-filter.js';
import { listLocalFolders } from './maildir/local-folders.js';
import { planHierarchy } from './plan-hierarchy.js';
import type { SyncLogger } from './logger.js';
import { canonicalFolderPath } from './maildir/folder-path.js';
import { isDamagedState, type StateDb } from './state-db.js';
import { type FolderSyncResult, syncFolder, unchangedByStatus } from './sync-folder.js';

export interface AccountSyncReporter {
  progress(
    step: SyncStep,
    folder: string | null,
    text: string,
    index: number,
    indexMax: number,
  ): void;
  failure(failure: SyncFailure): void;
  addBytes(bytes: number): void;
}

export interface AccountSyncInput {
  account: AccountConfig;
  flags: SyncFlags;
  /** Only these folders (display paths); all selected ones when empty. */
  folders: readonly string[];
  state: StateDb;
  stats: SyncStats;
  signal: AbortSignal;
  log: SyncLogger;
  report: AccountSyncReporter;
  protocolLog?: ImapProtocolLog;
  /** Where connections come from and go back to (the agent keeps them between runs). */
  sessions?: SessionSource;
  /** See FolderSyncInput.laneFrom. */
  laneFrom?: number;
}

/** Returns true when every folder synced. */
export async function syncAccount(input: AccountSyncInput): Promise<boolean> {
  const { account, flags, stats, report, signal } = input;
  report.progress('connecting', null, `Connecting to ${account.imap.host}`, 0, 1);
  const clients: ImapFlow[] = [];
  const sessions = input.sessions ?? freshSessions;
  // Set once the run ends well: its connections may serve the next run.
  let reusable = false;
  // A cancel is noticed between messages; a transfer that does not come back within a
  // second (one huge message, a stalled server) is cut by closing the connections.
  let cutTimer: NodeJS.Timeout | undefined;
  const abortConnection = () => {
    cutTimer = setTimeout(() => clients.forEach((c) => c.close()), CANCEL_GRACE_MS);
  };
  signal.addEventListener('abort', abortConnection);
  // A session that opens only after the run was cancelled is not the run's to keep.
  const giveBack = (client: ImapFlow) => void sessions.release(account, client, false);
  try {
    const client = await openUnlessCancelled(
      sessions.open(account, input.protocolLog),
      signal,
      giveBack,
    );
    clients.push(client);
    if (signal.aborted) throw new SyncFailure('CANCELLED', 'Sync cancelled');
    report.progress('listing-folders', null, 'Listing folders', 0, 1);
    const { folders: listed, trashPath } = await listRemoteFolders(client, account);
    let allOk = true;
    const wanted = [...new Set(input.folders.map(canonicalFolderPath))];
    // Folders whose directory the listing found here (a run of some folders lists none).
    const listedHere = new Set<string>();
    // A run limited to some folders cannot judge which others were created or deleted.
    const folders =
      wanted.length > 0
        ? listed.filter((f) => wanted.includes(f.path))
        : await syncHierarchy(client, input, listed, trashPath, listedHere, (failure) => {
            // A folder that could not be created, deleted or named failed as much as one
            // whose messages could not be synced: the count says so. A warning (a folder
            // kept for unseen mail) fails nothing.
            if (failure.severity === 'error') {
              allOk = false;
              stats.foldersFailed += 1;
            }
            report.failure(failure);
          });
    for (const name of wanted) {
      if (folders.some((f) => f.path === name)) continue;
      allOk = false;
      stats.foldersFailed += 1;
      report.failure(
        new SyncFailure(
          'FOLDER_GONE',
          `No folder "${name}" on the server (or the config excludes it)`,
          name,
          'Check the name as the server has it, levels joined by "/" ("Archive/2024"), and the account\'s "folders" include and exclude lists in the config.',
        ),
      );
    }
    const runFolders = folders.map((f) => f.path);
    // The account's config (or the admin policy) can make every sync headers-only.
    const headersOnly = flags.headersOnly || account.headersOnly === true;
    // Folders the listing's counters already show unchanged (folder index → state id).
    const unchangedByListing = await foldersUnchangedByStatus(
      folders,
      input,
      flags.downloadContents && !headersOnly,
    );
    const toPass = folders.length - unchangedByListing.size;

    // Folders in parallel, one per connection; a connection failure stops taking new ones.
    const unchangedFolders: number[] = [];
    const queue = folders.map((_, i) => i);
    // Folders taken again in this run (counted the first time): the Trash, once messages
    // were moved into it after it was judged or synced, which would leave them for next time.
    const again = new Set<number>();
    const trashIndex = folders.findIndex((f) => f.serverPath === trashPath);
    // Taken by a worker now, and to be taken again once that pass ends (never two at once).
    const inProgress = new Set<number>();
    const pendingAgain = new Set<number>();
    const takeTrashAgain = (from: number) => {
      if (trashIndex < 0 || trashIndex === from) return;
      // Its counters in the listing were read before the move: they judge nothing now.
      unchangedByListing.delete(trashIndex);
      if (queue.includes(trashIndex)) return;
      if (inProgress.has(trashIndex)) {
        pendingAgain.add(trashIndex);
        return;
      }
      again.add(trashIndex);
      queue.push(trashIndex);
    };
    let fatal: SyncFailure | null = null;
    // A damaged page of the state (or the state set aside): no folder can go on, the engine
    // sets the file aside and runs the pass again on a new one.
    let stateLost: unknown = null;
    const generation = input.state.generation;
    const worker = async (first: ImapFlow) => {
      // A large download uses the connection up (body-lane.ts): the folder's pass renews it.
      let connection = first;
      const renewSession = async () => {
        const fresh = await openUnlessCancelled(
          sessions.open(account, input.protocolLog),
          signal,
          giveBack,
        );
        clients.push(fresh);
        connection = fresh;
        return fresh;
      };
      /** One folder's pass; 'stop' when the account's part ends (cancelled, connection lost). */
      const passOne = async (i: number): Promise<'next' | 'stop'> => {
        const remote = folders[i]!;
        report.progress(
          'checking-folder',
          remote.path,
          `Checking ${remote.path}`,
          i,
          folders.length,
        );
        const unchangedId = again.has(i) ? undefined : unchangedByListing.get(i);
        if (unchangedId !== undefined) {
          stats.foldersSynced += 1;
          stats.foldersUnchanged += 1;
          unchangedFolders.push(unchangedId);
          return 'next';
        }
        try {
          const result = await syncFolder({
            client: connection,
            state: input.state,
            accountId: account.id,
            maildirRoot: account.maildir,
            folderSynced: (path) => folderSelected(path, account.folders),
            runFolders,
            listedHere: listedHere.has(remote.path),
            foldersMadeHereUploaded: flags.uploadHierarchy,
            remote,
            downloadContents: flags.downloadContents,
            uploadContents: flags.uploadContents,
            headersOnly,
            deletePolicy: account.deletePolicy,
            trashPath,
            onUploaded: () => {
              stats.uploaded += 1;
            },
            // A refused upload stays in the Maildir: the run reports it and is not ok. A
            // message the server did not send is a warning: the next pass asks again.
            onRefused: (failure) => {
              if (failure.severity === 'error') allOk = false;
              report.failure(failure);
            },
            renewSession,
            laneFrom: input.laneFrom,
            protocolLog: input.protocolLog,
            signal,
            log: input.log.child({ folder: remote.path }),
            onMessage: (index, total, bytes) => {
              stats.downloaded += 1;
              stats.bytes += bytes;
              report.addBytes(bytes);
              report.progress(
                'downloading',
                remote.path,
                `Downloading messages ${fmt(index)} of ${fmt(total)} in ${remote.path}`,
                index,
                total,
              );
            },
          });
          if (!again.has(i)) stats.foldersSynced += 1;
          if (result.unchanged && !again.has(i)) {
            stats.foldersUnchanged += 1;
            unchangedFolders.push(result.folderId);
          }
          if (result.trashed > 0) takeTrashAgain(i);
          // Reported, but the folder synced: the run's result stays ok (severity 'info').
          if (result.renumbered) report.failure(renumberedNotice(remote.path, result));
          if (result.created) stats.foldersCreated += 1;
          stats.flagsPulled += result.flagsPulled;
          stats.flagsPushed += result.flagsPushed;
          stats.expungedLocal += result.expungedLocal;
          stats.expungedRemote += result.expungedRemote;
        } catch (err) {
          if (signal.aborted) return 'stop';
          if (isDamagedState(err) || input.state.generation !== generation) {
            stateLost ??= err;
            return 'stop';
          }
          let failure = classifyError(err, remote.path);
          const bye = closedByServer(err);
          if (failure.code === 'CONNECTION_LOST' && bye !== null) {
            // The server ended the session in the middle of this folder (Dovecot does when
            // another client deletes the open folder: "BYE IMAP session state is
            // inconsistent"). Gone from a new session's listing, the folder is gone, not the
            // network: the other folders go on over that session instead of the whole run
            // starting again.
            let listed: boolean;
            try {
              const fresh = await renewSession();
              listed = (await fresh.list()).some((f) => f.path === remote.serverPath);
            } catch {
              fatal ??= failure; // no new session either: the connection's trouble after all
              return 'stop';
            }
            if (!listed)
              failure = new SyncFailure(
                'FOLDER_GONE',
                `The server no longer has this folder (it ended the session: ${bye})`,
                remote.path,
              );
          }
          if (failure.code === 'CANCELLED' || isConnectionFatal(failure)) {
            fatal ??= failure;
            return 'stop';
          }
          if (failure.code === 'FOLDER_GONE' && !(err instanceof SyncFailure))
            failure = (await listedButUnopenable(connection, remote, failure)) ?? failure;
          if (failure.severity !== 'error') {
            report.failure(failure);
            return 'next';
          }
          stats.foldersFailed += 1;
          allOk = false;
          report.failure(failure);
        }
        return 'next';
      };
      while (!fatal && !stateLost && !signal.aborted && queue.length > 0) {
        const i = queue.shift()!;
        inProgress.add(i);
        try {
          if ((await passOne(i)) === 'stop') return;
        } finally {
          inProgress.delete(i);
          // Messages were moved into it while this pass ran: once more, after it.
          if (pendingAgain.delete(i)) {
            again.add(i);
            queue.push(i);
          }
        }
      }
    };
    // The first connection starts at once; the others join as their logins complete (one
    // that comes up after the last folder was taken finds nothing to do).
    const joining = openMore(account, Math.min(account.maxConnections, toPass) - 1, input).map(
      async (opening) => {
        const extra = await opening;
        if (!extra) return;
        clients.push(extra);
        await worker(extra);
      },
    );
    await Promise.all([worker(client), ...joining]);
    if (stateLost) throw stateLost;
    input.state.touchFoldersSynced(unchangedFolders);
    if (signal.aborted) throw new SyncFailure('CANCELLED', 'Sync cancelled');
    if (fatal) throw fatal;
    report.progress(
      'finishing',
      null,
      `Synced ${fmt(folders.length)} folders`,
      folders.length,
      folders.length,
    );
    reusable = !signal.aborted;
    return allOk;
  } finally {
    signal.removeEventListener('abort', abortConnection);
    clearTimeout(cutTimer);
    await Promise.all(clients.map((c) => sessions.release(account, c, reusable)));
  }
}

const CANCEL_GRACE_MS = 1000;

/** The server's words when it ended the session itself (a BYE), else null. */
function closedByServer(err: unknown): string | null {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && reason.length > 0 ? reason : null;
}

/**
 * A session being opened, given up a second after the run is cancelled (as a transfer is
 * cut): a server that never greets, or a login that hangs, would otherwise hold a cancelled
 * run until imapflow's own timeouts (16 s for the greeting). One that opens in time is the
 * run's as usual (released at its end); one that opens later goes to `discard`.
 */
function openUnlessCancelled(
  opening: Promise<ImapFlow>,
  signal: AbortSignal,
  discard: (client: ImapFlow) => void,
): Promise<ImapFlow> {
  return new Promise<ImapFlow>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let given = false;
    const giveUp = () => {
      given = true;
      reject(new SyncFailure('CANCELLED', 'Sync cancelled'));
    };
    const onAbort = () => {
      timer = setTimeout(giveUp, CANCEL_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    opening.then(
      (client) => {
        settle();
        if (given) discard(client);
        else resolve(client);
      },
      (err: unknown) => {
        settle();
        if (!given) reject(err);
      },
    );
  });
}

/**
 * The folders whose LIST-STATUS counters and Maildir marks show nothing changed since they
 * were last left in sync, by index in `folders`. Only whole-folder content passes qualify:
 * a hierarchy-only run or one without contents directions never reaches them.
 */
async function foldersUnchangedByStatus(
  folders: readonly RemoteFolder[],
  input: AccountSyncInput,
  wantsFullBodies: boolean,
): Promise<Map<number, number>> {
  const unchanged = new Map<number, number>();
  if (!input.flags.downloadContents && !input.flags.uploadContents) return unchanged;
  const ids = await Promise.all(
    folders.map((remote) =>
      unchangedByStatus({
        state: input.state,
        accountId: input.account.id,
        maildirRoot: input.account.maildir,
        remote,
        wantsFullBodies,
      }),
    ),
  );
  ids.forEach((id, index) => {
    if (id !== null) unchanged.set(index, id);
  });
  return unchanged;
}

/**
 * Extra connections for parallel folders, each on its way; one the server refuses (it may cap
 * them) comes as null, and the account syncs with fewer.
 */
function openMore(
  account: AccountConfig,
  count: number,
  input: AccountSyncInput,
): Array<Promise<ImapFlow | null>> {
  return Array.from({ length: Math.max(0, count) }, () =>
    (input.sessions ?? freshSessions).open(account, input.protocolLog).catch((err: Error) => {
      input.log.warn({ err: err.message }, 'extra IMAP connection refused; syncing with fewer');
      return null;
    }),
  );
}

/** Creates and deletes folders per the hierarchy directions; returns the folders to sync. */
async function syncHierarchy(
  client: ImapFlow,
  input: AccountSyncInput,
  listed: RemoteFolder[],
  trashPath: string | null,
  /** Filled with the folders found here. */
  here: Set<string>,
  fail: (failure: SyncFailure) => void,
): Promise<RemoteFolder[]> {
  const { account, state, flags, stats } = input;
  const selected = (path: string) => folderSelected(path, account.folders);
  const knownFolders = state.folders(account.id);
  const local = (
    await listLocalFolders(
      account.maildir,
      undefined,
      knownFolders.map((f) => f.path),
      (entry) =>
        input.log.warn(
          { directory: entry },
          'a Maildir++ folder (a hidden directory with cur/) is in the Maildir: not synced; StoreSync keeps each folder in a directory of its own name (Sent/, Archive/2024/)',
        ),
    )
  ).filter(selected);
  for (const path of local) here.add(path);
  const known = knownFolders.filter((f) => selected(f.path));
  const plan = planHierarchy({ remote: listed, local, known });
  const outcome = await applyHierarchy({
    client,
    state,
    maildirRoot: account.maildir,
    plan,
    flags,
    deletePolicy: account.deletePolicy,
    trashPath,
    // A server that lists folders, none with a delimiter, keeps no hierarchy.
    delimiter:
      listed.length > 0 && listed.every((f) => !f.delimiter)
        ? null
        : (listed.find((f) => f.delimiter)?.delimiter ?? '/'),
    log: input.log,
    report: fail,
  });
  stats.foldersCreated += outcome.foldersCreated;
  stats.foldersDeleted += outcome.foldersDeleted;
  const existing = new Set([...local, ...known.map((f) => f.path)]);
  return [
    // A folder new on the server is created here only when downloading the hierarchy.
    ...listed
      .filter(
        (f) => !outcome.removed.has(f.path) && (flags.downloadHierarchy || existing.has(f.path)),
      )
      // A deleted folder's messages went into the Trash after the listing counted it.
      .map((f) => (outcome.trashed && f.serverPath === trashPath ? { ...f, status: null } : f)),
    ...outcome.created,
  ];
}

function renumberedNotice(folder: string, result: FolderSyncResult): SyncFailure {
  const { from, to, toDownload } = result.renumbered!;
  return new SyncFailure(
    'UIDVALIDITY_CHANGED',
    `The server renumbered "${folder}" (UIDVALIDITY ${from} → ${to}); ` +
      `${fmt(result.rematched)} messages matched again, ${fmt(toDownload)} new to download`,
    folder,
  );
}

function isConnectionFatal(failure: SyncFailure): boolean {
  return (
    failure.code === 'CONNECTION_LOST' ||
    failure.code === 'CONNECTION_FAILED' ||
    failure.code === 'AUTH_FAILED'
  );
}

/**
 * "12,345": digits grouped by hand. Intl's formatter would load ICU's locale data into every
 * sync process (~6 MB of resident memory) for one separator.
 */
function fmt(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A folder the server said does not exist when asked to open it, though it listed it this
 * pass: if it lists it again, it is not gone but unusable (a name the server stores and
 * cannot open, see FOLDER_UNOPENABLE), and saying "gone" at every sync would mislead.
 */
async function listedButUnopenable(
  client: ImapFlow,
  remote: RemoteFolder,
  failure: SyncFailure,
): Promise<SyncFailure | null> {
  let listed: boolean;
  try {
    listed = (await client.list()).some((entry) => entry.path === remote.serverPath);
  } catch {
    return null; // the connection's trouble shows with the next folder
  }
  if (!listed) return null;
  return new SyncFailure(
    'FOLDER_UNOPENABLE',
    `The server lists "${remote.path}" but will not open it (${failure.message.replace(/^The server no longer has this folder: /, '')})`,
    remote.path,
  );
}
