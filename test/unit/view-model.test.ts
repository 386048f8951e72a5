import assert from 'node:assert/strict';
import { agentSocketUrl, backoffDelay } from '../../addin/src/connection.js';
import {
  formatAgo,
  formatBytes,
  formatDuration,
  formatTimeLeft,
  lastResultText,
  plural,
} from '../../addin/src/format.js';
import {
  clip,
  itemNotification,
  NOTIFICATION_MAX_CHARS,
} from '../../addin/src/item-notification.js';
import {
  RATE_SAMPLES_KEPT,
  startEstimate,
  timeLeft,
  updateEstimate,
} from '../../addin/src/rate-estimator.js';
import { modeOfFlags, SYNC_MODES, syncMode } from '../../addin/src/sync-modes.js';
import {
  cancelRequested,
  canSyncNow,
  connectionChanged,
  downloadRate,
  eta,
  initialState,
  itemSelected,
  lookupRequested,
  overallFraction,
  pairingChanged,
  reduce,
  syncRequested,
  type PaneState,
} from '../../addin/src/view-model.js';
import {
  emptyStats,
  FULL_SYNC,
  PROTOCOL_VERSION,
  SNAPSHOT_HISTORY,
  type ServerMessage,
  type SyncStep,
} from '../../agent/src/protocol/index.js';

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

const account = {
  id: 'work',
  host: 'imap.example.com',
  folderCount: 7,
  messageCount: 10,
  lastSyncAt: null,
  lastResult: null,
  folders: [],
};

/** Reduces the messages; after each hello the agent accepts the pane's token (see "pairing"). */
function run(messages: ServerMessage[], state: PaneState = initialState()): PaneState {
  return messages.reduce(
    (s, m) => (m.type === 'hello' ? pairingChanged(reduce(s, m), { paired: true }) : reduce(s, m)),
    state,
  );
}

