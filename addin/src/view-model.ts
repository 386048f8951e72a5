/**
 * The pane's state, derived from the agent's messages only. Pure: no DOM, no sockets, no
 * clock (times come in as arguments), so every transition is unit-tested without a browser.
 */
import {
  type AccountSummary,
  type DoneEvent,
  emptyStats,
  type ErrorCode,
  type ErrorEvent,
  type ErrorSeverity,
  type HistoryEntry,
  type MessageLocation,
  PROTOCOL_VERSION,
  type ProgressEvent,
  type ReplyMessage,
  RETRIED_ERROR_CODES,
  type ServerMessage,
  SNAPSHOT_HISTORY,
  type SnapshotMessage,
  type SyncFlags,
  type SyncResult,
  type SyncStartedEvent,
  type SyncStats,
} from '../../agent/src/protocol/index.js';
import { type RateEstimate, startEstimate, timeLeft, updateEstimate } from './rate-estimator.js';

export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'not-running' | 'incompatible';
export type AccountActivity = 'idle' | 'syncing' | 'done' | 'error';

export interface ErrorItem {
  syncId: string;
  accountId: string | null;
  code: ErrorCode;
  message: string;
  hint: string;
  folder: string | null;
  retryable: boolean;
  /** 'info' and 'warning' are worth knowing but did not make the run fail. */
  severity: ErrorSeverity;
  /** What the run that failed was asked to do, so that "Retry" asks the same; null if unknown. */
  flags: SyncFlags | null;
  at: number;
}

/** A run this pane saw start, until it is done. */
export interface RunInfo {
  flags: SyncFlags;
  trigger: SyncStartedEvent['trigger'];
  accountIds: string[];
  startedAt: number;
}

/**
 * The message selected in Outlook and where the agent stores it. 'none': no message (outside
 * Outlook, nothing selected, or one being composed, which has no Message-ID yet).
 */
export interface ItemState {
  status: 'none' | 'pending' | 'found' | 'not-found' | 'failed';
  internetMessageId: string | null;
  subject: string;
  requestId: string | null;
  locations: MessageLocation[];
}

export interface LastDone {
  syncId: string;
  result: SyncResult;
  stats: SyncStats;
  durationMs: number;
  finishedAt: number;
}

export interface AccountView extends AccountSummary {
  activity: AccountActivity;
  /** The run this account is part of right now; null when none is. */
  syncId: string | null;
  startedAt: number | null;
  progress: ProgressEvent | null;
  /** Position among the folders of the running pass, from its latest "checking" step. */
  passFolderIndex: number;
  passFolderCount: number;
  /** How far the running pass is, 0…1; never goes back while the run lasts. */
  fraction: number;
  /** Smoothed rate and time left of the running pass; null when none runs. */
  estimate: RateEstimate | null;
  /** Newest first. */
  errors: ErrorItem[];
  /** How the last run this pane watched ended; null when it watched none. */
  lastDone: LastDone | null;
}

/** A command the agent turned down, or a frame of ours it did not understand. */
export interface Notice {
  code: string;
  message: string;
}

/**
 * Whether the agent accepts this pane's commands: 'unknown' until it answers the token the
 * pane showed (or there was none to show), 'unpaired' when the user must enter a code.
 */
export type PairingState = 'unknown' | 'paired' | 'unpaired';

export interface PaneState {
  connection: ConnectionState;
  pairing: PairingState;
  /** Why the last pairing attempt failed; null when none did. */
  pairingError: string | null;
  /** The agent's recent runs, newest first. */
  history: HistoryEntry[];
  agentVersion: string | null;
  /** The agent's own protocol version when it is not ours. */
  incompatibleVersion: number | null;
  accounts: AccountView[];
  /** Errors about a whole run, or about an account this pane does not know; newest first. */
  runErrors: ErrorItem[];
  /**
   * A "Sync now" the pane sent and whose run has not started yet: the button stays busy until
   * the run's `syncStarted` arrives or the agent turns the request down.
   */
  pendingSync: { requestId: string; syncId: string | null } | null;
  /** A run the user asked to cancel, until its `done` arrives. */
  pendingCancel: string | null;
  /** Runs that started and are not done yet, by syncId. */
  runs: Record<string, RunInfo>;
  item: ItemState;
  notice: Notice | null;
}

