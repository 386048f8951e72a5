/**
 * The sync engine: IMAPISync::SynchronizeInBackground for a set of accounts. It takes
 * commands (start a run with MAPISIB flags, cancel a run) and emits typed events
 * (syncStarted, progress, error, done). It knows nothing of HTTP, WebSockets or terminals;
 * the CLI and the agent's hub subscribe to its events.
 */
import { randomUUID } from 'node:crypto';
import type { AccountConfig } from '../config/load.js';
import {
  type AccountSummary,
  type DoneEvent,
  emptyStats,
  type HistoryEntry,
  type MessageLocation,
  type ProgressEvent,
  RETRIED_ERROR_CODES,
  type SyncEvent,
  type SyncFlags,
  type SyncResult,
  type SyncStats,
  type SyncTrigger,
} from '../protocol/index.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { completePartialMessages } from './download-new-messages.js';
import { classifyError, SyncFailure } from './errors.js';
import { bindProtocolLog, onServerAlert, openImapSession } from './imap-session.js';
import { openLocalFolder } from './maildir/open-local-folder.js';
import { backfillMessageIds } from './message-index.js';
import type { ImapProtocolLog } from './imap-session.js';
import { silentLogger, type SyncLogger } from './logger.js';
import { isDamagedState, type StateDb } from './state-db.js';
import { canonicalFolderPath } from './maildir/folder-path.js';
import { syncAccount } from './sync-account.js';
import { SessionPool, type SessionSource } from './session-pool.js';

export interface SyncRequest {
  /** Accounts to sync; all configured accounts when absent. */
  accountIds?: readonly string[];
  /** Only these folders (display paths); every selected folder when absent or empty. */
  folders?: readonly string[];
  flags: SyncFlags;
  trigger: SyncTrigger;
}

export interface RunningSync {
  syncId: string;
  accountIds: string[];
  trigger: SyncTrigger;
  flags: SyncFlags;
  startedAt: number;
  /** Latest progress per account. */
  progress: Map<string, ProgressEvent>;
  /** Server alerts shown in this run (account and text), each once. */
  alertsShown: Set<string>;
  controller: AbortController;
  done: Promise<DoneEvent>;
}

export interface EngineOptions {
  /** Every IMAP command and response line, for diagnostics and tests. */
  protocolLog?: ImapProtocolLog;
  /** Keep IMAP sessions between runs (the agent); a one-shot run logs out at its end. */
  keepSessions?: boolean;
  /** Where sessions come from when they are not kept (default: a new connection each). */
  sessions?: SessionSource;
  /**
   * From how many new messages a folder's download takes a lane of its own (body-lane.ts;
   * default BULK_DOWNLOAD_FROM). Tests lower it to run small folders through it.
   */
  laneFrom?: number;
}

/** A server alert heard outside a run is logged again after this long. */
const ALERT_LOG_EVERY_MS = 3600_000;

/** Connection failures a new attempt may cure, and how long to wait before each attempt. */
const RETRY_DELAYS_MS = [1000, 3000, 9000];

/** Waits, or stops early on cancel; resolves to false if cancelled. */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class UnknownAccountError extends Error {
  override readonly name = 'UnknownAccountError';
}

/** A lookup that found nothing: no such folder or message in the sync state. */
export class NotInStateError extends Error {
  override readonly name = 'NotInStateError';
}

export class SyncEngine {
  private readonly listeners = new Set<(event: SyncEvent) => void>();
  private readonly runs = new Map<string, RunningSync>();
  /** Sessions kept between runs, when the engine keeps them (the agent). */
  private readonly pool: SessionPool | null;
  private readonly sessions: SessionSource | undefined;
  private readonly log: SyncLogger;
  /**
   * Account passes, on-demand fetches and lookups under way: each holds folder ids read from
   * the state across its awaits, so a damaged state file is set aside only when none is.
   */
  private statePasses = 0;
  private readonly waitingForStateIdle: Array<() => void> = [];

  constructor(
    private accounts: readonly AccountConfig[],
    private readonly state: StateDb,
    log: SyncLogger = silentLogger,
    private readonly options: EngineOptions = {},
  ) {
    this.log = log;
    this.pool = options.keepSessions ? new SessionPool() : null;
    this.sessions = this.pool ?? options.sessions;
    this.stopAlerts = onServerAlert((accountId, text) => this.onAlert(accountId, text));
  }