const hello: Msg<'hello'> = {
  type: 'hello',
  protocolVersion: PROTOCOL_VERSION,
  agentVersion: '0.1.0',
  instanceId: 'agent-1',
};
const snapshot: Msg<'snapshot'> = {
  type: 'snapshot',
  history: [],
  lastEventId: 0,
  accounts: [account],
  running: [],
};
const started: Msg<'syncStarted'> = {
  type: 'syncStarted',
  syncId: 's1',
  accountIds: ['work'],
  flags: FULL_SYNC,
  trigger: 'user',
  at: 1000,
};
const progress = (
  step: SyncStep,
  index: number,
  indexMax: number,
  folder: string | null = 'INBOX',
): Msg<'progress'> => ({
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
const error = (over: Partial<Msg<'error'>> = {}): Msg<'error'> => ({
  type: 'error',
  syncId: 's1',
  accountId: 'work',
  code: 'FOLDER_GONE',
  message: 'The folder was deleted on the server',
  hint: 'Nothing to do: the local copy was kept',
  folder: 'Archive',
  retryable: false,
  at: 1500,
  ...over,
});
const done = (over: Partial<Msg<'done'>> = {}): Msg<'done'> => ({
  type: 'done',
  syncId: 's1',
  result: 'ok',
  stats: { ...emptyStats(), downloaded: 10, foldersSynced: 2, bytes: 1000 },
  startedAt: 1000,
  finishedAt: 3300,
  ...over,
});

describe('pane view model', () => {
  it('starts out connecting, with nothing to show and nothing to click', () => {
    const state = initialState();
    assert.equal(state.connection, 'connecting');
    assert.deepEqual(state.accounts, []);
    assert.equal(canSyncNow(state), false);
  });

  it('hello → snapshot → syncStarted → progress → error → done', () => {
    let state = run([hello]);
    assert.equal(state.connection, 'connected');
    assert.equal(state.agentVersion, '0.1.0');

    state = run([snapshot], state);
    assert.deepEqual(
      state.accounts.map((a) => [a.id, a.host, a.folderCount, a.messageCount, a.activity]),
      [['work', 'imap.example.com', 7, 10, 'idle']],
    );
    assert.equal(canSyncNow(state), true);

    state = run([started], state);
    let a = state.accounts[0]!;
    assert.equal(a.activity, 'syncing');
    assert.equal(a.syncId, 's1');
    assert.equal(a.startedAt, 1000);
    assert.equal(canSyncNow(state), false, 'no second sync while one runs');

    state = run(
      [progress('checking-folder', 1, 2, 'Archive'), progress('downloading', 5, 10, 'Archive')],
      state,
    );
    a = state.accounts[0]!;
    assert.equal(a.progress?.step, 'downloading');
    assert.equal(a.progress?.text, 'downloading 5/10');
    assert.equal(a.progress?.folder, 'Archive');
    assert.equal(a.progress?.bytes, 500);
    // One folder of two taken before, half of the current one downloaded.
    assert.equal(overallFraction(a), (1 + 0.5) / 2);
    assert.equal(a.folderCount, 7, 'the account total is not the pass position');

    state = run([error()], state);
    a = state.accounts[0]!;
    assert.equal(a.activity, 'syncing', 'an error in one folder does not stop the run');
    assert.deepEqual(
      a.errors.map((e) => [e.code, e.message, e.hint, e.folder, e.syncId, e.retryable]),
      [
        [
          'FOLDER_GONE',
          'The folder was deleted on the server',
          'Nothing to do: the local copy was kept',
          'Archive',
          's1',
          false,
        ],
      ],
    );

    state = run([done()], state);
    a = state.accounts[0]!;
    assert.equal(a.activity, 'error', 'the run reported an error, so the account needs attention');
    assert.equal(a.syncId, null);
    assert.equal(a.lastDone?.result, 'ok');
    assert.equal(a.lastDone?.durationMs, 2300);
    assert.equal(a.lastDone?.stats.downloaded, 10);
    assert.equal(a.lastSyncAt, 3300);
    assert.equal(a.errors.length, 1, 'errors stay visible after the run');
    assert.equal(canSyncNow(state), true);
  });

  it('a clean run ends done, with a full bar', () => {
    const state = run([hello, snapshot, started, progress('checking-folder', 0, 3), done()]);
    const a = state.accounts[0]!;
    assert.equal(a.activity, 'done');
    assert.equal(overallFraction(a), 1);
    assert.equal(a.progress, null);
  });

  it('a cancelled run leaves the account idle', () => {
    const state = run([hello, snapshot, started, done({ result: 'cancelled' })]);
    assert.equal(state.accounts[0]!.activity, 'idle');
    assert.equal(state.accounts[0]!.lastResult, 'cancelled');
  });

  it('drops a retry notice once its run is over, and keeps the run’s other notices', () => {
    const retrying = error({
      code: 'CONNECTION_LOST',
      severity: 'warning',
      retryable: true,
      folder: null,
      message: 'Connection lost; retrying in 1 s (attempt 1 of 3)',
    });
    const unavailable = error({
      code: 'MESSAGE_UNAVAILABLE',
      severity: 'warning',
      retryable: true,
    });
    const during = run([hello, snapshot, started, retrying, unavailable]);
    assert.deepEqual(
      during.accounts[0]!.errors.map((e) => e.code),
      ['MESSAGE_UNAVAILABLE', 'CONNECTION_LOST'],
      'said while the run retries',
    );
    const after = run([done()], during);
    assert.equal(after.accounts[0]!.activity, 'done');
    assert.deepEqual(
      after.accounts[0]!.errors.map((e) => e.code),
      ['MESSAGE_UNAVAILABLE'],
    );
  });

  it('the next run starts with a clean slate of errors', () => {
    const state = run([hello, snapshot, started, error({ code: 'AUTH_FAILED' })]);
    const next = run([done({ result: 'error' }), { ...started, syncId: 's2' }], state);
    assert.deepEqual(next.accounts[0]!.errors, []);
    assert.equal(next.accounts[0]!.syncId, 's2');
  });

  it('the bar never goes back while folders run in parallel', () => {
    const state = run([
      hello,
      snapshot,
      started,
      progress('checking-folder', 0, 4),
      progress('checking-folder', 1, 4),
      progress('downloading', 9, 10),
    ]);
    const high = overallFraction(state.accounts[0]!);
    // A late event of the first folder would compute less; the bar keeps its place.
    const later = run([progress('checking-folder', 0, 4)], state);
    assert.ok(overallFraction(later.accounts[0]!) >= high);
    assert.equal(overallFraction(run([progress('finishing', 4, 4, null)], later).accounts[0]!), 1);
  });

  describe('an incompatible agent', () => {
    const other = { ...hello, protocolVersion: PROTOCOL_VERSION + 1, agentVersion: '9.0.0' };

    it('is refused, and stays refused across reconnects', () => {
      let state = run([other]);
      assert.equal(state.connection, 'incompatible');
      assert.equal(state.incompatibleVersion, PROTOCOL_VERSION + 1);
      assert.equal(state.agentVersion, '9.0.0');
      assert.equal(canSyncNow(state), false);
      state = connectionChanged(state, 'reconnecting');
      assert.equal(state.connection, 'incompatible');
    });

    it('has what it says next ignored', () => {
      const state = run([other, snapshot, started]);
      assert.deepEqual(state.accounts, []);
    });

    it('is forgotten once an agent of our version says hello', () => {
      const state = run([other, hello, snapshot]);
      assert.equal(state.connection, 'connected');
      assert.equal(state.incompatibleVersion, null);
      assert.equal(state.accounts.length, 1);
    });
  });

  describe('progress it cannot place', () => {
    it('ignores progress of a run other than the account’s current one', () => {
      const state = run([
        hello,
        snapshot,
        started,
        { ...progress('downloading', 1, 2), syncId: 'x' },
      ]);
      assert.equal(state.accounts[0]!.progress, null);
      assert.equal(state.accounts[0]!.syncId, 's1');
    });

    it('ignores progress for an account it does not know', () => {
      const before = run([hello, snapshot]);
      const after = run([{ ...progress('downloading', 1, 2), accountId: 'nobody' }], before);
      assert.equal(after, before);
    });

    it('ignores a straggler of the run that just ended', () => {
      const state = run([hello, snapshot, started, done(), progress('downloading', 1, 2)]);
      assert.equal(state.accounts[0]!.activity, 'done');
      assert.equal(state.accounts[0]!.progress, null);
    });

    it('adopts the run of a progress event when it missed the run’s start', () => {
      const state = run([hello, snapshot, progress('downloading', 1, 2)]);
      assert.equal(state.accounts[0]!.activity, 'syncing');
      assert.equal(state.accounts[0]!.syncId, 's1');
    });

    it('ignores a done for a run it never saw', () => {
      const before = run([hello, snapshot]);
      assert.equal(run([done({ syncId: 'elsewhere' })], before), before);
    });
  });

  it('keeps errors without an account (or of an unknown one) as run errors', () => {
    let state = run([
      hello,
      snapshot,
      started,
      error({ accountId: null, code: 'INTERNAL', folder: null }),
      error({ accountId: 'ghost' }),
    ]);
    assert.deepEqual(
      state.runErrors.map((e) => e.code),
      ['FOLDER_GONE', 'INTERNAL'],
    );
    assert.deepEqual(state.accounts[0]!.errors, []);
    // They stay while their run does, and go when a later run starts after it ended.
    state = run([done({ result: 'error' }), { ...started, syncId: 's2' }], state);
    assert.deepEqual(state.runErrors, []);
  });

  describe('"Sync now"', () => {
    const ready = run([hello, snapshot]);

    it('is busy from the click until its run starts', () => {
      let state = syncRequested(ready, 'r1');
      assert.equal(canSyncNow(state), false);
      state = run([{ type: 'reply', requestId: 'r1', ok: true, syncId: 's1' }], state);
      assert.deepEqual(state.pendingSync, { requestId: 'r1', syncId: 's1' });
      state = run([started], state);
      assert.equal(state.pendingSync, null);
    });

    it('also when the run starts before its reply arrives', () => {
      let state = run([started], syncRequested(ready, 'r1'));
      assert.equal(state.pendingSync, null);
      state = run([{ type: 'reply', requestId: 'r1', ok: true, syncId: 's1' }], state);
      assert.equal(state.pendingSync, null);
    });

    it('says why when the agent turns it down', () => {
      const state = run(
        [
          {
            type: 'reply',
            requestId: 'r1',
            ok: false,
            error: { code: 'INTERNAL', message: 'disk on fire' },
          },
        ],
        syncRequested(ready, 'r1'),
      );
      assert.equal(state.pendingSync, null);
      assert.deepEqual(state.notice, { code: 'INTERNAL', message: 'disk on fire' });
      assert.equal(canSyncNow(state), true);
      // The next click clears the old notice.
      assert.equal(syncRequested(state, 'r2').notice, null);
    });

    it('is given up when the connection drops (its reply cannot come)', () => {
      const state = connectionChanged(syncRequested(ready, 'r1'), 'reconnecting');
      assert.equal(state.pendingSync, null);
      assert.equal(state.connection, 'reconnecting');
      assert.equal(canSyncNow(state), false);
    });

    it('is not offered without accounts', () => {
      assert.equal(canSyncNow(run([hello, { ...snapshot, accounts: [] }])), false);
    });
  });

  describe('pairing', () => {
    it('offers no sync until the agent accepts the pane, and asks for a code when refused', () => {
      const connected = [hello, snapshot].reduce(reduce, initialState());
      assert.equal(connected.pairing, 'unknown');
      assert.equal(canSyncNow(connected), false, 'not before the token is accepted');
      const refused = pairingChanged(connected, { paired: false, error: 'that code is wrong' });
      assert.equal(refused.pairing, 'unpaired');
      assert.equal(refused.pairingError, 'that code is wrong');
      assert.equal(canSyncNow(refused), false);
      const paired = pairingChanged(refused, { paired: true });
      assert.equal(paired.pairingError, null);
      assert.equal(canSyncNow(paired), true);
      // A new connection (agent restarted) shows its token again before anything is allowed.
      assert.equal(reduce(paired, hello).pairing, 'unknown');
    });
  });

  describe('agent messages beyond sync events', () => {
    it('take new counts from accountState and say when the agent stops', () => {
      const state = run([
        hello,
        snapshot,
        {
          type: 'accountState',
          account: {
            ...account,
            messageCount: 42,
            folders: [{ path: 'INBOX', messageCount: 42, partialCount: 2, lastSyncAt: 9 }],
          },
        },
        { type: 'agentStopping', reason: 'the agent is stopping' },
      ]);
      assert.equal(state.accounts[0]!.messageCount, 42);
      assert.equal(state.accounts[0]!.folders[0]!.partialCount, 2);
      assert.equal(state.notice?.code, 'AGENT_STOPPING');
      // Back again: the agent's going away is no news any more.
      assert.equal(run([hello], state).notice, null);
    });

    it('tell the run that came and went while the pane was away, not the last one it saw', () => {
      const cancelled = run([
        hello,
        snapshot,
        started,
        {
          type: 'done',
          syncId: 's1',
          result: 'cancelled',
          stats: emptyStats(),
          startedAt: 1000,
          finishedAt: 2000,
        },
      ]);
      assert.equal(cancelled.accounts[0]!.activity, 'idle');
      // The agent restarted and synced before the pane was back.
      const missed = {
        syncId: 's2',
        trigger: 'schedule' as const,
        flags: FULL_SYNC,
        accountIds: ['work'],
        startedAt: 5000,
        finishedAt: 7000,
        result: 'ok' as const,
        stats: { ...emptyStats(), downloaded: 888 },
      };
      const back = run(
        [
          { ...hello, instanceId: 'agent-2' },
          {
            ...snapshot,
            accounts: [{ ...account, lastSyncAt: 7000, lastResult: 'ok' }],
            history: [missed, { ...missed, syncId: 's1', result: 'cancelled', finishedAt: 2000 }],
          },
        ],
        cancelled,
      );
      const card = back.accounts[0]!;
      assert.equal(card.activity, 'done');
      assert.deepEqual(
        [card.lastDone?.syncId, card.lastDone?.result, card.lastDone?.stats.downloaded],
        ['s2', 'ok', 888],
      );
      // The same snapshot again changes nothing.
      const again = run(
        [
          {
            ...snapshot,
            accounts: [{ ...account, lastSyncAt: 7000, lastResult: 'ok' }],
            history: [missed],
          },
        ],
        back,
      );
      assert.deepEqual(again.accounts[0]!.lastDone, card.lastDone);
    });

    it('tell how the run it saw start ended while the pane was away, then its replayed events', () => {
      const first = run([hello, snapshot, started, done()]);
      const second = { ...started, syncId: 's2', at: 5000 };
      // The pane sees the next run start, then loses the connection until it is over.
      const away = connectionChanged(run([second], first), 'reconnecting');
      const missed = {
        syncId: 's2',
        trigger: 'user' as const,
        flags: FULL_SYNC,
        accountIds: ['work'],
        startedAt: 5000,
        finishedAt: 9000,
        result: 'error' as const,
        stats: { ...emptyStats(), downloaded: 3, foldersFailed: 1 },
      };
      const failure = error({ syncId: 's2', at: 6000 });
      // The same agent: the snapshot, then the error and done the pane missed.
      const back = run(
        [
          hello,
          {
            ...snapshot,
            accounts: [{ ...account, lastSyncAt: 9000, lastResult: 'error' }],
            history: [missed],
          },
          failure,
          done({
            syncId: 's2',
            result: 'error',
            stats: missed.stats,
            startedAt: 5000,
            finishedAt: 9000,
          }),
        ],
        away,
      );
      const card = back.accounts[0]!;
      assert.equal(card.activity, 'error');
      assert.equal(card.syncId, null);
      // Not the run before it, which downloaded 10 and ended well.
      assert.deepEqual(
        [card.lastDone?.syncId, card.lastDone?.result, card.lastDone?.stats.downloaded],
        ['s2', 'error', 3],
      );
      assert.deepEqual(
        card.errors.map((e) => e.syncId),
        ['s2'],
      );
      assert.deepEqual(
        back.history.map((h) => [h.syncId, h.result]),
        [['s2', 'error']],
      );
    });

    it('keep the pane paired, saying why, when the agent will not take its token just now', () => {
      const refused = pairingChanged(run([hello, snapshot]), {
        paired: 'later',
        reason: 'too many wrong tokens or codes just now; wait a minute and try again',
      });
      assert.equal(refused.pairing, 'unknown', 'no pairing form');
      assert.equal(refused.notice?.code, 'SIGN_IN_DEFERRED');
      assert.match(refused.notice!.message, /too many wrong tokens.*still paired/);
      const back = pairingChanged(refused, { paired: true });
      assert.deepEqual([back.pairing, back.notice], ['paired', null]);
    });

    it('keep the history the snapshot brings', () => {
      const entry = {
        syncId: 's0',
        trigger: 'schedule' as const,
        flags: FULL_SYNC,
        accountIds: ['work'],
        startedAt: 1,
        finishedAt: 2,
        result: 'ok' as const,
        stats: emptyStats(),
      };
      const state = run([hello, { ...snapshot, history: [entry] }]);
      assert.deepEqual(state.history, [entry]);
    });
  });

  describe('snapshots', () => {
    it('resume a running sync after reconnecting', () => {
      const p = progress('downloading', 3, 4);
      const state = run([
        hello,
        {
          type: 'snapshot',
          history: [],
          lastEventId: 0,
          accounts: [account],
          running: [{ syncId: 's1', accountIds: ['work'], startedAt: 1000, progress: [p] }],
        },
      ]);
      assert.equal(state.accounts[0]!.activity, 'syncing');
      assert.equal(state.accounts[0]!.progress?.index, 3);
      // …and forget it when the next snapshot no longer lists it (it ended while we were away).
      assert.equal(run([snapshot], state).accounts[0]!.activity, 'idle');
    });

    it('update the counts after a run and keep how it ended', () => {
      const state = run([
        hello,
        snapshot,
        started,
        done(),
        { ...snapshot, accounts: [{ ...account, messageCount: 200, folderCount: 3 }] },
      ]);
      const a = state.accounts[0]!;
      assert.equal(a.messageCount, 200);
      assert.equal(a.folderCount, 3);
      assert.equal(a.activity, 'done');
      assert.equal(a.lastDone?.stats.downloaded, 10);
    });

    it('show how the last run ended when the pane did not watch it', () => {
      const activity = (lastResult: 'ok' | 'error' | 'cancelled' | null) =>
        run([
          hello,
          {
            type: 'snapshot',
            history: [],
            lastEventId: 0,
            accounts: [{ ...account, lastResult, lastSyncAt: lastResult ? 5 : null }],
            running: [],
          },
        ]).accounts[0]!.activity;
      assert.equal(activity('ok'), 'done');
      assert.equal(activity('error'), 'error');
      assert.equal(activity('cancelled'), 'idle');
      assert.equal(activity(null), 'idle');
    });

    it('drop accounts the agent no longer has', () => {
      const state = run([hello, snapshot, { ...snapshot, accounts: [] }]);
      assert.deepEqual(state.accounts, []);
    });
  });

  it('keeps the connection states the socket reports', () => {
    let state = connectionChanged(initialState(), 'not-running');
    assert.equal(state.connection, 'not-running');
    state = run([hello], connectionChanged(state, 'connecting'));
    assert.equal(state.connection, 'connected');
  });
});

describe('pane connection helpers', () => {
  it('backs off exponentially, capped at 10 s', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map(backoffDelay),
      [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
    );
  });

  it('talks to the same host as the page', () => {
    assert.equal(
      agentSocketUrl({ protocol: 'https:', host: 'localhost:4643' }),
      'wss://localhost:4643/ws',
    );
    assert.equal(
      agentSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }),
      'ws://127.0.0.1:8080/ws',
    );
  });
});