/** Errors kept per account (and for runs): the latest run's, plus a few before it. */
const MAX_ERRORS = 10;

export function initialState(): PaneState {
  return {
    connection: 'connecting',
    pairing: 'unknown',
    pairingError: null,
    history: [],
    agentVersion: null,
    incompatibleVersion: null,
    accounts: [],
    runErrors: [],
    pendingSync: null,
    pendingCancel: null,
    runs: {},
    item: NO_ITEM,
    notice: null,
  };
}

const NO_ITEM: ItemState = {
  status: 'none',
  internetMessageId: null,
  subject: '',
  requestId: null,
  locations: [],
};

/**
 * The socket's own transitions (connecting, reconnecting, not running). An incompatible agent
 * stays refused until a hello with our protocol version arrives; a request in flight is
 * forgotten when the connection drops, since its reply can no longer come.
 */
export function connectionChanged(state: PaneState, connection: ConnectionState): PaneState {
  if (state.connection === 'incompatible' || state.connection === connection) return state;
  return {
    ...state,
    connection,
    pendingSync: connection === 'connected' ? state.pendingSync : null,
    pendingCancel: connection === 'connected' ? state.pendingCancel : null,
    item:
      connection === 'connected' || state.item.status !== 'pending'
        ? state.item
        : { ...state.item, status: 'failed', requestId: null },
  };
}

/** The agent accepted the pane's token or code, or the pane has none, or it was refused. */
export function pairingChanged(
  state: PaneState,
  result:
    | { paired: true }
    | { paired: false; error: string | null }
    | { paired: 'later'; reason: string },
): PaneState {
  if (result.paired === 'later') {
    // Still paired as far as anyone knows; the agent will hear the token again shortly.
    return {
      ...state,
      pairing: 'unknown',
      pendingSync: null,
      notice: {
        code: 'SIGN_IN_DEFERRED',
        message: `The agent did not let this pane in just now (${result.reason}); it tries again in half a minute, still paired.`,
      },
    };
  }
  return result.paired
    ? {
        ...state,
        pairing: 'paired',
        pairingError: null,
        notice: state.notice?.code === 'SIGN_IN_DEFERRED' ? null : state.notice,
      }
    : { ...state, pairing: 'unpaired', pairingError: result.error, pendingSync: null };
}

/** The pane sent `sync`; the button shows it is busy until the run starts. */
export function syncRequested(state: PaneState, requestId: string): PaneState {
  return { ...state, pendingSync: { requestId, syncId: null }, notice: null };
}

/** The pane sent `cancel`; Cancel shows it is under way until the run is done. */
export function cancelRequested(state: PaneState, syncId: string): PaneState {
  return { ...state, pendingCancel: syncId };
}

/**
 * Outlook selected another item (or none). A message with a Message-ID is looked up next;
 * `lookupRequested` records the request once it is sent.
 */
export function itemSelected(
  state: PaneState,
  item: { internetMessageId: string | null; subject: string } | null,
): PaneState {
  if (!item?.internetMessageId)
    return { ...state, item: { ...NO_ITEM, subject: item?.subject ?? '' } };
  return {
    ...state,
    item: {
      ...NO_ITEM,
      status: 'pending',
      internetMessageId: item.internetMessageId,
      subject: item.subject,
    },
  };
}

/** The lookup of the selected item went out (null: it could not, the agent is not connected). */
export function lookupRequested(state: PaneState, requestId: string | null): PaneState {
  if (state.item.status !== 'pending') return state;
  return requestId === null
    ? { ...state, item: { ...state.item, status: 'failed', requestId: null } }
    : { ...state, item: { ...state.item, requestId } };
}

