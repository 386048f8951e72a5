/**
 * The pane's state, derived from the agent's messages only. Pure: no DOM, no sockets, no
 * clock (times come in as arguments), so every transition is unit-tested without a browser.
 */
import {
  type AccountSummary,
  type DoneEvent,
  type ErrorCode,
  PROTOCOL_VERSION,
  type ProgressEvent,
  type ServerMessage,
  type SyncResult,
  type SyncStats,
} from '../../agent/src/protocol/index.js';

export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'not-running' | 'incompatible';
export type AccountActivity = 'idle' | 'syncing' | 'done' | 'error';

export interface ErrorItem {
  syncId: string;
  code: ErrorCode;
  message: string;
  hint: string;
  folder: string | null;
  retryable: boolean;
  at: number;
}

export interface AccountView extends AccountSummary {
  activity: AccountActivity;
  syncId: string | null;
  startedAt: number | null;
  progress: ProgressEvent | null;
  /** Position among the folders of the running pass, from its latest "checking" step. */
  passFolderIndex: number;
  passFolderCount: number;
  errors: ErrorItem[];
  lastDone: { result: SyncResult; stats: SyncStats; durationMs: number; finishedAt: number } | null;
}

export interface PaneState {
  connection: ConnectionState;
  agentVersion: string | null;
  accounts: AccountView[];
  /** The agent's own protocol version when it is not ours. */
  incompatibleVersion: number | null;
}

/** Errors kept per account: the latest run's, plus a few before it. */
const MAX_ERRORS = 10;

export function initialState(): PaneState {
  return { connection: 'connecting', agentVersion: null, accounts: [], incompatibleVersion: null };
}

export function connectionChanged(state: PaneState, connection: ConnectionState): PaneState {
  if (state.connection === 'incompatible') return state;
  return { ...state, connection };
}

export function reduce(state: PaneState, message: ServerMessage): PaneState {
  switch (message.type) {
    case 'hello':
      if (message.protocolVersion !== PROTOCOL_VERSION) {
        return {
          ...state,
          connection: 'incompatible',
          incompatibleVersion: message.protocolVersion,
          agentVersion: message.agentVersion,
        };
      }
      return { ...state, connection: 'connected', agentVersion: message.agentVersion };
    case 'snapshot':
      return applySnapshot(state, message.accounts, message.running);
    case 'syncStarted':
      return updateAccounts(state, message.accountIds, (a) => ({
        ...a,
        activity: 'syncing',
        syncId: message.syncId,
        startedAt: message.at,
        progress: null,
        passFolderIndex: 0,
        passFolderCount: 0,
        // A new run starts with a clean slate; the old errors were about the old run.
        errors: [],
      }));
    case 'progress':
      return updateAccounts(state, [message.accountId], (a) => applyProgress(a, message));
    case 'error': {
      if (!message.accountId) return state;
      const item: ErrorItem = {
        syncId: message.syncId,
        code: message.code,
        message: message.message,
        hint: message.hint,
        folder: message.folder,
        retryable: message.retryable,
        at: message.at,
      };
      return updateAccounts(state, [message.accountId], (a) => ({
        ...a,
        errors: [item, ...a.errors].slice(0, MAX_ERRORS),
      }));
    }
    case 'done':
      return applyDone(state, message);
    case 'reply':
    case 'protocolError':
      return state;
  }
}

function applySnapshot(
  state: PaneState,
  summaries: AccountSummary[],
  running: Array<{
    syncId: string;
    accountIds: string[];
    startedAt: number;
    progress: ProgressEvent[];
  }>,
): PaneState {
  const accounts = summaries.map((summary): AccountView => {
    const previous = state.accounts.find((a) => a.id === summary.id);
    const run = running.find((r) => r.accountIds.includes(summary.id));
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
          errors: [],
          lastDone: null,
        };
    if (run) {
      const progress = run.progress.find((p) => p.accountId === summary.id) ?? null;
      const synced = {
        ...base,
        activity: 'syncing' as const,
        syncId: run.syncId,
        startedAt: run.startedAt,
      };
      return progress ? applyProgress(synced, progress) : synced;
    }
    // A run we saw start may have ended while we were disconnected.
    return base.activity === 'syncing'
      ? { ...base, activity: activityOfResult(summary.lastResult), syncId: null }
      : base;
  });
  return { ...state, accounts };
}

/** What a pane that did not watch the last run shows: how that run ended. */
function activityOfResult(result: SyncResult | null): AccountActivity {
  return result === 'ok' ? 'done' : result === 'error' ? 'error' : 'idle';
}

function applyProgress(account: AccountView, progress: ProgressEvent): AccountView {
  if (account.syncId !== null && account.syncId !== progress.syncId) return account;
  const next: AccountView = { ...account, activity: 'syncing', syncId: progress.syncId, progress };
  if (progress.step === 'checking-folder') {
    next.passFolderIndex = progress.index;
    next.passFolderCount = progress.indexMax;
  }
  return next;
}

function applyDone(state: PaneState, done: DoneEvent): PaneState {
  const ids = state.accounts.filter((a) => a.syncId === done.syncId).map((a) => a.id);
  return updateAccounts(state, ids, (a) => {
    const failed = a.errors.some((e) => e.syncId === done.syncId);
    return {
      ...a,
      activity:
        done.result === 'cancelled' ? 'idle' : failed || done.result === 'error' ? 'error' : 'done',
      syncId: null,
      lastDone: {
        result: done.result,
        stats: done.stats,
        durationMs: done.finishedAt - done.startedAt,
        finishedAt: done.finishedAt,
      },
      lastSyncAt: done.finishedAt,
      lastResult: done.result,
    };
  });
}

function updateAccounts(
  state: PaneState,
  ids: readonly string[],
  update: (a: AccountView) => AccountView,
): PaneState {
  if (ids.length === 0) return state;
  return { ...state, accounts: state.accounts.map((a) => (ids.includes(a.id) ? update(a) : a)) };
}

/** Overall fraction of an account's pass: finished folders plus the share of the current one. */
export function overallFraction(account: AccountView): number {
  if (account.activity === 'done') return 1;
  const p = account.progress;
  if (!p || account.passFolderCount === 0) return 0;
  const inFolder = p.step === 'downloading' && p.indexMax > 0 ? p.index / p.indexMax : 0;
  if (p.step === 'finishing') return 1;
  return Math.min(1, (account.passFolderIndex + inFolder) / account.passFolderCount);
}

/** Average download rate of the running pass, in bytes per second. */
export function downloadRate(account: AccountView, now: number): number | null {
  if (!account.progress || !account.startedAt) return null;
  const seconds = (now - account.startedAt) / 1000;
  return seconds > 0.5 ? account.progress.bytes / seconds : null;
}

export function isSyncing(state: PaneState): boolean {
  return state.accounts.some((a) => a.activity === 'syncing');
}