describe('pane formats', () => {
  it('says how long ago, how big and how it went', () => {
    assert.equal(formatAgo(0, 10_000), 'just now');
    assert.equal(formatAgo(0, 120_000), '2 min ago');
    assert.equal(formatAgo(0, 3 * 3_600_000), '3 h ago');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(5.1 * 1048576), '5.1 MB');
    assert.equal(plural(1, 'folder'), '1 folder');
    assert.equal(plural(4210, 'message'), '4,210 messages');
    assert.equal(
      lastResultText(
        'ok',
        { ...emptyStats(), downloaded: 200, foldersSynced: 3, bytes: 4.1 * 1048576 },
        2300,
      ),
      'Done · 200 downloaded · 3 folders · 4.1 MB in 2.3 s',
    );
  });

  it('round once, to what they show, at every boundary', () => {
    // A smoothed rate is a fraction of a byte per second.
    assert.equal(formatBytes(537.333), '537 B');
    assert.equal(formatBytes(1023.7), '1.0 KB');
    assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MB');
    assert.equal(formatDuration(999.6), '1.0 s');
    assert.equal(formatDuration(59_960), '1 min 0 s');
    assert.equal(formatDuration(119_600), '2 min 0 s');
    assert.equal(formatTimeLeft(57_600), 'about 1 min left');
  });
});

