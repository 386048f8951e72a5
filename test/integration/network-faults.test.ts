/**
 * A network that fails in the middle of things, through a fault-injecting proxy: a FETCH of
 * a large message cut halfway, an APPEND cut halfway, an IDLE cut, a server that stalls. Each
 * time the user is told (an error event with its code and hint, as a warning while a retry
 * is coming), the engine retries, resumes, and ends with the Maildir identical to the server,
 * and no partial file ever shows in cur/ or new/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { type ErrorEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import type { AccountConfig } from '../../agent/src/config/load.js';
import { silentLogger, type SyncLogger } from '../../agent/src/sync/logger.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { SyncScheduler } from '../../agent/src/sync/scheduler.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

/** A message of about `megabytes` MB with a Message-ID of its own. */
function bigMessage(name: string, megabytes: number): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUV\r\n';
  const body = line.repeat(Math.ceil((megabytes * 1024 * 1024) / line.length));
  return Buffer.from(
    `Message-ID: <${name}@faults.test>\r\nFrom: a@faults.test\r\nSubject: ${name}\r\n` +
      `Date: Mon, 2 Sep 2024 10:00:00 +0000\r\n\r\n${body}`,
  );
}

/** Whether a message reaches a Maildir folder within 30 s (polled). */
async function arrivesIn(folderDir: string, raw: Buffer): Promise<boolean> {
  const wanted = crlfToLf(raw);
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const files = await readMaildirFolder(folderDir);
    if (files.some((m) => m.data.equals(wanted))) return true;
  }
  return false;
}

