/**
 * The disk holding the Maildir fills up mid-download (a real ENOSPC: the Maildir is a 2 MB
 * tmpfs): the folder stops with DISK_FULL and a hint, what was committed before is intact,
 * and no partial file is left behind to keep the disk full. Once space is freed, the next
 * sync finishes the job. The same when it is the disk of the sync state that is full.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { type ErrorEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const run = promisify(execFile);

describe('disk full while downloading (tmpfs Maildir)', function () {
  let fixture: SyncFixture;
  let mounted = false;

  before(async () => {
    const small = generateMailbox({ count: 3, folders: ['INBOX'], seed: 5 });
    // Above the size the engine streams alone (8 MB), after the small ones are committed.
    const huge = Buffer.concat([
      Buffer.from('Subject: does not fit\r\n\r\n'),
      Buffer.alloc(9 * 1024 * 1024, 'h'),
      Buffer.from('\r\n'),
    ]);
    fixture = await startSyncFixture({
      mail: [...small, { folder: 'INBOX', raw: huge, flags: [], internalDate: new Date() }],
    });
    await fs.mkdir(fixture.account.maildir, { recursive: true });
    // Needs root (the tests' Dovecot already assumes it or a rootless setup): report, not skip.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', fixture.account.maildir]);
    mounted = true;
  });

  after(async () => {
    if (mounted) await run('umount', [fixture.account.maildir]);
    await fixture?.cleanup();
  });

  it('stops the folder with DISK_FULL, keeping what was committed and nothing partial', async () => {
    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.code, 'DISK_FULL');
    assert.equal(errors[0]!.folder, 'INBOX');
    assert.match(errors[0]!.hint, /Free some disk space/);

    const inbox = fixture.folderDir('INBOX');
    assert.ok(await tmpIsEmpty(inbox), 'the partial file was removed');
    const files = await readMaildirFolder(inbox);
    const folder = fixture.state.folders('a').find((f) => f.path === 'INBOX')!;
    const rows = fixture.state.messages(folder.id);
    assert.equal(rows.length, 3, 'the small messages were committed');
    assert.equal(files.length, rows.length, 'a file for every row and no other');
    const server = await fixture.dovecot.listMessages('INBOX');
    for (const row of rows) {
      const file = files.find((f) => f.name.startsWith(row.base));
      const message = server.find((m) => m.uid === row.uid)!;
      assert.ok(file?.data.equals(crlfToLf(message.raw)), `UID ${row.uid}: file and server differ`);
    }
  });

  it('resumes once space is freed, and ends identical to the server', async () => {
    await run('mount', ['-o', 'remount,size=64m', fixture.account.maildir]);
    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.equal(done.stats.downloaded, 1, 'only the message that did not fit');
    const inbox = fixture.folderDir('INBOX');
    const local = (await readMaildirFolder(inbox)).map((f) => f.data.toString('latin1')).sort();
    const server = (await fixture.dovecot.listMessages('INBOX'))
      .map((m) => crlfToLf(m.raw).toString('latin1'))
      .sort();
    assert.equal(local.length, server.length);
    assert.ok(
      local.every((m, i) => m === server[i]),
      'contents differ',
    );
    assert.ok(await tmpIsEmpty(inbox));
  });
});

describe('disk full where the sync state lives (tmpfs dataDir)', function () {
  let fixture: SyncFixture;
  let dataDir: string;
  let mounted = false;
  let state: StateDb;
  let engine: SyncEngine;
  const inbox = () => fixture.folderDir('INBOX');
  const sync = async () => {
    const errors: ErrorEvent[] = [];
    const off = engine.onEvent((e) => void (e.type === 'error' && errors.push(e)));
    try {
      return { done: await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done, errors };
    } finally {
      off();
    }
  };

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 20, folders: ['INBOX'], seed: 6 }),
    });
    dataDir = path.join(fixture.dir, 'data-on-small-disk');
    await fs.mkdir(dataDir);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dataDir]);
    mounted = true;
    state = new StateDb(path.join(dataDir, 'state.db'));
    engine = new SyncEngine([fixture.account], state);
    assert.equal((await sync()).done.result, 'ok');
    // The state's disk fills up (the Maildir's has room); new mail arrives.
    await run('dd', ['if=/dev/zero', `of=${path.join(dataDir, 'filler')}`, 'bs=64k']).catch(
      () => undefined,
    );
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 10, folders: ['INBOX'], seed: 7 }),
    );
  });

  after(async () => {
    await engine?.stop();
    state?.close();
    if (mounted) await run('umount', [dataDir]);
    await fixture?.cleanup();
  });

  it('ends each run with DISK_FULL, leaving no run behind and no file in tmp/', async () => {
    for (let pass = 0; pass < 2; pass++) {
      const { done, errors } = await sync();
      assert.equal(done.result, 'error');
      assert.ok(
        errors.some((e) => e.code === 'DISK_FULL' && /dataDir/.test(e.hint)),
        JSON.stringify(errors),
      );
      assert.deepEqual(engine.running(), [], 'the run ended');
      assert.ok(await tmpIsEmpty(inbox()), 'the uncommitted batch was removed');
      assert.equal((await readMaildirFolder(inbox())).length, 20);
    }
  });

  it('syncs once space is freed, each message once', async () => {
    await fs.rm(path.join(dataDir, 'filler'));
    const { done, errors } = await sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.equal(done.stats.downloaded, 10);
    assert.equal((await readMaildirFolder(inbox())).length, 30);
    assert.ok(await tmpIsEmpty(inbox()));
  });
});