export function reduce(state: PaneState, message: ServerMessage): PaneState {
  if (message.type === 'hello') {
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      return {
        ...state,
        connection: 'incompatible',
        incompatibleVersion: message.protocolVersion,
        agentVersion: message.agentVersion,
        pendingSync: null,
      };
    }
    return {
      ...state,
      connection: 'connected',
      // Every connection shows its token again; until the agent answers, nothing is known.
      pairing: 'unknown',
      agentVersion: message.agentVersion,
      incompatibleVersion: null,
      // An agent that says hello is back: its going away is no news any more.
      notice: state.notice?.code === 'AGENT_STOPPING' ? null : state.notice,
    };
  }
  // Whatever an agent of another protocol version says next is not ours to show.
  if (state.connection === 'incompatible') return state;
  switch (message.type) {
    case 'snapshot':
      return applySnapshot(state, message);
    case 'syncStarted': {
      const started = updateAccounts(state, message.accountIds, (a) => ({
        ...a,
        activity: 'syncing',
        syncId: message.syncId,
        startedAt: message.at,
        progress: null,
        passFolderIndex: 0,
        passFolderCount: 0,
        fraction: 0,
        estimate: startEstimate(message.at),
        // A new run starts with a clean slate; the old errors were about the old run.
        errors: [],
      }));
      return {
        ...started,
        runs: {
          ...state.runs,
          [message.syncId]: {
            flags: message.flags,
            trigger: message.trigger,
            accountIds: message.accountIds,
            startedAt: message.at,
          },
        },
        runErrors: keepRunning(started, state.runErrors),
        pendingSync:
          state.pendingSync?.syncId === message.syncId ||
          (state.pendingSync?.syncId === null && message.trigger === 'user')
            ? null
            : state.pendingSync,
        notice: null,
      };
    }
    case 'progress':
      return updateAccounts(state, [message.accountId], (a) => applyProgress(a, message));
    case 'error':
      return applyError(state, message);
    case 'done': {
      const done = applyDone(state, message);
      const { [message.syncId]: run, ...runs } = state.runs;
      const waited =
        state.pendingSync?.syncId === message.syncId || state.pendingCancel === message.syncId;
      if (done === state && !run && !waited) return state;
      return {
        ...done,
        runs,
        history: run ? addToHistory(state.history, run, message) : state.history,
        pendingSync: state.pendingSync?.syncId === message.syncId ? null : state.pendingSync,
        pendingCancel: state.pendingCancel === message.syncId ? null : state.pendingCancel,
      };
    }
    case 'reply':
      return applyReply(state, message);
    case 'protocolError':
      return { ...state, notice: { code: message.code, message: message.message } };
    case 'agentStopping':
      return { ...state, notice: { code: 'AGENT_STOPPING', message: message.reason } };
    case 'accountState':
      return updateAccounts(state, [message.account.id], (a) => ({ ...a, ...message.account }));
  }
}

function applySnapshot(state: PaneState, snapshot: SnapshotMessage): PaneState {
  const accounts = snapshot.accounts.map((summary): AccountView => {
    const previous = state.accounts.find((a) => a.id === summary.id);
    const run = snapshot.running.find((r) => r.accountIds.includes(summary.id));
    const base: AccountView = previous
      ? { ...previous, ...summary }
      : {
          ...summary,
          activity: activityOfResult(summary.lastResult),
          syncId: null,
          startedAt: null,
          progress: null,
          passFolderIndex: 0,
          passFolderCount: 0,
          fraction: 0,
          estimate: null,
          errors: [],
          lastDone: null,
        };
    if (run) {
      const sameRun = base.syncId === run.syncId;
      const synced: AccountView = {
        ...base,
        activity: 'syncing',
        syncId: run.syncId,
        startedAt: run.startedAt,
        progress: sameRun ? base.progress : null,
        passFolderIndex: sameRun ? base.passFolderIndex : 0,
        passFolderCount: sameRun ? base.passFolderCount : 0,
        fraction: sameRun ? base.fraction : 0,
        estimate: sameRun && base.estimate ? base.estimate : startEstimate(run.startedAt),
        errors: sameRun ? base.errors : base.errors.filter((e) => e.syncId === run.syncId),
      };
      const progress = run.progress.find((p) => p.accountId === summary.id);
      return progress ? applyProgress(synced, progress) : synced;
    }
    // A run we saw start may have ended while we were disconnected, or a whole run came and
    // went while we were away (the agent restarted and synced before this pane was back): the
    // card tells that run, not the one this pane saw last. Its done, if it is replayed after
    // this snapshot, no longer finds the account in the run.
    const latest = snapshot.history.find(
      (h) => h.accountIds.includes(summary.id) && h.result !== null && h.finishedAt !== null,
    );
    if (previous && latest && latest.syncId !== base.lastDone?.syncId) {
      const errors = base.errors.filter((e) => e.syncId === latest.syncId);
      return {
        ...base,
        activity: hasFailure(errors) ? 'error' : activityOfResult(latest.result),
        syncId: null,
        progress: null,
        estimate: null,
        errors,
        lastDone: {
          syncId: latest.syncId,
          result: latest.result!,
          stats: latest.stats ?? emptyStats(),
          durationMs: Math.max(0, latest.finishedAt! - latest.startedAt),
          finishedAt: latest.finishedAt!,
        },
      };
    }
    if (base.activity === 'syncing') {
      return {
        ...base,
        activity: hasFailure(base.errors) ? 'error' : activityOfResult(summary.lastResult),
        syncId: null,
        progress: null,
        estimate: null,
      };
    }
    return base;
  });
  return { ...state, accounts, history: snapshot.history };
}