  private readonly stopAlerts: () => void;
  /** When each alert text was last logged outside a run, so a kept session's repeats do not fill the log. */
  private readonly alertsLogged = new Map<string, number>();

  /**
   * A server's ALERT (RFC 9051 7.1): shown to the user once per run and account as a
   * SERVER_ALERT warning of each run the account is in, and logged; outside a run, logged at
   * most once an hour per text. Every connection a pass opens may bring the same one.
   */
  private onAlert(accountId: string, text: string): void {
    if (!this.accounts.some((a) => a.id === accountId)) return;
    const runs = [...this.runs.values()].filter((run) => run.accountIds.includes(accountId));
    for (const run of runs) {
      const key = `${accountId}\u0000${text}`;
      if (run.alertsShown.has(key)) continue;
      run.alertsShown.add(key);
      this.emitFailure(
        run.syncId,
        accountId,
        new SyncFailure('SERVER_ALERT', `The server says: ${text}`),
        this.log.child({ syncId: run.syncId, accountId }),
      );
    }
    if (runs.length > 0) return;
    const now = Date.now();
    const key = `${accountId}\u0000${text}`;
    if (now - (this.alertsLogged.get(key) ?? -Infinity) < ALERT_LOG_EVERY_MS) return;
    this.alertsLogged.set(key, now);
    this.log.warn({ accountId, alert: text }, 'the server sent an alert');
  }

