/**
 * Interrupted syncs: a cancel mid-download and a dropped connection, each followed by a
 * normal run. Nothing partial is ever visible, nothing is lost, nothing is duplicated on
 * either side. (kill -9 has crash-recovery.test.ts.)
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { type TestDovecot } from '../support/dovecot.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

/** Every server message has exactly one byte-identical file, and there is no other file. */
async function assertSameContent(
  dovecot: TestDovecot,
  maildir: string,
  folder: string,
): Promise<void> {
  const server = (await dovecot.listMessages(folder))
    .map((m) => crlfToLf(m.raw).toString('latin1'))
    .sort();
  const local = (await readMaildirFolder(path.join(maildir, ...folder.split('/'))))
    .map((m) => m.data.toString('latin1'))
    .sort();
  assert.equal(
    local.length,
    server.length,
    `${folder}: ${local.length} files for ${server.length} messages`,
  );
  assert.deepEqual(local, server, `${folder}: contents differ`);
  assert.equal(new Set(server).size, server.length, `${folder}: a message is on the server twice`);
}

describe('interrupted syncs', function () {
  this.timeout(300_000);

  describe('cancel', () => {
    let fixture: SyncFixture;

    before(async () => {
      fixture = await startSyncFixture({
        mail: generateMailbox({ count: 400, folders: ['INBOX'], seed: 81 }),
      });
    });
    after(async () => fixture?.cleanup());

    it('stops mid-download, keeps what it stored, and the next run finishes the job', async () => {
      const { dovecot, state } = fixture;
      const engine = fixture.engine();
      const run = engine.start({ flags: FULL_SYNC, trigger: 'user' });
      engine.onEvent((e) => {
        if (e.type === 'progress' && e.step === 'downloading' && e.index === 30)
          engine.cancel(run.syncId);
      });
      const done = await run.done;
      assert.equal(done.result, 'cancelled');
      assert.ok(
        done.stats.downloaded >= 30 && done.stats.downloaded < 400,
        `downloaded ${done.stats.downloaded}`,
      );
      const inbox = fixture.folderDir('INBOX');
      assert.ok(await tmpIsEmpty(inbox), 'no partial file left');
      const files = await readMaildirFolder(inbox);
      const inState = state.messages(state.folders('a')[0]!.id).length;
      assert.equal(files.length, inState, 'every stored file is in the state, and only those');

      const next = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      assert.equal(next.result, 'ok');
      assert.equal(next.stats.downloaded, 400 - files.length);
      await assertSameContent(dovecot, fixture.account.maildir, 'INBOX');
    });

    it('stops with nothing running, a run asked for while it stops included', async () => {
      // The agent closes the state once the engine has stopped: a "Sync now" that came in
      // meanwhile must not be left to run on after that.
      const engine = fixture.engine();
      engine.start({ flags: FULL_SYNC, trigger: 'schedule' });
      const stopping = engine.stop();
      const late = engine.start({ flags: FULL_SYNC, trigger: 'user' });
      await stopping;
      assert.deepEqual(engine.running(), []);
      assert.equal((await late.done).result, 'cancelled');
    });
  });

  describe('connection cut mid-sync', () => {
    let fixture: SyncFixture;
    let proxy: FaultProxy;

    before(async () => {
      fixture = await startSyncFixture({
        mail: generateMailbox({ count: 400, folders: ['INBOX', 'Zebra'], seed: 85 }),
        account: { maxConnections: 1 },
      });
      proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    });
    after(async () => {
      await proxy?.close();
      await fixture?.cleanup();
    });

    it('retries after the server drops the connection and resumes where it stopped', async () => {
      const { dovecot } = fixture;
      const engine = fixture.engine({
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      });
      const steps: string[] = [];
      engine.onEvent((e) => {
        if (e.type === 'progress') steps.push(e.text);
      });
      // Dovecot drops the session while INBOX's bodies (9 MB) are on their way: the proxy
      // holds the server's bytes once 1 MB has passed, so the kick always lands mid-FETCH
      // (kicked any later, a connection that already had everything would not notice).
      proxy.arm({ kind: 'stall-server', afterBytes: 1024 * 1024, ms: 30_000 });
      const run = engine.start({ flags: FULL_SYNC, trigger: 'user' });
      const kicked = (async () => {
        while (proxy.fired.length === 0) await sleep(10);
        await dovecot.kick();
      })();
      const done = await run.done;
      await kicked;
      assert.equal(done.result, 'ok', JSON.stringify(done));
      assert.ok(
        steps.some((t) => /retrying in/.test(t)),
        'the user was told about the retry',
      );
      assert.equal(done.stats.downloaded, 400, 'each message downloaded once across the attempts');
      for (const folder of ['INBOX', 'Zebra'])
        await assertSameContent(dovecot, fixture.account.maildir, folder);
    });
  });
});