/** What a pane that did not watch the last run shows: how that run ended. */
function activityOfResult(result: SyncResult | null): AccountActivity {
  return result === 'ok' ? 'done' : result === 'error' ? 'error' : 'idle';
}

function applyProgress(account: AccountView, progress: ProgressEvent): AccountView {
  // Progress of a run other than the one this account is in is stale or foreign: drop it.
  if (account.syncId !== null && account.syncId !== progress.syncId) return account;
  // …and so is a straggler of the run that just ended.
  if (account.syncId === null && account.lastDone?.syncId === progress.syncId) return account;
  const next: AccountView = {
    ...account,
    activity: 'syncing',
    syncId: progress.syncId,
    startedAt: account.startedAt ?? progress.at,
    progress,
  };
  if (progress.step === 'checking-folder') {
    // Folders run in parallel: the latest one started tells how many were taken before it.
    next.passFolderIndex = Math.max(
      account.syncId === null ? 0 : account.passFolderIndex,
      progress.index,
    );
    next.passFolderCount = progress.indexMax;
  }
  next.fraction = Math.max(
    account.syncId === null ? 0 : account.fraction,
    passFraction(next, progress),
  );
  next.estimate = updateEstimate(
    (account.syncId === null ? null : account.estimate) ?? startEstimate(next.startedAt!),
    progress.at,
    progress.bytes,
    next.fraction,
  );
  return next;
}

/** Folders taken before the current one, plus the share of the current one downloaded. */
function passFraction(account: AccountView, p: ProgressEvent): number {
  if (p.step === 'finishing') return 1;
  if (account.passFolderCount === 0) return 0;
  const inFolder = p.step === 'downloading' && p.indexMax > 0 ? p.index / p.indexMax : 0;
  return Math.min(1, (account.passFolderIndex + inFolder) / account.passFolderCount);
}

function applyError(state: PaneState, error: ErrorEvent): PaneState {
  const item: ErrorItem = {
    syncId: error.syncId,
    accountId: error.accountId,
    code: error.code,
    message: error.message,
    hint: error.hint,
    folder: error.folder,
    retryable: error.retryable,
    severity: error.severity ?? 'error',
    flags: state.runs[error.syncId]?.flags ?? null,
    at: error.at,
  };
  const known = error.accountId !== null && state.accounts.some((a) => a.id === error.accountId);
  if (!known) return { ...state, runErrors: [item, ...state.runErrors].slice(0, MAX_ERRORS) };
  return updateAccounts(state, [error.accountId!], (a) => ({
    ...a,
    // "Retrying in 3 s" is only true until the next word on the same failure: keep the latest.
    errors: [
      item,
      ...a.errors.filter(
        (e) => !(e.severity === 'warning' && e.syncId === item.syncId && e.code === item.code),
      ),
    ].slice(0, MAX_ERRORS),
  }));
}

function applyDone(state: PaneState, done: DoneEvent): PaneState {
  const ids = state.accounts.filter((a) => a.syncId === done.syncId).map((a) => a.id);
  return updateAccounts(state, ids, (a) => {
    const failed = hasFailure(a.errors.filter((e) => e.syncId === done.syncId));
    return {
      ...a,
      // "Retrying in 3 s" was true while the run went on; its end says how the retry went.
      errors: a.errors.filter(
        (e) =>
          !(
            e.syncId === done.syncId &&
            e.severity === 'warning' &&
            RETRIED_ERROR_CODES.has(e.code)
          ),
      ),
      activity:
        done.result === 'cancelled' ? 'idle' : failed || done.result === 'error' ? 'error' : 'done',
      syncId: null,
      progress: null,
      estimate: null,
      lastDone: {
        syncId: done.syncId,
        result: done.result,
        stats: done.stats,
        durationMs: Math.max(0, done.finishedAt - done.startedAt),
        finishedAt: done.finishedAt,
      },
      lastSyncAt: done.finishedAt,
      lastResult: done.result,
    };
  });
}