/** A download progress sample of run s1 at `at` ms, `bytes` in so far, `index` of 100 done. */
const sample = (at: number, bytes: number, index: number): Msg<'progress'> => ({
  type: 'progress',
  syncId: 's1',
  accountId: 'work',
  folder: 'INBOX',
  step: 'downloading',
  text: `Downloading messages ${index} of 100 in INBOX`,
  index,
  indexMax: 100,
  bytes,
  at,
});

describe('pane rate and time left', () => {
  it('measure a steady download exactly', () => {
    let e = startEstimate(0);
    for (let t = 1; t <= 10; t++) e = updateEstimate(e, t * 1000, t * 100_000, t / 20);
    assert.ok(Math.abs(e.bytesPerSecond! - 100_000) < 1e-6);
    // Half done at 1/20 per second: 10 s left.
    assert.ok(Math.abs(timeLeft(e)! - 10_000) < 1e-6);
  });

  it('smooth a burst instead of jumping to it', () => {
    let e = startEstimate(0);
    for (let t = 1; t <= 10; t++) e = updateEstimate(e, t * 1000, t * 100_000, t / 100);
    // One second at ten times the rate…
    e = updateEstimate(e, 11_000, 1_000_000 + 1_000_000, 0.11);
    const rate = e.bytesPerSecond!;
    // …moves the average by 1 - e^(-1/5) ≈ 18 % of the difference, not all the way.
    assert.ok(rate > 100_000 && rate < 1_000_000, String(rate));
    assert.ok(Math.abs(rate - (100_000 + (1 - Math.exp(-0.2)) * 900_000)) < 1e-6);
  });

  it('merge samples that come too close together, and never go backwards', () => {
    let e = startEstimate(0);
    e = updateEstimate(e, 1000, 1000, 0.1);
    const before = e;
    assert.equal(updateEstimate(e, 1100, 5000, 0.2), before, 'a 100 ms gap is not measured');
    e = updateEstimate(e, 2000, 500, 0.05);
    assert.equal(e.bytesPerSecond! < before.bytesPerSecond!, true);
    assert.equal(e.lastBytes, 1000);
    assert.equal(e.lastFraction, 0.1);
  });

  it('guess no time left too early, nor when nothing moves', () => {
    let e = startEstimate(0);
    e = updateEstimate(e, 1000, 1000, 0.5);
    assert.equal(timeLeft(e), null, 'after one second');
    e = updateEstimate(startEstimate(0), 3000, 0, 0);
    assert.equal(timeLeft(e), null, 'nothing done yet');
  });

  it('keep a bounded series for the chart', () => {
    let e = startEstimate(0);
    for (let t = 1; t <= RATE_SAMPLES_KEPT + 15; t++) e = updateEstimate(e, t * 1000, t * 10, 0);
    assert.equal(e.samples.length, RATE_SAMPLES_KEPT);
  });

  it('reach the account card from progress events, and end with the run', () => {
    let state = run([hello, snapshot, { ...started, at: 0 }]);
    assert.equal(downloadRate(state.accounts[0]!), null, 'nothing measured yet');
    state = run(
      [
        { ...progress('checking-folder', 0, 1), at: 0 },
        sample(1000, 50_000, 10),
        sample(2000, 100_000, 20),
        sample(3000, 150_000, 30),
      ],
      state,
    );
    const a = state.accounts[0]!;
    assert.ok(Math.abs(downloadRate(a)! - 50_000) < 1e-6);
    // 30 % done at 10 % a second.
    assert.ok(Math.abs(eta(a)! - 7000) < 1e-6, String(eta(a)));
    state = run([done({ startedAt: 0, finishedAt: 4000 })], state);
    assert.equal(downloadRate(state.accounts[0]!), null);
    assert.equal(eta(state.accounts[0]!), null);
  });

  it('are worded for people', () => {
    assert.equal(formatTimeLeft(4000), 'a few seconds left');
    assert.equal(formatTimeLeft(42_000), 'about 40 s left');
    assert.equal(formatTimeLeft(185_000), 'about 3 min left');
    assert.equal(formatTimeLeft(80 * 60_000), 'about 1 h 20 min left');
  });
});