  onEvent(listener: (event: SyncEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts a run, or joins the one already running for the same accounts (a second "Sync
   * now" while one runs should not start a competing pass over the same Maildir).
   */
  start(request: SyncRequest): RunningSync {
    const accounts = this.pickAccounts(request.accountIds);
    const ids = accounts.map((a) => a.id);
    const busy = [...this.runs.values()].filter((run) =>
      ids.some((id) => run.accountIds.includes(id)),
    );
    // A user's request (SYNC_ON_DEMAND) pre-empts background work on the same accounts: that
    // run stops at its next message, keeping what it stored, and this one follows at once.
    // Anything else joins the run already busy with the account.
    const active = busy.filter((run) => !run.controller.signal.aborted);
    const preempt = request.flags.onDemand && active.every((run) => run.trigger === 'schedule');
    if (active.length > 0 && !preempt) return active[0]!;
    for (const run of active) run.controller.abort();
    const syncId = randomUUID();
    const startedAt = Date.now();
    const controller = new AbortController();
    // Asked for while the engine stops (a pane's "Sync now" before it is told): cancelled
    // before it begins, so that nothing runs once stop() has returned.
    if (this.stopping) controller.abort();
    const run: RunningSync = {
      syncId,
      accountIds: ids,
      trigger: request.trigger,
      flags: request.flags,
      startedAt,
      progress: new Map(),
      alertsShown: new Set(),
      controller,
      done: Promise.resolve(null as unknown as DoneEvent),
    };
    this.runs.set(syncId, run);
    this.recordHistory(() =>
      this.state.startRun(syncId, request.trigger, request.flags, startedAt, ids),
    );
    this.emit({
      type: 'syncStarted',
      syncId,
      accountIds: ids,
      flags: request.flags,
      trigger: request.trigger,
      at: startedAt,
    });
    const preempted = Promise.allSettled(busy.map((b) => b.done));
    run.done = preempted
      .then(() => this.execute(run, accounts, request.flags, request.folders ?? []))
      // Never left in running(), whatever happened: stop() waits until that is empty.
      .finally(() => this.runs.delete(syncId));
    return run;
  }

  /**
   * SYNC_ON_DEMAND for one message: makes sure its full body is in the Maildir (fetching it if
   * it was stored headers-only) and returns the file's path.
   */
  fetchMessage(
    accountId: string,
    folderPath: string,
    uid: number,
  ): Promise<{ path: string; fetched: boolean; size: number }> {
    return this.holdingState(() => this.fetchMessageNow(accountId, folderPath, uid));
  }

  private async fetchMessageNow(
    accountId: string,
    folderPath: string,
    uid: number,
  ): Promise<{ path: string; fetched: boolean; size: number }> {
    const [account] = this.pickAccounts([accountId]);
    const wanted = canonicalFolderPath(folderPath);
    const folder = this.state.folders(account!.id).find((f) => f.path === wanted);
    if (!folder)
      throw new NotInStateError(`No synced folder "${folderPath}" in account "${accountId}"`);
    const row = this.state.messages(folder.id).find((r) => r.uid === uid);
    if (!row)
      throw new NotInStateError(`No message with UID ${uid} in "${folderPath}" (sync first?)`);
    const local = openLocalFolder(this.state, account!, folder.path);
    let fetched = false;
    if (row.partial) {
      const client = await openImapSession(account!, this.options.protocolLog);
      try {
        const mailbox = await client.mailboxOpen(folder.serverPath, { readOnly: true });
        if (Number(mailbox.uidValidity) !== folder.uidValidity) {
          throw new SyncFailure(
            'UIDVALIDITY_CHANGED',
            `"${folderPath}" was renumbered by the server; sync it first`,
            folderPath,
          );
        }
        const signal = new AbortController().signal;
        const done = await completePartialMessages(
          {
            client,
            state: this.state,
            folder,
            local,
            signal,
            log: this.log,
            onMessage: () => undefined,
          },
          new Set([uid]),
        );
        fetched = done.downloaded === 1;
      } finally {
        await client.logout().catch(() => client.close());
      }
    }
    const file = (await local.scan()).get(row.base);
    if (!file)
      throw new SyncFailure(
        'LOCAL_IO',
        `The file of UID ${uid} in "${folderPath}" is missing from the Maildir`,
        folderPath,
      );
    const where = path.join(local.dir, file.subdir, file.name);
    return { path: where, fetched, size: (await fs.stat(where)).size };
  }

  cancel(syncId: string): boolean {
    const run = this.runs.get(syncId);
    if (!run) return false;
    run.controller.abort();
    return true;
  }

  running(): RunningSync[] {
    return [...this.runs.values()];
  }

  private stopping = false;

  /**
   * Cancels every run and waits for them to leave the state consistent, runs started while
   * it waits included: its caller closes the state next.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopAlerts();
    for (let runs = this.running(); runs.length > 0; runs = this.running()) {
      for (const run of runs) run.controller.abort();
      await Promise.allSettled(runs.map((run) => run.done));
    }
    await this.pool?.closeAll();
  }

  /** Closes the sessions kept between runs (the machine slept: they are likely dead). */
  dropKeptSessions(): void {
    this.pool?.dropAll();
  }

  /** Replaces the account list (config reload); running syncs keep the config they started with. */
  setAccounts(accounts: readonly AccountConfig[]): void {
    this.accounts = accounts;
    // Sessions of the old config may name another server, user or secret.
    void this.pool?.closeAll();
  }

  accountSummaries(): AccountSummary[] {
    return this.accounts.map((account) => this.summaryOf(account));
  }

  /** The account's counts and last result as the state has them now; null if not configured. */
  accountSummary(accountId: string): AccountSummary | null {
    const account = this.accounts.find((a) => a.id === accountId);
    return account ? this.summaryOf(account) : null;
  }

  /** Sync runs, newest first. */
  history(limit: number, before?: number): HistoryEntry[] {
    return this.state.recentRuns(limit, before);
  }

  /** Every place a message with this Message-ID is stored, in the configured accounts. */
  async lookupMessage(internetMessageId: string): Promise<MessageLocation[]> {
    await this.holdingState(async () => {
      for (const account of this.accounts) await backfillMessageIds(this.state, account);
    });
    const configured = new Set(this.accounts.map((a) => a.id));
    return this.state
      .placesOfMessage(internetMessageId)
      .filter((place) => configured.has(place.accountId))
      .map((place) => ({
        accountId: place.accountId,
        folder: place.folder,
        uid: place.uid,
        size: place.size,
        partial: place.partial,
        syncedAt: place.folderSyncedAt,
      }));
  }

  private summaryOf(account: AccountConfig): AccountSummary {
    const folders = this.state.folderCounts(account.id);
    const last = this.state.lastAccountRun(account.id);
    return {
      id: account.id,
      host: account.imap.host,
      folderCount: folders.length,
      messageCount: folders.reduce((n, f) => n + f.messageCount, 0),
      lastSyncAt: last?.finishedAt ?? null,
      lastResult: last?.result ?? null,
      folders,
    };
  }

  private pickAccounts(ids: readonly string[] | undefined): AccountConfig[] {
    if (!ids || ids.length === 0) return [...this.accounts];
    return ids.map((id) => {
      const account = this.accounts.find((a) => a.id === id);
      if (!account) throw new UnknownAccountError(`no account "${id}" in the config`);
      return account;
    });
  }

  private async execute(
    run: RunningSync,
    accounts: AccountConfig[],
    flags: SyncFlags,
    folders: readonly string[],
  ): Promise<DoneEvent> {
    const stats = emptyStats();
    const log = this.log.child({ syncId: run.syncId });
    log.info({ accounts: run.accountIds, flags }, 'sync started');
    const results = await Promise.all(
      accounts.map((account) =>
        this.executeAccount(
          run,
          account,
          flags,
          folders,
          stats,
          log.child({ accountId: account.id }),
        ),
      ),
    );
    const result: SyncResult = run.controller.signal.aborted
      ? 'cancelled'
      : results.every((r) => r === 'ok')
        ? 'ok'
        : 'error';
    const finishedAt = Date.now();
    this.recordHistory(() => this.state.finishRun(run.syncId, result, stats, finishedAt));
    // Gone from running() before anyone hears it is done, so a snapshot taken then is current.
    this.runs.delete(run.syncId);
    const done: DoneEvent = {
      type: 'done',
      syncId: run.syncId,
      result,
      stats,
      startedAt: run.startedAt,
      finishedAt,
    };
    log.info({ result, stats, ms: finishedAt - run.startedAt }, 'sync finished');
    this.emit(done);
    return done;
  }

  private async executeAccount(
    run: RunningSync,
    account: AccountConfig,
    flags: SyncFlags,
    folders: readonly string[],
    stats: SyncStats,
    log: SyncLogger,
  ): Promise<SyncResult> {
    let bytes = 0;
    const report = {
      progress: (
        step: ProgressEvent['step'],
        folder: string | null,
        text: string,
        index: number,
        indexMax: number,
      ) => {
        const event: ProgressEvent = {
          type: 'progress',
          syncId: run.syncId,
          accountId: account.id,
          folder,
          step,
          text,
          index,
          indexMax,
          bytes,
          at: Date.now(),
        };
        run.progress.set(account.id, event);
        this.emit(event);
      },
      failure: (failure: SyncFailure) => this.emitFailure(run.syncId, account.id, failure, log),
      addBytes: (n: number) => {
        bytes += n;
      },
    };
    let result!: SyncResult; // every path through the loop below sets it
    let stateSetAside = false;
    // Every step is idempotent, so after a dropped connection a new pass resumes the work.
    for (let attempt = 0; ; attempt++) {
      // Each attempt counts apart: what it did (downloads, uploads, flags) adds up, but which
      // folders synced, were unchanged or failed is the last attempt's say, not a sum.
      const counted = emptyStats();
      const generation = this.state.generation;
      try {
        const allOk = await this.holdingState(() =>
          syncAccount({
            account,
            flags,
            folders,
            state: this.state,
            stats: counted,
            signal: run.controller.signal,
            log,
            report,
            // Protocol lines carry the run's ids like every other line of the run.
            protocolLog: bindProtocolLog(this.options.protocolLog, {
              syncId: run.syncId,
              accountId: account.id,
            }),
            ...(this.sessions ? { sessions: this.sessions } : {}),
            laneFrom: this.options.laneFrom,
          }),
        );
        result = allOk ? 'ok' : 'error';
      } catch (err) {
        const stateLost = isDamagedState(err) || this.state.generation !== generation;
        if (stateLost && !stateSetAside && !run.controller.signal.aborted) {
          // Once per run: a file damaged again at once is a disk failing, told as such below.
          stateSetAside = true;
          addStats(stats, counted, { folders: false });
          if (await this.setAsideDamagedState(generation, err, log)) {
            const copy = this.state.recovered?.damagedCopy ?? '';
            this.emitFailure(
              run.syncId,
              account.id,
              new SyncFailure(
                'STATE_REBUILT',
                `The sync state was damaged: it was set aside as ${path.basename(copy)} and is rebuilt by this sync`,
              ),
              log,
            );
          }
          continue;
        }
        const failure = classifyError(err);
        if (failure.code === 'CANCELLED' || run.controller.signal.aborted) {
          result = 'cancelled';
        } else if (RETRIED_ERROR_CODES.has(failure.code) && attempt < RETRY_DELAYS_MS.length) {
          const delay = RETRY_DELAYS_MS[attempt]!;
          // The pane shows it as it happens (with the hint), not only in the step text.
          this.emitFailure(run.syncId, account.id, failure, log, {
            delayMs: delay,
            attempt: attempt + 1,
            attempts: RETRY_DELAYS_MS.length,
          });
          report.progress(
            'connecting',
            null,
            `${failure.message}; retrying in ${Math.round(delay / 1000)} s`,
            attempt + 1,
            RETRY_DELAYS_MS.length,
          );
          addStats(stats, counted, { folders: false });
          if (await sleepUnlessAborted(delay, run.controller.signal)) continue;
          result = 'cancelled';
        } else {
          result = 'error';
          this.emitFailure(run.syncId, account.id, failure, log);
        }
      }
      addStats(stats, counted, { folders: true });
      break;
    }
    this.recordHistory(() =>
      this.state.finishAccountRun(run.syncId, account.id, result, Date.now()),
    );
    return result;
  }

  /** Runs `work`, counted among what holds ids read from the state (statePasses). */
  private async holdingState<T>(work: () => Promise<T>): Promise<T> {
    this.statePasses += 1;
    try {
      return await work();
    } finally {
      this.statePasses -= 1;
      if (this.statePasses === 0) for (const wake of this.waitingForStateIdle.splice(0)) wake();
    }
  }

  /**
   * Sets the damaged state file aside once nothing holds ids read from it (the other passes
   * finish on it first: a damaged page fails only what reads it). False when another pass
   * did it meanwhile. The runs under way get their history rows again in the new file.
   */
  private async setAsideDamagedState(
    generation: number,
    err: unknown,
    log: SyncLogger,
  ): Promise<boolean> {
    while (this.statePasses > 0 && this.state.generation === generation)
      await new Promise<void>((wake) => this.waitingForStateIdle.push(wake));
    if (this.state.generation !== generation) return false;
    try {
      this.state.setAsideDamaged(err);
    } catch (failed) {
      // Cannot be moved (a read-only dataDir): the pass fails as it would have, and says why.
      log.error({ err: (failed as Error).message }, 'damaged state database not set aside');
      return false;
    }
    log.warn(
      this.state.recovered ?? {},
      'state database was damaged; set aside, rebuilding from Maildir and server',
    );
    for (const run of this.runs.values())
      this.recordHistory(() =>
        this.state.startRun(run.syncId, run.trigger, run.flags, run.startedAt, run.accountIds),
      );
    return true;
  }

  private emitFailure(
    syncId: string,
    accountId: string,
    failure: SyncFailure,
    log: SyncLogger,
    /** A failure the engine is about to retry is a warning, and says when it retries. */
    retry?: { delayMs: number; attempt: number; attempts: number },
  ): void {
    const severity = retry ? 'warning' : failure.severity;
    const message = retry
      ? `${failure.message}; retrying in ${Math.round(retry.delayMs / 1000)} s (attempt ${retry.attempt} of ${retry.attempts})`
      : failure.message;
    const fields = { code: failure.code, folder: failure.folder, err: message };
    if (severity === 'info') log.info(fields, 'sync notice');
    else log.warn(fields, severity === 'warning' ? 'sync warning' : 'sync error');
    this.emit({
      type: 'error',
      syncId,
      accountId,
      code: failure.code,
      message,
      hint: failure.hint,
      folder: failure.folder,
      retryable: failure.retryable,
      severity,
      at: Date.now(),
    });
  }

  /**
   * The history is a record of runs, not their work: a write of it that fails (the disk of the
   * dataDir full) is logged, and the run goes on and ends as usual. Thrown, it left a run that
   * never ended in running(), which every later sync of its accounts joined, or a throw from
   * the scheduler's timer that stopped the agent; the run itself reports the disk.
   */
  private recordHistory(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'sync history not recorded');
    }
  }

  /** A listener that throws (a pane gone bad) must not break the sync or the other listeners. */
  private emit(event: SyncEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error(
          { syncId: event.syncId, err: (err as Error).message, event: event.type },
          'event listener failed',
        );
      }
    }
  }
}

/** Per-folder verdicts: an attempt that is retried leaves them to the next one. */
const FOLDER_VERDICTS = ['foldersSynced', 'foldersUnchanged', 'foldersFailed'] as const;

function addStats(into: SyncStats, from: SyncStats, options: { folders: boolean }): void {
  for (const key of Object.keys(from) as Array<keyof SyncStats>) {
    if (!options.folders && (FOLDER_VERDICTS as readonly string[]).includes(key)) continue;
    into[key] += from[key];
  }
}