function applyReply(state: PaneState, reply: ReplyMessage): PaneState {
  if (reply.requestId === state.item.requestId) {
    const locations = reply.locations ?? [];
    return {
      ...state,
      item: {
        ...state.item,
        requestId: null,
        locations,
        status: !reply.ok ? 'failed' : locations.length > 0 ? 'found' : 'not-found',
      },
    };
  }
  if (reply.history) return { ...state, history: reply.history.slice(0, SNAPSHOT_HISTORY) };
  const pending = state.pendingSync;
  if (!reply.ok) {
    return {
      ...state,
      pendingSync: pending?.requestId === reply.requestId ? null : pending,
      notice: reply.error ?? { code: 'REFUSED', message: 'The agent turned the request down.' },
    };
  }
  if (pending?.requestId !== reply.requestId) return state;
  // The run may have started (and even ended) before its reply arrived.
  const alreadyStarted =
    !reply.syncId ||
    state.accounts.some((a) => a.syncId === reply.syncId || a.lastDone?.syncId === reply.syncId);
  return {
    ...state,
    pendingSync: alreadyStarted ? null : { requestId: reply.requestId, syncId: reply.syncId! },
  };
}

/** Errors that made something not sync; notices ('info', 'warning') do not count. */
export function hasFailure(errors: readonly ErrorItem[]): boolean {
  return errors.some((e) => e.severity === 'error');
}

/** The run that just ended, newest first, once, within the snapshot's length. */
function addToHistory(history: HistoryEntry[], run: RunInfo, done: DoneEvent): HistoryEntry[] {
  const entry: HistoryEntry = {
    syncId: done.syncId,
    trigger: run.trigger,
    flags: run.flags,
    accountIds: run.accountIds,
    startedAt: done.startedAt,
    finishedAt: done.finishedAt,
    result: done.result,
    stats: done.stats,
  };
  return [entry, ...history.filter((h) => h.syncId !== done.syncId)].slice(0, SNAPSHOT_HISTORY);
}

/** Run-level errors of runs that are over give way when a new run starts. */
function keepRunning(state: PaneState, errors: ErrorItem[]): ErrorItem[] {
  const running = new Set(state.accounts.map((a) => a.syncId).filter((id) => id !== null));
  return errors.filter((e) => running.has(e.syncId));
}

function updateAccounts(
  state: PaneState,
  ids: readonly string[],
  update: (a: AccountView) => AccountView,
): PaneState {
  if (!state.accounts.some((a) => ids.includes(a.id))) return state;
  return { ...state, accounts: state.accounts.map((a) => (ids.includes(a.id) ? update(a) : a)) };
}

// ---------------------------------------------------------------- selectors

/** What the account's progress bar shows, 0…1: full once done, the pass's share while syncing. */
export function overallFraction(account: AccountView): number {
  if (account.activity === 'done') return 1;
  return account.activity === 'syncing' ? account.fraction : 0;
}

/** Smoothed download rate of the running pass, in bytes per second; null before it is known. */
export function downloadRate(account: AccountView): number | null {
  if (account.activity !== 'syncing' || !account.estimate) return null;
  const rate = account.estimate.bytesPerSecond;
  return rate !== null && rate > 0 ? rate : null;
}

/** Milliseconds the running pass still needs, smoothed; null while there is too little to go on. */
export function eta(account: AccountView): number | null {
  if (account.activity !== 'syncing' || !account.estimate) return null;
  return timeLeft(account.estimate);
}

export function isSyncing(state: PaneState): boolean {
  return state.accounts.some((a) => a.activity === 'syncing');
}

/** "Sync now" is offered when connected, with accounts, and nothing is running or starting. */
export function canSyncNow(state: PaneState): boolean {
  return (
    state.connection === 'connected' &&
    state.pairing === 'paired' &&
    state.accounts.length > 0 &&
    state.pendingSync === null &&
    !isSyncing(state)
  );
}
