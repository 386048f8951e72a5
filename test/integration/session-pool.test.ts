/**
 * The agent keeps its IMAP sessions between runs: the next pass logs in no more, a session
 * the server dropped meanwhile is replaced without the user seeing an error, each run's
 * protocol lines carry that run's id, and a cancelled run's sessions are not kept.
 */
import assert from 'node:assert/strict';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type SyncEvent } from '../../agent/src/protocol/index.js';
import type { SyncEngine } from '../../agent/src/sync/engine.js';
import type { ImapLineContext } from '../../agent/src/sync/imap-session.js';
import { KEPT_CHECK_MS, SessionPool } from '../../agent/src/sync/session-pool.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('IMAP sessions kept between runs (agent)', function () {
  this.timeout(60_000);
  let fixture: SyncFixture;
  let engine: SyncEngine;
  let lines: Array<{ line: string; context?: ImapLineContext }> = [];
  let events: SyncEvent[] = [];

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 20, folders: ['INBOX', 'Archive', 'Sent'], seed: 3 }),
    });
    engine = fixture.engine(
      {},
      {
        keepSessions: true,
        protocolLog: (direction, line, context) =>
          direction === 'C' && lines.push({ line, context }),
      },
    );
    engine.onEvent((e) => events.push(e));
  });
  after(async () => {
    await engine?.stop();
    await fixture?.cleanup();
  });

  async function run() {
    lines = [];
    events = [];
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'schedule' }).done;
    assert.equal(done.result, 'ok', JSON.stringify(events));
    return done;
  }
  const logins = () => lines.filter((l) => /^\S+ (LOGIN|AUTHENTICATE) /i.test(l.line)).length;

  it('logs in on the first run only', async () => {
    const first = await run();
    assert.equal(first.stats.downloaded, 20);
    assert.equal(logins(), 2, 'two connections (maxConnections 2)');
    const second = await run();
    assert.equal(logins(), 0, lines.map((l) => l.line).join('\n'));
    assert.ok(
      lines.some((l) => /^\S+ NOOP$/.test(l.line)),
      'each kept session is checked before use',
    );
    // The kept sessions write their lines under the run now holding them.
    assert.ok(lines.length > 0);
    for (const l of lines) assert.equal(l.context?.syncId, second.syncId);
  });

  /** New mail in two folders: the next run needs both connections. */
  const mailForBothConnections = (seed: number) =>
    fixture.dovecot.appendMessages(
      generateMailbox({ count: 2, folders: ['INBOX', 'Archive'], seed }),
    );

  it('replaces sessions the server dropped while kept, with no error shown', async () => {
    await fixture.dovecot.kick();
    await new Promise((r) => setTimeout(r, 200));
    await mailForBothConnections(11);
    const done = await run();
    assert.deepEqual(
      events.filter((e) => e.type === 'error'),
      [],
    );
    assert.equal(done.stats.foldersFailed, 0);
    assert.equal(logins(), 2, 'new sessions opened');
  });

  it('brings in what changed on the server through kept sessions', async () => {
    await fixture.dovecot.appendMessages(generateMailbox({ count: 2, folders: ['Sent'], seed: 9 }));
    const done = await run();
    assert.equal(done.stats.downloaded, 2);
    assert.equal(logins(), 0);
  });

  it('leave their folder, so changes made there meanwhile are not sent to them', async () => {
    const pool = new SessionPool();
    const kept = await pool.open(fixture.account);
    try {
      await kept.mailboxOpen('INBOX');
      await pool.release(fixture.account, kept, true);
      // Another client flags every message of that folder while the session is kept.
      const other = await fixture.dovecot.client();
      try {
        await other.mailboxOpen('INBOX');
        await other.messageFlagsAdd('1:*', ['\\Flagged']);
      } finally {
        await other.logout();
      }
      // imapflow reports each FETCH line a server sends unasked as a "flags" event.
      const reported: number[] = [];
      kept.on('flags', (update: { uid?: number; seq: number }) => reported.push(update.seq));
      const again = await pool.open(fixture.account);
      assert.equal(again, kept, 'the kept session serves again');
      assert.equal(again.mailbox, false, 'no folder selected');
      assert.deepEqual(reported, [], 'the server sent no FETCH line for the other changes');
      // Its next pass still finds them: the folder's flags as the server has them now.
      await again.mailboxOpen('INBOX');
      for await (const m of again.fetch('1:*', { flags: true }))
        assert.ok(m.flags?.has('\\Flagged'));
      await pool.release(fixture.account, again, true);
    } finally {
      await pool.closeAll();
    }
  });

  it('does not keep the sessions of a cancelled run', async () => {
    await run();
    lines = [];
    const running = engine.start({ flags: FULL_SYNC, trigger: 'user' });
    running.controller.abort();
    assert.equal((await running.done).result, 'cancelled');
    const usedByCancelled = new Set(lines.map((l) => l.context?.connection));
    await run();
    const reused = lines.filter((l) => usedByCancelled.has(l.context?.connection));
    assert.deepEqual(reused, [], 'no session of the cancelled run serves the next one');
  });

  it('logs kept sessions out on a config change', async () => {
    await run();
    engine.setAccounts([{ ...fixture.account }]);
    await mailForBothConnections(12);
    await run();
    assert.equal(logins(), 2, 'the next run logs in anew');
  });

  it('gives up a kept session that went dead without a word, within seconds', async function () {
    // Minutes of the socket's own timeout would otherwise pass before the run could go on.
    this.timeout(KEPT_CHECK_MS * 2 + 20_000);
    const proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    const overProxy = fixture.engine(
      { imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port } },
      { keepSessions: true },
    );
    try {
      assert.equal(
        (await overProxy.start({ flags: FULL_SYNC, trigger: 'user' }).done).result,
        'ok',
      );
      const before = proxy.connections;
      proxy.silenceAll(); // the kept sessions: open, answering nothing
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 2, folders: ['INBOX'], seed: 9 }),
      );
      const done = await overProxy.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      assert.equal(done.result, 'ok');
      assert.equal(done.stats.downloaded, 2);
      assert.ok(proxy.connections > before, 'new sessions were opened');
    } finally {
      overProxy.dropKeptSessions();
      await overProxy.stop();
      await proxy.close();
    }
  });
});
