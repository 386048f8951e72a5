/**
 * The admin policy reaches the sync itself: a policy forcing headers-only makes a plain
 * `storesync sync --once` store header blocks only, against a real server; a policy requiring
 * TLS stops a plain-text account before it connects.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_POLICY_PASSWORD';

describe('admin policy applied to a sync', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let config: string;
  let policy: string;
  const env = () => ({ [PASSWORD_ENV]: dovecot.password, STORESYNC_POLICY_FILE: policy });

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(generateMailbox({ count: 6, folders: ['INBOX'], seed: 19 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-policy-sync-'));
    config = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
    policy = path.join(dir, 'policy.json');
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses a plain-text account when the policy requires TLS, before connecting', async () => {
    await fs.writeFile(policy, JSON.stringify({ imap: { requireTls: true } }));
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /accounts\[0\]\.imap\.tls: "none" is not allowed/);
    assert.ok(result.stderr.includes(policy), result.stderr);
    await assert.rejects(fs.stat(path.join(dir, 'Maildir', 'INBOX')), { code: 'ENOENT' });
  });

  it('syncs headers only when the policy forces it, though the command did not ask', async () => {
    await fs.writeFile(policy, JSON.stringify({ sync: { headersOnly: true } }));
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).downloaded, 6);
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    assert.equal(local.length, 6);
    // Header blocks only: every file ends at the blank line, with no body after it.
    for (const m of local) assert.ok(m.data.toString('latin1').endsWith('\n\n'), m.name);
    const state = new StateDb(path.join(dir, 'data', 'state.db'));
    try {
      const inbox = state.folders('test').find((f) => f.path === 'INBOX')!;
      assert.ok(state.messages(inbox.id).every((m) => m.partial));
    } finally {
      state.close();
    }
  });
});
