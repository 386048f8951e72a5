/**
 * "Sync now" while background work runs: the user's request (SYNC_ON_DEMAND) pre-empts the
 * background run, which stops keeping what it stored; a second click joins the first.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../agent/src/config/load.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';

const PASSWORD_ENV = 'STORESYNC_PREEMPT_PASSWORD';

describe('on-demand sync pre-empts background work', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let state: StateDb;

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(generateMailbox({ count: 300, folders: ['INBOX'], seed: 97 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-preempt-'));
    state = new StateDb(path.join(dir, 'state.db'));
  });
  after(async () => {
    state?.close();
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("stops the background run and runs the user's at once; a second request joins it", async () => {
    process.env[PASSWORD_ENV] = dovecot.password;
    const { accounts } = parseConfig(
      {
        dataDir: dir,
        accounts: [
          {
            id: 'a',
            imap: {
              host: dovecot.host,
              port: dovecot.port,
              tls: 'none',
              user: dovecot.user,
              password: { env: PASSWORD_ENV },
            },
            maildir: path.join(dir, 'Maildir'),
          },
        ],
      },
      null,
    );
    const engine = new SyncEngine(accounts, state);
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
    assert.equal((await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'))).length, 300);
  });
});
