import assert from 'node:assert/strict';
import { lastResultText, formatAgo, formatBytes } from '../../addin/src/format.js';
import {
  connectionChanged,
  initialState,
  overallFraction,
  reduce,
  type PaneState,
} from '../../addin/src/view-model.js';
import {
  emptyStats,
  FULL_SYNC,
  PROTOCOL_VERSION,
  type ServerMessage,
} from '../../agent/src/protocol/index.js';

const account = {
  id: 'work',
  host: 'imap.example.com',
  folderCount: 7,
  messageCount: 10,
  lastSyncAt: null,
  lastResult: null,
};

function run(messages: ServerMessage[], state: PaneState = initialState()): PaneState {
  return messages.reduce(reduce, state);
}

const hello: ServerMessage = {
  type: 'hello',
  protocolVersion: PROTOCOL_VERSION,
  agentVersion: '0.1.0',
};
const snapshot: ServerMessage = { type: 'snapshot', accounts: [account], running: [] };
const started: ServerMessage = {
  type: 'syncStarted',
  syncId: 's1',
  accountIds: ['work'],
  flags: FULL_SYNC,
  trigger: 'user',
  at: 1000,
};
const progress = (
  step: 'checking-folder' | 'downloading',
  index: number,
  indexMax: number,
  folder = 'INBOX',
): ServerMessage => ({
  type: 'progress',
  syncId: 's1',
  accountId: 'work',
  folder,
  step,
  text: `${step} ${index}/${indexMax}`,
  index,
  indexMax,
  bytes: index * 100,
  at: 2000,
});

describe('pane view model', () => {
  it('connects on hello and lists accounts from the snapshot', () => {
    const state = run([hello, snapshot]);
    assert.equal(state.connection, 'connected');
    assert.equal(state.agentVersion, '0.1.0');
    assert.deepEqual(
      state.accounts.map((a) => [a.id, a.activity]),
      [['work', 'idle']],
    );
  });

  it('refuses an agent speaking another protocol version, and stays refused', () => {
    let state = run([{ ...hello, protocolVersion: PROTOCOL_VERSION + 1 } as ServerMessage]);
    assert.equal(state.connection, 'incompatible');
    assert.equal(state.incompatibleVersion, PROTOCOL_VERSION + 1);
    state = connectionChanged(state, 'reconnecting');
    assert.equal(state.connection, 'incompatible');
  });

  it('follows a sync: started → folder progress → overall fraction → done', () => {
    let state = run([hello, snapshot, started]);
    assert.equal(state.accounts[0]!.activity, 'syncing');
    state = run(
      [progress('checking-folder', 1, 2, 'Archive'), progress('downloading', 5, 10, 'Archive')],
      state,
    );
    const a = state.accounts[0]!;
    assert.equal(a.progress?.text, 'downloading 5/10');
    assert.equal(overallFraction(a), (1 + 0.5) / 2);
    assert.equal(a.folderCount, 7, 'the account total is not the pass position');
    state = run(
      [
        {
          type: 'done',
          syncId: 's1',
          result: 'ok',
          stats: { ...emptyStats(), downloaded: 10 },
          startedAt: 1000,
          finishedAt: 3000,
        },
      ],
      state,
    );
    const done = state.accounts[0]!;
    assert.equal(done.activity, 'done');
    assert.equal(done.lastDone?.durationMs, 2000);
    assert.equal(done.lastSyncAt, 3000);
    assert.equal(overallFraction(done), 1);
  });

  it('marks the account as needing attention when its run reported an error', () => {
    const state = run([
      hello,
      snapshot,
      started,
      {
        type: 'error',
        syncId: 's1',
        accountId: 'work',
        code: 'AUTH_FAILED',
        message: 'Login refused',
        hint: 'Check the password',
        folder: null,
        retryable: false,
        at: 1500,
      },
      {
        type: 'done',
        syncId: 's1',
        result: 'error',
        stats: emptyStats(),
        startedAt: 1000,
        finishedAt: 2000,
      },
    ]);
    const a = state.accounts[0]!;
    assert.equal(a.activity, 'error');
    assert.equal(a.errors[0]?.hint, 'Check the password');
    // The next run starts clean.
    assert.deepEqual(
      run([{ ...started, syncId: 's2' } as ServerMessage], state).accounts[0]!.errors,
      [],
    );
  });

  it('ignores progress of a run other than the account’s current one', () => {
    const state = run([
      hello,
      snapshot,
      started,
      { ...progress('downloading', 1, 2), syncId: 'other' } as ServerMessage,
    ]);
    assert.equal(state.accounts[0]!.progress, null);
  });

  it('resumes a running sync from a snapshot after reconnecting', () => {
    const p = progress('downloading', 3, 4) as Extract<ServerMessage, { type: 'progress' }>;
    const state = run([
      hello,
      {
        type: 'snapshot',
        accounts: [account],
        running: [{ syncId: 's1', accountIds: ['work'], startedAt: 1000, progress: [p] }],
      },
    ]);
    assert.equal(state.accounts[0]!.activity, 'syncing');
    assert.equal(state.accounts[0]!.progress?.index, 3);
    // …and forgets it when the next snapshot no longer lists it (it ended while we were away).
    assert.equal(run([snapshot], state).accounts[0]!.activity, 'idle');
  });
});

describe('pane view model, fresh pane', () => {
  it('shows how the last run ended when it did not watch it', () => {
    const withResult = (lastResult: 'ok' | 'error' | null) =>
      run([
        hello,
        {
          type: 'snapshot',
          accounts: [{ ...account, lastResult, lastSyncAt: lastResult ? 5 : null }],
          running: [],
        },
      ]).accounts[0]!.activity;
    assert.equal(withResult('ok'), 'done');
    assert.equal(withResult('error'), 'error');
    assert.equal(withResult(null), 'idle');
  });
});

describe('pane formats', () => {
  it('says how long ago, how big and how it went', () => {
    assert.equal(formatAgo(0, 10_000), 'just now');
    assert.equal(formatAgo(0, 120_000), '2 min ago');
    assert.equal(formatAgo(0, 3 * 3_600_000), '3 h ago');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(5.1 * 1048576), '5.1 MB');
    assert.equal(
      lastResultText(
        'ok',
        { ...emptyStats(), downloaded: 200, foldersSynced: 3, bytes: 4.1 * 1048576 },
        2300,
      ),
      'Done · 200 downloaded · 3 folders · 4.1 MB in 2.3 s',
    );
  });
});
