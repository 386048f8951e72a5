/**
 * Folders created or deleted on either side follow on the other, in the directions the sync
 * allows, and a folder holding a message the last sync did not see is never deleted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox, generateMessage } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type SyncFlags } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import type { TestDovecot } from '../support/dovecot.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('folder hierarchy, both ways', function () {
  let fixture: SyncFixture;
  let dovecot: TestDovecot;
  const folderDir = (name: string) => fixture.folderDir(name);
  const exists = (p: string) =>
    fs.stat(p).then(
      () => true,
      () => false,
    );
  const sync = (flags: SyncFlags = FULL_SYNC) => fixture.sync(flags);

  async function serverFolders(): Promise<string[]> {
    const client = await dovecot.client();
    const list = (await client.list()).map((f) => f.path).sort();
    await client.logout();
    return list;
  }

  async function makeLocalFolder(name: string, messages: number): Promise<void> {
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(folderDir(name), sub), { recursive: true });
    for (let i = 0; i < messages; i++) {
      await fs.writeFile(
        path.join(folderDir(name), 'cur', `17000000${i}.local${i}.host:2,S`),
        crlfToLf(generateMessage(7000 + i)),
      );
    }
  }

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({
        count: 12,
        folders: ['INBOX', 'Old', 'Old/Deeper', 'Busy'],
        seed: 51,
      }),
    });
    dovecot = fixture.dovecot;
    const setup = await dovecot.client();
    for (const folder of ['Old', 'Old/Deeper', 'Busy']) {
      if (!(await setup.list()).some((f) => f.path === folder)) await setup.mailboxCreate(folder);
    }
    await setup.logout();
    assert.equal((await sync()).done.result, 'ok');
  });

  after(async () => fixture?.cleanup());

  it('creates on the server a folder made here, with its messages', async () => {
    await makeLocalFolder('Projects/New', 2);
    const { done } = await sync();
    assert.equal(done.result, 'ok');
    assert.ok((await serverFolders()).includes('Projects/New'));
    assert.equal((await dovecot.listMessages('Projects/New')).length, 2);
    assert.equal(done.stats.uploaded, 2);
  });

  it('creates here a folder made on the server only when downloading the hierarchy', async () => {
    const client = await dovecot.client();
    await client.mailboxCreate('FromServer');
    await client.logout();
    await dovecot.appendMessages(generateMailbox({ count: 1, folders: ['FromServer'], seed: 52 }));
    await sync({ ...FULL_SYNC, downloadHierarchy: false });
    assert.equal(await exists(folderDir('FromServer')), false);
    await sync();
    assert.equal((await readMaildirFolder(folderDir('FromServer'))).length, 1);
  });

  it('deletes here, children first, a folder deleted on the server', async () => {
    const client = await dovecot.client();
    await client.mailboxDelete('Old/Deeper');
    await client.mailboxDelete('Old');
    await client.logout();
    const { done } = await sync();
    assert.equal(done.result, 'ok');
    assert.equal(await exists(folderDir('Old')), false);
    assert.ok(done.stats.foldersDeleted >= 2);
  });

  it('deletes on the server a folder deleted here', async () => {
    await fs.rm(folderDir('FromServer'), { recursive: true });
    const { done } = await sync();
    assert.equal(done.result, 'ok');
    assert.ok(!(await serverFolders()).includes('FromServer'));
  });

  it('does not make again a folder made here and removed while the run went on', async () => {
    // Made in mutt, then removed (or renamed) right after the run listed the folders: the
    // run creates it on the server, then finds no directory when its turn comes.
    await makeLocalFolder('Brief', 0);
    const realReaddir = fs.readdir;
    let removed = false;
    (fs as { readdir: unknown }).readdir = async (dir: string, ...rest: unknown[]) => {
      const entries = await (realReaddir as (...a: unknown[]) => Promise<unknown>)(dir, ...rest);
      if (!removed && dir === folderDir('Brief')) {
        removed = true;
        await fs.rm(folderDir('Brief'), { recursive: true });
      }
      return entries;
    };
    try {
      const { errors } = await sync();
      assert.ok(removed, 'the removal was played');
      assert.deepEqual(
        errors.map((e) => [e.code, e.folder]),
        [['FOLDER_GONE', 'Brief']],
      );
    } finally {
      (fs as { readdir: unknown }).readdir = realReaddir;
    }
    assert.equal(await exists(folderDir('Brief')), false, 'not made again here');
    const { done } = await sync();
    assert.equal(done.result, 'ok');
    assert.ok(!(await serverFolders()).includes('Brief'), 'gone from the server too');
    assert.equal(await exists(folderDir('Brief')), false);
  });

  it('keeps a folder deleted here when the server has mail the last sync did not see, with that mail only', async () => {
    const seen = (await dovecot.listMessages('Busy')).length;
    assert.ok(seen > 0, 'Busy held messages at the last sync');
    const [fresh] = generateMailbox({ count: 1, folders: ['Busy'], seed: 53 });
    await dovecot.appendMessages([fresh!]);
    await fs.rm(folderDir('Busy'), { recursive: true });
    const { done, errors } = await sync();
    assert.deepEqual(
      errors.map((e) => [e.folder, e.code, e.severity]),
      [['Busy', 'FOLDER_KEPT', 'warning']],
    );
    assert.equal(done.result, 'ok', 'the folder syncs on: nothing is left failing');
    // The deletion stands for the messages it was made on; the unseen one is on both sides.
    const server = await dovecot.listMessages('Busy');
    assert.deepEqual(
      server.map((m) => m.raw.toString('latin1')),
      [fresh!.raw.toString('latin1')],
    );
    const local = await readMaildirFolder(folderDir('Busy'));
    assert.deepEqual(
      local.map((f) => f.data.toString('latin1')),
      [crlfToLf(fresh!.raw).toString('latin1')],
    );
    const again = await sync();
    assert.deepEqual([again.errors, again.done.result], [[], 'ok'], 'settled');
  });

  it('keeps a folder deleted on the server when it has files here the last sync did not see, with those only', async () => {
    await makeLocalFolder('Drafts2', 2);
    assert.equal((await sync()).done.stats.uploaded, 2);
    const client = await dovecot.client();
    await client.mailboxDelete('Drafts2');
    await client.logout();
    const unseen = crlfToLf(generateMessage(7050));
    await fs.writeFile(path.join(folderDir('Drafts2'), 'new', '1700009999.unseen.host'), unseen);
    const { done, errors } = await sync();
    assert.deepEqual(
      errors.map((e) => [e.folder, e.code, e.severity]),
      [['Drafts2', 'FOLDER_KEPT', 'warning']],
    );
    assert.equal(done.result, 'ok');
    assert.ok((await serverFolders()).includes('Drafts2'), 'made again on the server');
    assert.deepEqual(
      (await dovecot.listMessages('Drafts2')).map((m) => crlfToLf(m.raw).toString('latin1')),
      [unseen.toString('latin1')],
    );
    assert.deepEqual(
      (await readMaildirFolder(folderDir('Drafts2'))).map((f) => f.data.toString('latin1')),
      [unseen.toString('latin1')],
    );
    const again = await sync();
    assert.deepEqual(
      [again.errors, again.done.stats.uploaded, again.done.stats.downloaded],
      [[], 0, 0],
    );
  });

  it('keeps a folder deleted here when the server will not say what it holds', async () => {
    const client = await dovecot.client();
    await client.mailboxCreate('Quiet');
    await client.logout();
    await dovecot.appendMessages(generateMailbox({ count: 2, folders: ['Quiet'], seed: 54 }));
    await sync();
    // Mail the last sync did not see; the folder deleted here; the server's answer to the
    // search of its messages refused (no list, a NO).
    await dovecot.appendMessages(generateMailbox({ count: 1, folders: ['Quiet'], seed: 55 }));
    await fs.rm(folderDir('Quiet'), { recursive: true });
    const proxy = await startFaultProxy({ host: dovecot.host, port: dovecot.port });
    try {
      proxy.arm({ kind: 'drop-server-line', pattern: /^\* SEARCH/ });
      proxy.arm({
        kind: 'edit-server-line',
        pattern: /OK Search completed/,
        edit: (line) => line.replace(/OK Search completed.*/, 'NO Search failed\r\n'),
      });
      const { errors } = await fixture.sync(FULL_SYNC, {
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
        // Only Quiet meets the faults.
        folders: { include: ['*'], exclude: ['Busy', 'Drafts2'] },
      });
      assert.equal(proxy.fired.length, 2, 'the answer was refused');
      assert.equal(errors.find((e) => e.folder === 'Quiet')?.code, 'FOLDER_KEPT');
    } finally {
      await proxy.close();
    }
    assert.ok((await serverFolders()).includes('Quiet'));
    assert.equal((await dovecot.listMessages('Quiet')).length, 3);
  });

  it('makes here a folder whose first pass a crash cut before its directory was made', async () => {
    const client = await dovecot.client();
    await client.mailboxCreate('Early');
    await client.logout();
    await dovecot.appendMessages(generateMailbox({ count: 2, folders: ['Early'], seed: 56 }));
    // What a crash right after the folder's record was written leaves: a row, no directory.
    fixture.state.folder('a', 'Early', 'Early', '/');
    const { errors } = await fixture.sync();
    assert.deepEqual(
      errors.filter((e) => e.folder === 'Early'),
      [],
    );
    assert.ok((await serverFolders()).includes('Early'), 'not deleted on the server');
    assert.equal((await readMaildirFolder(folderDir('Early'))).length, 2);
  });

  it('never uploads files again that are already on the server (first sight of a filled Maildir)', async () => {
    // A lost state database: every folder is seen for the first time, every file exists.
    await fixture.discardState();
    const serverBefore = (await dovecot.listMessages('INBOX')).length;
    const { done } = await sync({ ...FULL_SYNC, uploadHierarchy: false, downloadHierarchy: false });
    assert.equal(done.stats.uploaded, 0);
    assert.equal(done.stats.downloaded, 0);
    assert.equal((await dovecot.listMessages('INBOX')).length, serverBefore);
  });
});