describe('pane history, notices, retry and cancel', () => {
  it('adds each run this pane saw to the history, newest first, at most 20', () => {
    let state = run([hello, snapshot]);
    for (let i = 1; i <= SNAPSHOT_HISTORY + 3; i++) {
      const syncId = `s${i}`;
      state = run(
        [
          { ...started, syncId, at: i * 100, flags: syncMode('download').flags },
          done({ syncId, startedAt: i * 100, finishedAt: i * 100 + 50 }),
        ],
        state,
      );
    }
    assert.equal(state.history.length, SNAPSHOT_HISTORY);
    assert.equal(state.history[0]!.syncId, `s${SNAPSHOT_HISTORY + 3}`);
    assert.equal(state.history[0]!.result, 'ok');
    assert.equal(state.history[0]!.stats?.downloaded, 10);
    assert.equal(modeOfFlags(state.history[0]!.flags)?.id, 'download');
    assert.deepEqual(state.runs, {}, 'finished runs are not kept');
  });

  it('takes the agent’s history from a getHistory reply', () => {
    const entry = {
      syncId: 'x',
      trigger: 'cli' as const,
      flags: FULL_SYNC,
      accountIds: ['work'],
      startedAt: 1,
      finishedAt: 2,
      result: 'error' as const,
      stats: emptyStats(),
    };
    const state = run([
      hello,
      snapshot,
      { type: 'reply', requestId: 'h', ok: true, history: [entry] },
    ]);
    assert.deepEqual(state.history, [entry]);
    assert.equal(state.notice, null);
  });

  it('shows an info-severity error as a notice: the run still ends done', () => {
    const state = run([
      hello,
      snapshot,
      started,
      error({ code: 'UIDVALIDITY_CHANGED', severity: 'info', retryable: false }),
      done(),
    ]);
    const a = state.accounts[0]!;
    assert.equal(a.activity, 'done');
    assert.equal(a.errors[0]!.severity, 'info');
    // An error without a severity is an error, as agents before the field meant.
    const failed = run([hello, snapshot, started, error(), done()]);
    assert.equal(failed.accounts[0]!.errors[0]!.severity, 'error');
    assert.equal(failed.accounts[0]!.activity, 'error');
  });

  it('keeps only the latest word of a failure the agent retries', () => {
    const lost = { code: 'CONNECTION_LOST' as const, retryable: true, folder: null };
    const state = run([
      hello,
      snapshot,
      started,
      error({ ...lost, severity: 'warning', message: 'lost; retrying in 1 s' }),
      error({ ...lost, severity: 'warning', message: 'lost; retrying in 3 s' }),
      error({ code: 'FOLDER_GONE', severity: 'warning' }),
      error({ ...lost, message: 'lost' }),
    ]);
    assert.deepEqual(
      state.accounts[0]!.errors.map((e) => [e.code, e.severity, e.message]),
      [
        ['CONNECTION_LOST', 'error', 'lost'],
        ['FOLDER_GONE', 'warning', 'The folder was deleted on the server'],
      ],
    );
  });

  it('remembers what a failed run was asked to do, for Retry', () => {
    const flags = syncMode('headers').flags;
    const state = run([
      hello,
      snapshot,
      { ...started, flags },
      error({ code: 'CONNECTION_LOST', retryable: true }),
    ]);
    assert.deepEqual(state.accounts[0]!.errors[0]!.flags, flags);
    assert.equal(state.accounts[0]!.errors[0]!.retryable, true);
  });

  it('shows Cancel under way until the run is done', () => {
    let state = run([hello, snapshot, started]);
    state = cancelRequested(state, 's1');
    assert.equal(state.pendingCancel, 's1');
    state = run([done({ result: 'cancelled' })], state);
    assert.equal(state.pendingCancel, null);
    assert.equal(state.accounts[0]!.activity, 'idle');
  });

  it('offers four ways to sync, each a user request', () => {
    assert.deepEqual(
      SYNC_MODES.map((m) => m.id),
      ['full', 'download', 'upload', 'headers'],
    );
    for (const mode of SYNC_MODES) {
      assert.equal(mode.flags.onDemand, true, mode.id);
      assert.equal(modeOfFlags(mode.flags), mode);
    }
    assert.equal(syncMode('upload').flags.downloadContents, false);
    assert.equal(syncMode('headers').flags.headersOnly, true);
  });
});

