/**
 * The server changes under a running sync: Dovecot restarted mid-download, a folder deleted
 * or renamed by another client while the pass is under way, a message expunged between the
 * listing and the FETCH; and a wrong password, which must fail at once and not be retried
 * into a lockout. Every time: told clearly, nothing partial or doubled, and the next sync
 * converges to the server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { type ErrorEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('server-side changes during a sync', function () {
  this.timeout(180_000);
  let fixture: SyncFixture;

  const assertIdentical = async (folder: string) => {
    const server = (await fixture.dovecot.listMessages(folder))
      .map((m) => crlfToLf(m.raw).toString('latin1'))
      .sort();
    const local = (await readMaildirFolder(fixture.folderDir(folder)))
      .map((m) => m.data.toString('latin1'))
      .sort();
    assert.equal(local.length, server.length, `${folder}: files vs messages`);
    assert.ok(
      local.every((m, i) => m === server[i]),
      `${folder}: contents differ`,
    );
    assert.ok(await tmpIsEmpty(fixture.folderDir(folder)), `${folder}: tmp/ not empty`);
  };
  const localFolderExists = async (folder: string) =>
    (await readMaildirFolder(fixture.folderDir(folder))).length > 0;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 300, folders: ['INBOX', 'Projects', 'Old'], seed: 31 }),
      // One connection: folders are taken one after another, in a known order.
      account: { maxConnections: 1 },
    });
  });
  after(async () => fixture?.cleanup());

  it('handles folders deleted and renamed by another client during the pass', async () => {
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 60, folders: ['INBOX', 'Projects', 'Old'], seed: 32 }),
    );
    const engine = fixture.engine();
    const errors: ErrorEvent[] = [];
    let changing: Promise<void> | null = null;
    engine.onEvent((e) => {
      if (e.type === 'error') errors.push(e);
      // While INBOX is being checked, the other two folders change under the sync.
      if (e.type === 'progress' && e.folder === 'INBOX' && !changing) {
        changing = (async () => {
          const client = await fixture.dovecot.client();
          try {
            await client.mailboxDelete('Old');
            await client.mailboxRename('Projects', 'Projects 2025');
          } finally {
            await client.logout();
          }
        })();
      }
    });
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
    await changing;
    // The pass may or may not have listed them before the change: either way, no crash and
    // at most a FOLDER_GONE for each, with its hint.
    for (const e of errors) {
      assert.equal(e.code, 'FOLDER_GONE', JSON.stringify(e));
      assert.ok(e.hint.length > 10);
    }
    assert.ok(['ok', 'error'].includes(done.result));

    const next = await fixture.sync();
    assert.equal(next.done.result, 'ok', JSON.stringify(next.errors));
    assert.equal(await localFolderExists('Old'), false, 'the deleted folder is gone here too');
    assert.equal(await localFolderExists('Projects'), false, 'the old name is gone');
    for (const folder of ['INBOX', 'Projects 2025']) await assertIdentical(folder);
  });

  it('takes a folder deleted while this pass has it open for gone, not the connection, and syncs the rest', async () => {
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 6, folders: ['Doomed', 'Zeta'], seed: 33 }),
    );
    assert.equal((await fixture.sync()).done.result, 'ok');
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 4, folders: ['INBOX', 'Doomed', 'Zeta'], seed: 34 }),
    );
    const proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    try {
      // Once the pass has Doomed open, another client deletes it: Dovecot then ends the
      // session with "BYE … Mailbox was deleted under us".
      proxy.arm({
        kind: 'hold-client-when-says',
        pattern: /SELECT "?Doomed"?/,
        meanwhile: async () => {
          proxy.arm({
            kind: 'hold-client-when-says',
            pattern: / UID (SEARCH|FETCH|STORE) /,
            meanwhile: async () => {
              const client = await fixture.dovecot.client();
              await client.mailboxDelete('Doomed');
              await client.logout();
            },
          });
        },
      });
      const { done, errors } = await fixture.sync(FULL_SYNC, {
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
        maxConnections: 1,
      });
      assert.equal(proxy.fired.length, 2, 'the deletion was played');
      assert.deepEqual(
        errors.map((e) => [e.code, e.folder]),
        [['FOLDER_GONE', 'Doomed']],
      );
      assert.equal(done.stats.foldersFailed, 1);
    } finally {
      await proxy.close();
    }
    for (const folder of ['INBOX', 'Zeta']) await assertIdentical(folder);
    const next = await fixture.sync();
    assert.equal(next.done.result, 'ok', JSON.stringify(next.errors));
    assert.equal(await localFolderExists('Doomed'), false);
  });

  it('tells a folder the server lists but cannot open apart from one deleted, and syncs the rest', async () => {
    // Another program made a directory in Dovecot's mail store under a name that is not
    // modified UTF-7: Dovecot lists it ("R&-D") and then says it does not exist.
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(fixture.dovecot.maildirRoot, '.R&D', sub), { recursive: true });
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 5, folders: ['INBOX'], seed: 33 }),
    );
    try {
      for (let pass = 0; pass < 2; pass++) {
        const { done, errors } = await fixture.sync();
        assert.deepEqual(
          errors.map((e) => [e.code, e.severity, e.folder, e.retryable]),
          [['FOLDER_UNOPENABLE', 'warning', 'R&D', false]],
          `pass ${pass}`,
        );
        assert.match(errors[0]!.message, /lists "R&D" but will not open it/);
        assert.match(errors[0]!.hint, /exclude it/);
        assert.equal(done.result, 'ok');
        assert.equal(done.stats.foldersFailed, 0);
        await assertIdentical('INBOX');
      }
    } finally {
      await fs.rm(path.join(fixture.dovecot.maildirRoot, '.R&D'), { recursive: true });
    }
  });

  describe('through a proxy', () => {
    let proxy: FaultProxy;
    before(async () => {
      proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    });
    after(async () => proxy?.close());

    it('rides out a Dovecot restart between two folders: a warning, a retry, nothing lost', async () => {
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 60, folders: ['INBOX', 'Projects 2025'], seed: 34 }),
      );
      // The next folder's SELECT waits while Dovecot restarts (its connections all dropped).
      proxy.arm({
        kind: 'hold-client-when-says',
        pattern: /(SELECT|EXAMINE) "?Projects 2025/,
        // Dropping the sessions first, as a stop with shutdown_clients (Dovecot's default) does.
        meanwhile: async () => {
          await fixture.dovecot.kick();
          await fixture.dovecot.restart();
        },
      });
      const engine = fixture.engine({
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      });
      const errors: ErrorEvent[] = [];
      engine.onEvent((e) => e.type === 'error' && errors.push(e));
      const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      assert.equal(proxy.fired.length, 1, 'Dovecot was restarted mid-pass');
      assert.equal(done.result, 'ok', JSON.stringify(errors));
      assert.ok(
        errors.some((e) => e.code === 'CONNECTION_LOST' && e.severity === 'warning'),
        JSON.stringify(errors),
      );
      for (const folder of ['INBOX', 'Projects 2025']) await assertIdentical(folder);
    });

    it('copes with a message expunged between the listing and the FETCH', async () => {
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 30, folders: ['INBOX'], seed: 33 }),
      );
      const newest = (await fixture.dovecot.listMessages('INBOX')).at(-1)!;
      const fired = proxy.fired.length;
      proxy.arm({
        kind: 'hold-client-when-says',
        pattern: /UID FETCH .*BODY\.PEEK\[\]/,
        meanwhile: async () => {
          const client = await fixture.dovecot.client();
          try {
            await client.mailboxOpen('INBOX');
            await client.messageDelete(String(newest.uid), { uid: true });
          } finally {
            await client.logout();
          }
        },
      });
      const engine = fixture.engine({
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      });
      const errors: ErrorEvent[] = [];
      engine.onEvent((e) => e.type === 'error' && errors.push(e));
      const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      assert.equal(proxy.fired.length, fired + 1, 'the FETCH was held while the message went');
      assert.equal(done.result, 'ok');
      // Gone from the server is no message owed: nothing to warn of.
      assert.deepEqual(errors, []);
      await assertIdentical('INBOX');
      const again = await fixture.sync();
      assert.equal(again.done.stats.downloaded, 0);
      await assertIdentical('INBOX');
    });

    it('fails a wrong password at once, with one login and no retry storm', async () => {
      const before = proxy.connections;
      process.env.STORESYNC_WRONG_PASSWORD = 'not-the-password';
      try {
        const engine = fixture.engine({
          imap: {
            ...fixture.account.imap,
            host: proxy.host,
            port: proxy.port,
            credentials: { kind: 'password', source: { env: 'STORESYNC_WRONG_PASSWORD' } },
          },
        });
        const errors: ErrorEvent[] = [];
        engine.onEvent((e) => e.type === 'error' && errors.push(e));
        const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
        assert.equal(done.result, 'error');
        assert.deepEqual(
          errors.map((e) => [e.code, e.retryable]),
          [['AUTH_FAILED', false]],
        );
        assert.match(errors[0]!.hint, /password/i);
        assert.equal(proxy.connections - before, 1, 'one connection, one login attempt');
      } finally {
        delete process.env.STORESYNC_WRONG_PASSWORD;
      }
    });
  });
});