describe('a folder deleted here, as deletePolicy says of its messages', function () {
  let fixture: SyncFixture;
  const bytes = (raw: Buffer) => crlfToLf(raw).toString('latin1');

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 12, folders: ['INBOX', 'Trash', 'Gone', 'Kept'], seed: 57 }),
    });
    const setup = await fixture.dovecot.client();
    for (const folder of ['Gone', 'Kept'])
      if (!(await setup.list()).some((f) => f.path === folder)) await setup.mailboxCreate(folder);
    await setup.logout();
    assert.equal((await fixture.sync()).done.result, 'ok');
  });
  after(async () => fixture?.cleanup());

  it('"trash": its messages go to the Trash before the folder goes', async () => {
    const gone = (await fixture.dovecot.listMessages('Gone')).map((m) => bytes(m.raw)).sort();
    assert.ok(gone.length > 0, 'Gone holds mail');
    const trashBefore = (await fixture.dovecot.listMessages('Trash')).length;
    await fs.rm(fixture.folderDir('Gone'), { recursive: true });
    const { done, errors } = await fixture.sync(FULL_SYNC, { deletePolicy: 'trash' });
    assert.deepEqual([done.result, errors], ['ok', []]);
    const client = await fixture.dovecot.client();
    const folders = (await client.list()).map((f) => f.path);
    await client.logout();
    assert.ok(!folders.includes('Gone'), 'the folder is gone from the server');
    const trash = (await fixture.dovecot.listMessages('Trash')).map((m) => bytes(m.raw));
    assert.equal(trash.length, trashBefore + gone.length);
    for (const message of gone) assert.ok(trash.includes(message), 'in the Trash on the server');
    const local = (await readMaildirFolder(fixture.folderDir('Trash'))).map((f) =>
      f.data.toString('latin1'),
    );
    for (const message of gone) assert.ok(local.includes(message), 'in the Trash here, same sync');
  });

  it('"keep-remote": the folder and its messages stay on the server, and do not come back here', async () => {
    const kept = (await fixture.dovecot.listMessages('Kept')).length;
    assert.ok(kept > 0, 'Kept holds mail');
    await fs.rm(fixture.folderDir('Kept'), { recursive: true });
    for (let pass = 0; pass < 2; pass++) {
      const { done, errors } = await fixture.sync(FULL_SYNC, { deletePolicy: 'keep-remote' });
      assert.deepEqual([done.result, errors, done.stats.downloaded], ['ok', [], 0]);
      assert.equal((await fixture.dovecot.listMessages('Kept')).length, kept);
      assert.equal(
        await fs.stat(fixture.folderDir('Kept')).then(
          () => true,
          () => false,
        ),
        false,
        'not made again here',
      );
    }
  });
});
