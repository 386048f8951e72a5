/**
 * deletePolicy "trash" with the Trash folder synced too: a message deleted here reaches the
 * local Trash in the same pass, whether the Trash was judged unchanged by the listing's
 * counters before the move (LIST-STATUS) or synced before the folder that moved it (the
 * folders' order, one connection).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('the Trash in the same pass (deletePolicy "trash")', function () {
  this.timeout(120_000);
  let fixture: SyncFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  for (const [name, listStatus, folder] of [
    ['judged unchanged by the listing', true, 'INBOX'],
    ['synced before the folder that moved it', false, 'Work'],
  ] as const) {
    it(`brings the moved message in when the Trash was ${name}`, async () => {
      fixture = await startSyncFixture({
        mail: generateMailbox({ count: 6, folders: [folder, 'Trash'], seed: 64 }),
        dovecot: { capabilities: { listStatus } },
      });
      const options = { deletePolicy: 'trash' as const, maxConnections: 1 };
      const sync = () => fixture!.sync(FULL_SYNC, options);
      await sync();
      await sync(); // every folder left in sync: the next pass may judge them by the listing
      const [victim] = await readMaildirFolder(fixture.folderDir(folder));
      await fs.rm(path.join(fixture.folderDir(folder), victim!.subdir, victim!.name));

      const { done, errors } = await sync();
      assert.deepEqual(errors, []);
      assert.equal(done.stats.expungedRemote, 1);
      const server = await fixture.dovecot.listMessages('Trash');
      const local = await readMaildirFolder(fixture.folderDir('Trash'));
      assert.equal(local.length, server.length, 'Trash: files vs messages');
      assert.ok(
        local.some((f) => f.data.equals(victim!.data)),
        'the moved message is here',
      );
      assert.ok(server.some((m) => crlfToLf(m.raw).equals(victim!.data)));
      assert.equal((await sync()).done.stats.downloaded, 0, 'nothing left for the next pass');
    });
  }

  it('takes the Trash again after a pass of it that ran while the move was made, not beside it', async function () {
    // 3,100 messages appended and synced: minutes on a loaded two-core machine.
    this.timeout(300_000);
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 6, folders: ['INBOX', 'Trash'], seed: 65 }),
      dovecot: { capabilities: { listStatus: false } },
    });
    const options = { deletePolicy: 'trash' as const, maxConnections: 2 };
    await fixture.sync(FULL_SYNC, options);
    // Much new mail in the Trash: its pass is still running when INBOX, done with its own
    // new mail, moves a message in.
    await fixture.dovecot.appendMessages([
      ...generateMailbox({ count: 100, folders: ['INBOX'], seed: 67 }),
      ...generateMailbox({ count: 3000, folders: ['Trash'], seed: 66 }),
    ]);
    const trashBefore = (await fixture.dovecot.listMessages('Trash')).length;
    const [victim] = await readMaildirFolder(fixture.folderDir('INBOX'));
    await fs.rm(path.join(fixture.folderDir('INBOX'), victim!.subdir, victim!.name));

    const { done, errors } = await fixture.sync(FULL_SYNC, options);
    assert.deepEqual(errors, []);
    assert.equal(done.stats.foldersSynced, 2);
    assert.equal(done.stats.uploaded, 0, 'no file of the Trash taken for a new one');
    const server = await fixture.dovecot.listMessages('Trash');
    const local = await readMaildirFolder(fixture.folderDir('Trash'));
    assert.equal(server.length, trashBefore + 1);
    assert.equal(local.length, server.length, 'Trash: files vs messages');
    assert.equal((await fixture.sync(FULL_SYNC, options)).done.stats.downloaded, 0);
  });
});