describe('network faults', function () {
  this.timeout(180_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;
  let throughProxy: Partial<AccountConfig>;

  /** Every file in cur/ and new/ is a whole server message: never a partial one. */
  const assertNoPartialFiles = async (folder: string, alsoWhole: Buffer[] = []) => {
    const server = new Set(
      [
        ...(await fixture.dovecot.listMessages(folder)).map((m) => crlfToLf(m.raw)),
        ...alsoWhole,
      ].map((data) => data.toString('latin1')),
    );
    for (const file of await readMaildirFolder(fixture.folderDir(folder)))
      assert.ok(server.has(file.data.toString('latin1')), `${file.name} is not a whole message`);
  };
  const assertIdentical = async (folder: string) => {
    const server = (await fixture.dovecot.listMessages(folder))
      .map((m) => crlfToLf(m.raw).toString('latin1'))
      .sort();
    const local = (await readMaildirFolder(fixture.folderDir(folder)))
      .map((m) => m.data.toString('latin1'))
      .sort();
    assert.equal(local.length, server.length, `${folder}: file count`);
    assert.ok(
      local.every((m, i) => m === server[i]),
      `${folder}: contents differ`,
    );
    assert.equal(new Set(server).size, server.length, `${folder}: a message is there twice`);
    assert.ok(await tmpIsEmpty(fixture.folderDir(folder)), `${folder}: tmp/ left behind`);
  };
  /** Runs a sync through the proxy; checks cur/new the moment the first error is reported. */
  const syncThroughFaults = async (folder: string, localOnly: Buffer[] = []) => {
    const engine = fixture.engine(throughProxy);
    const errors: ErrorEvent[] = [];
    const checks: Array<Promise<void>> = [];
    engine.onEvent((e) => {
      if (e.type !== 'error') return;
      errors.push(e);
      if (errors.length === 1) checks.push(assertNoPartialFiles(folder, localOnly));
    });
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
    await Promise.all(checks);
    return { done, errors };
  };

  before(async () => {
    fixture = await startSyncFixture({
      mail: [
        ...generateMailbox({ count: 60, folders: ['INBOX'], seed: 91 }),
        {
          folder: 'INBOX',
          raw: bigMessage('twelve', 12),
          flags: [],
          internalDate: new Date('2024-09-02T10:00:00Z'),
        },
        {
          folder: 'INBOX',
          raw: bigMessage('four', 4),
          flags: ['\\Seen'],
          internalDate: new Date('2024-09-02T11:00:00Z'),
        },
      ],
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    // One connection: each fault meets the one conversation it is aimed at.
    throughProxy = {
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      maxConnections: 1,
    };
  });

  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  it('resumes after a cut in the middle of a large message, and says so', async () => {
    // 6 MB into the conversation: inside the 12 MB message (streamed to tmp/ in chunks).
    proxy.arm({ kind: 'cut-after-server-bytes', bytes: 6 * 1024 * 1024 });
    const { done, errors } = await syncThroughFaults('INBOX');
    assert.equal(proxy.fired.length, 1, 'the cut happened');
    assert.equal(done.result, 'ok');
    const warning = errors.find((e) => e.code === 'CONNECTION_LOST');
    assert.ok(warning, JSON.stringify(errors));
    assert.equal(warning.severity, 'warning');
    assert.equal(warning.retryable, true);
    assert.match(warning.message, /retrying in \d+ s/);
    assert.ok(warning.hint.length > 10);
    await assertIdentical('INBOX');
  });

  it('appends a message exactly once when the APPEND is cut halfway', async () => {
    const raw = bigMessage('local-upload', 3);
    const file = path.join(fixture.folderDir('INBOX'), 'new', '1725271200.local-upload.host');
    await fs.writeFile(file, crlfToLf(raw));
    const fired = proxy.fired.length;
    proxy.arm({ kind: 'cut-after-client-bytes', bytes: 1024 * 1024 });
    const { done } = await syncThroughFaults('INBOX', [crlfToLf(raw)]);
    assert.equal(proxy.fired.length, fired + 1, 'the cut happened');
    assert.equal(done.result, 'ok');
    assert.equal(done.stats.uploaded, 1);
    const copies = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      m.raw.includes('<local-upload@faults.test>'),
    );
    assert.equal(copies.length, 1, 'on the server exactly once');
    await assertIdentical('INBOX');
  });

  it('waits out a stalled server without losing or doubling anything', async () => {
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 40, folders: ['INBOX'], seed: 92 }),
    );
    proxy.arm({ kind: 'stall-server', afterBytes: 2000, ms: 1500 });
    const { done, errors } = await syncThroughFaults('INBOX');
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.equal(done.stats.downloaded, 40);
    await assertIdentical('INBOX');
  });

  it('deletes on the server a message whose EXPUNGE a dropped connection never delivered', async () => {
    await fixture.sync();
    const [file] = (await readMaildirFolder(fixture.folderDir('INBOX'))).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    await fs.rm(path.join(fixture.folderDir('INBOX'), file!.subdir, file!.name));
    const data = file!.data;
    const fired = proxy.fired.length;
    proxy.arm({ kind: 'cut-when-client-says', pattern: /UID EXPUNGE/ });
    await syncThroughFaults('INBOX');
    assert.equal(proxy.fired.length, fired + 1, 'the cut happened');
    await fixture.sync();
    const copies = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(data),
    );
    // Recorded as expunged though it was not, it came back (downloaded again, flagged T).
    assert.deepEqual(copies, [], 'gone from the server');
    await assertIdentical('INBOX');
  });

  it('reconnects IDLE after a cut and still brings new mail in', async () => {
    const engine = fixture.engine({ ...throughProxy, idleFolders: ['INBOX'] });
    const scheduler = new SyncScheduler(
      engine,
      [{ ...fixture.account, ...throughProxy, idleFolders: ['INBOX'], syncIntervalSeconds: 0 }],
      silentLogger,
    );
    try {
      const before = proxy.connections;
      const fired = proxy.fired.length;
      proxy.arm({ kind: 'cut-when-server-says', pattern: /\+ idling/i });
      scheduler.start();
      // The watcher idles, is cut, and comes back (a new connection through the proxy).
      for (
        let i = 0;
        i < 300 && (proxy.fired.length === fired || proxy.connections < before + 2);
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(proxy.fired.length, fired + 1, 'the IDLE was cut');
      const [message] = generateMailbox({ count: 1, folders: ['INBOX'], seed: 93 });
      await fixture.dovecot.appendMessages([message!]);
      const arrived = await arrivesIn(fixture.folderDir('INBOX'), message!.raw);
      assert.ok(arrived, 'the new message reached the Maildir after the IDLE was cut');
    } finally {
      await scheduler.stop();
      await engine.stop();
    }
    await assertIdentical('INBOX');
  });

  it('brings in mail delivered while the IDLE watch was down once it is back', async () => {
    const account = { ...fixture.account, ...throughProxy, idleFolders: ['INBOX'] };
    const engine = fixture.engine(account);
    let watches = 0;
    const log: SyncLogger = {
      ...silentLogger,
      info: (_fields: object, message: string) =>
        void (/watching folder/.test(message) && watches++),
      child: () => log,
    };
    const scheduler = new SyncScheduler(engine, [{ ...account, syncIntervalSeconds: 0 }], log);
    try {
      await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      scheduler.start();
      for (let i = 0; i < 300 && watches === 0; i++) await new Promise((r) => setTimeout(r, 100));
      // The network drops; a message arrives before the watch is back (a second or more):
      // no IDLE announces it, and no pass is scheduled.
      proxy.cutAll();
      const [message] = generateMailbox({ count: 1, folders: ['INBOX'], seed: 94 });
      await fixture.dovecot.appendMessages([message!]);
      const arrived = await arrivesIn(fixture.folderDir('INBOX'), message!.raw);
      assert.ok(watches >= 2, 'the watch came back');
      assert.ok(arrived, 'the message delivered meanwhile reached the Maildir');
    } finally {
      await scheduler.stop();
      await engine.stop();
    }
    await assertIdentical('INBOX');
  });
});
