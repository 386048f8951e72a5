/**
 * The agent's background work: a sync when it starts, and new mail announced by IDLE synced
 * without anyone asking, including mail that arrives while a run is busy.
 */
import assert from 'node:assert/strict';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { type DoneEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import type { SyncEngine } from '../../agent/src/sync/engine.js';
import { silentLogger } from '../../agent/src/sync/logger.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { SyncScheduler } from '../../agent/src/sync/scheduler.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

/** Resolves when `check` holds, polling; rejects with `what` after a generous limit. */
async function eventually(
  what: string,
  check: () => Promise<boolean>,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('background sync and IDLE push', function () {
  let fixture: SyncFixture;
  let engine: SyncEngine;
  let scheduler: SyncScheduler;
  const dones: DoneEvent[] = [];
  const inboxHas = async (raw: Buffer) =>
    (await readMaildirFolder(fixture.folderDir('INBOX'))).some((m) => m.data.equals(crlfToLf(raw)));

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 10, folders: ['INBOX', 'Archive'], seed: 61 }),
      account: { syncIntervalSeconds: 3600 },
    });
    engine = fixture.engine();
    engine.onEvent((e) => e.type === 'done' && dones.push(e));
    scheduler = new SyncScheduler(engine, [fixture.account], silentLogger);
    scheduler.start();
  });

  after(async () => {
    await scheduler?.stop();
    await engine?.stop();
    await fixture?.cleanup();
  });

  it('syncs everything when it starts', async () => {
    await eventually('the first background run', async () => dones.length > 0);
    assert.equal(dones[0]!.result, 'ok');
    assert.equal(dones[0]!.stats.downloaded, 10);
  });

  it('brings new INBOX mail in when the server announces it, without being asked', async () => {
    const [message] = generateMailbox({ count: 1, folders: ['INBOX'], seed: 62 });
    await fixture.dovecot.appendMessages([message!]);
    await eventually('the new message file in INBOX', () => inboxHas(message!.raw));
  });

  it('does not lose an announcement that arrives while a run is busy', async () => {
    // A burst: the first message starts a run, the rest arrive while it is running.
    const burst = generateMailbox({ count: 5, folders: ['INBOX'], seed: 63 });
    for (const message of burst) await fixture.dovecot.appendMessages([message]);
    await eventually('every message of the burst in INBOX', async () => {
      for (const message of burst) if (!(await inboxHas(message.raw))) return false;
      return true;
    });
  });

  it('starts nothing once stopped, not even the run it queued behind a busy one', async () => {
    // This block's own watch is done with: a late announcement of the burst above would
    // start a background run of its own while this one looks.
    await scheduler.stop();
    const started: string[] = [];
    const off = engine.onEvent((e) => void (e.type === 'syncStarted' && started.push(e.trigger)));
    try {
      const busy = engine.start({ flags: FULL_SYNC, trigger: 'user' });
      // Its first run queues behind the busy one; then it stops (the agent stopping, or a
      // reload that may have removed the account).
      const background = new SyncScheduler(
        engine,
        [{ ...fixture.account, idleFolders: [], syncIntervalSeconds: 3600 }],
        silentLogger,
      );
      background.start();
      await background.stop();
      await busy.done;
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(started, ['user']);
    } finally {
      off();
    }
  });

  it('leaves no connection open after failed watches of a folder it cannot open', async function () {
    this.timeout(60_000);
    // Every attempt logs in, then fails to SELECT the folder; each must log its connection
    // out, or they pile up until the server refuses the account (Dovecot: 10 per user and IP).
    const proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    const account = {
      ...fixture.account,
      imap: { ...fixture.account.imap, port: proxy.port },
      idleFolders: ['No such folder'],
      syncIntervalSeconds: 0,
    };
    const watching = new SyncScheduler(engine, [account], silentLogger);
    try {
      watching.start();
      await eventually('three attempts to watch', async () => proxy.connections >= 3);
      await watching.stop();
      await eventually('every connection closed', async () => proxy.openConnections === 0);
    } finally {
      await watching.stop();
      await proxy.close();
    }
  });
});

describe('waking from sleep', function () {
  this.timeout(90_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;
  let engine: SyncEngine;
  let scheduler: SyncScheduler;
  const inboxHas = async (raw: Buffer) =>
    (await readMaildirFolder(fixture.folderDir('INBOX'))).some((m) => m.data.equals(crlfToLf(raw)));

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 4, folders: ['INBOX'], seed: 64 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    const account = {
      ...fixture.account,
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      syncIntervalSeconds: 0,
    };
    // As in the agent: sessions kept between runs, an IDLE watch on INBOX.
    engine = fixture.engine(account, { keepSessions: true });
    scheduler = new SyncScheduler(engine, [account], silentLogger);
    scheduler.start();
  });

  after(async () => {
    await scheduler?.stop();
    await engine?.stop();
    await proxy?.close();
    await fixture?.cleanup();
  });

  it('connects again at once, so mail announced after waking still comes in', async () => {
    const [before, after] = generateMailbox({ count: 2, folders: ['INBOX'], seed: 65 });
    await eventually('INBOX watched', async () => scheduler.watchingNow() === 1);
    await fixture.dovecot.appendMessages([before!]);
    await eventually('mail announced before the sleep', () => inboxHas(before!.raw));
    // The machine slept: its connections (the watch, the kept session) are dead, silently.
    proxy.silenceAll();
    const connections = proxy.connections;
    scheduler.woke(3_600_000);
    await eventually('INBOX watched again', async () => scheduler.watchingNow() === 1);
    assert.ok(proxy.connections > connections, 'new connections were made');
    await fixture.dovecot.appendMessages([after!]);
    await eventually('mail announced after waking', () => inboxHas(after!.raw));
  });
});