describe('pane and the Outlook item', () => {
  const location = {
    accountId: 'work',
    folder: 'INBOX',
    uid: 7,
    size: 1234,
    partial: false,
    syncedAt: 5000,
  };

  it('looks the selected message up and shows where it is stored', () => {
    let state = run([hello, snapshot]);
    state = itemSelected(state, { internetMessageId: '<a@b>', subject: 'Hi' });
    assert.equal(state.item.status, 'pending');
    state = lookupRequested(state, 'r1');
    // Another reply does not answer the lookup.
    state = run([{ type: 'reply', requestId: 'other', ok: true }], state);
    assert.equal(state.item.status, 'pending');
    state = run([{ type: 'reply', requestId: 'r1', ok: true, locations: [location] }], state);
    assert.equal(state.item.status, 'found');
    assert.deepEqual(state.item.locations, [location]);

    state = lookupRequested(itemSelected(state, { internetMessageId: '<c@d>', subject: '' }), 'r2');
    state = run([{ type: 'reply', requestId: 'r2', ok: true, locations: [] }], state);
    assert.equal(state.item.status, 'not-found');
  });

  it('has nothing to look up while composing or with nothing selected', () => {
    const state = itemSelected(run([hello, snapshot]), { internetMessageId: null, subject: '' });
    assert.equal(state.item.status, 'none');
    assert.equal(itemSelected(state, null).item.status, 'none');
  });

  it('gives up a lookup when the connection drops, and says so', () => {
    let state = lookupRequested(
      itemSelected(run([hello, snapshot]), { internetMessageId: '<a@b>', subject: '' }),
      'r1',
    );
    state = connectionChanged(state, 'reconnecting');
    assert.equal(state.item.status, 'failed');
    assert.equal(
      lookupRequested(itemSelected(state, { internetMessageId: '<a@b>', subject: '' }), null).item
        .status,
      'failed',
    );
  });

  it('notifies progress, then done, under one key', () => {
    let state = run([hello, snapshot]);
    assert.equal(itemNotification(state), null, 'nothing happened yet');
    state = run(
      [started, progress('checking-folder', 1, 2), progress('downloading', 5, 10)],
      state,
    );
    assert.deepEqual(itemNotification(state), {
      kind: 'progress',
      message: 'StoreSync is syncing work: 70% done',
    });
    state = run([done()], state);
    assert.deepEqual(itemNotification(state), {
      kind: 'info',
      message: 'StoreSync: work up to date, 10 new messages stored offline.',
    });
  });

  it('notifies an error with its hint, within Outlook’s length limit', () => {
    const long = 'x '.repeat(200);
    const state = run([hello, snapshot, started, error({ hint: long }), done()]);
    const n = itemNotification(state)!;
    assert.equal(n.kind, 'error');
    assert.match(n.message, /^StoreSync: work \(Archive\): The folder was deleted on the server x/);
    assert.ok(n.message.length <= NOTIFICATION_MAX_CHARS, String(n.message.length));
    assert.ok(n.message.endsWith('…'));
    assert.equal(clip('short'), 'short');
  });
});
