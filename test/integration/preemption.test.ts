/**
 * "Sync now" while background work runs: the user's request (SYNC_ON_DEMAND) pre-empts the
 * background run, which stops keeping what it stored; a second click joins the first.
 */
import assert from 'node:assert/strict';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('on-demand sync pre-empts background work', function () {
  let fixture: SyncFixture;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 300, folders: ['INBOX'], seed: 97 }),
    });
  });
  after(async () => fixture?.cleanup());

  it("stops the background run and runs the user's at once; a second request joins it", async () => {
    const engine = fixture.engine();
    const background = engine.start({
      flags: { ...FULL_SYNC, onDemand: false },
      trigger: 'schedule',
    });
    // Another background request while busy joins it.
    assert.equal(
      engine.start({ flags: { ...FULL_SYNC, onDemand: false }, trigger: 'schedule' }).syncId,
      background.syncId,
    );

    await new Promise<void>((resolve) => {
      const off = engine.onEvent((e) => {
        if (e.type === 'progress' && e.step === 'downloading' && e.index >= 10) {
          off();
          resolve();
        }
      });
    });
    const user = engine.start({ flags: FULL_SYNC, trigger: 'user' });
    assert.notEqual(user.syncId, background.syncId);
    assert.equal(
      engine.start({ flags: FULL_SYNC, trigger: 'user' }).syncId,
      user.syncId,
      'a second click joins',
    );

    const [bg, mine] = await Promise.all([background.done, user.done]);
    assert.equal(bg.result, 'cancelled');
    assert.equal(mine.result, 'ok');
    assert.ok(bg.finishedAt <= mine.startedAt || mine.finishedAt >= bg.finishedAt);
    assert.equal(bg.stats.downloaded + mine.stats.downloaded, 300, 'nothing fetched twice');
    assert.equal((await readMaildirFolder(fixture.folderDir('INBOX'))).length, 300);
  });
});
