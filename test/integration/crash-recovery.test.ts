/**
 * kill -9 at random moments, then a normal run: nothing lost, nothing duplicated, on either
 * side, with local work of every kind pending (new files, flag changes, deletions) and remote
 * flag changes arriving. First `storesync sync --once` killed over and over; then the agent
 * itself killed in the middle of the syncs that IDLE triggers.
 *
 * Sizes: 500 messages and 20 kills by default; STORESYNC_KILL_MESSAGES=5000 and
 * STORESYNC_KILL_ROUNDS=100 run the long variant.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox, generateMessage } from '../../agent/src/demo/sample-mail.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirLetters } from '../../agent/src/sync/maildir/flags.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { BIN, runCli, startAgentProcess, writeTestConfig } from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_CRASH_PASSWORD';
const MESSAGES = Number(process.env.STORESYNC_KILL_MESSAGES ?? 500);
const ROUNDS = Number(process.env.STORESYNC_KILL_ROUNDS ?? 20);
const FOLDERS = ['INBOX', 'Archive'];

/** Seeded, so a failing sequence of kill moments can be replayed. */
function delays(seed: number, min: number, spread: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return min + (s % spread);
  };
}

/**
 * Server and Maildir hold the same messages, each once, with the same flags (as Maildir
 * letters), and no file is left in tmp/.
 */
async function assertInSync(dovecot: TestDovecot, maildir: string): Promise<void> {
  for (const folder of FOLDERS) {
    const server = (await dovecot.listMessages(folder))
      .map((m) => `${maildirLetters(m.flags)}|${crlfToLf(m.raw).toString('latin1')}`)
      .sort();
    const dir = path.join(maildir, ...folder.split('/'));
    const local = (await readMaildirFolder(dir))
      .map((m) => `${m.letters}|${m.data.toString('latin1')}`)
      .sort();
    assert.equal(
      local.length,
      server.length,
      `${folder}: ${local.length} files, ${server.length} messages`,
    );
    const differing = local.filter((m, i) => m !== server[i]).length;
    assert.equal(differing, 0, `${folder}: ${differing} messages differ in content or flags`);
    assert.equal(
      new Set(server).size,
      server.length,
      `${folder}: a message is on the server twice`,
    );
    assert.ok(await tmpIsEmpty(dir), `${folder}: files left in tmp/`);
  }
}

describe('crash recovery (kill -9)', function () {
  this.timeout(900_000);
  let dovecot: TestDovecot;
  let dir: string;
  let config: string;
  let maildir: string;
  let env: NodeJS.ProcessEnv;
  const syncOnce = () => runCli(['sync', '--config', config, '--once', '--json'], env);

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(generateMailbox({ count: MESSAGES, folders: FOLDERS, seed: 91 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-crash-'));
    config = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
    maildir = path.join(dir, 'Maildir');
    env = { [PASSWORD_ENV]: dovecot.password };
  });
  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('`sync --once` killed at random moments with local and remote work pending', async () => {
    // A first, complete sync: the base for local changes.
    const first = await syncOnce();
    assert.equal(first.code, 0, first.stderr);
    const inbox = path.join(maildir, 'INBOX');
    const archive = path.join(maildir, 'Archive');

    // Local work: new messages, flags set on some, deletions of others…
    const localNew = Array.from({ length: 15 }, (_, i) => crlfToLf(generateMessage(50_000 + i)));
    for (const [i, data] of localNew.entries())
      await fs.writeFile(path.join(inbox, 'new', `1700000${i}.localnew${i}.host`), data);
    const inboxFiles = (await fs.readdir(path.join(inbox, 'cur'))).sort();
    for (const name of inboxFiles.slice(0, 30)) {
      const [base] = name.split(':2,');
      await fs.rename(path.join(inbox, 'cur', name), path.join(inbox, 'cur', `${base}:2,FS`));
    }
    const archiveFiles = (await fs.readdir(path.join(archive, 'cur'))).sort();
    for (const name of archiveFiles.slice(0, 20)) await fs.rm(path.join(archive, 'cur', name));
    // …and on the server, flags changed by another client on other messages.
    const remote = await dovecot.listMessages('Archive');
    const archiveBefore = remote.length;
    for (const m of remote.slice(-20)) await dovecot.setFlags('Archive', m.uid, ['\\Answered']);

    const nextDelay = delays(12345, 50, 900);
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawn(process.execPath, [BIN, 'sync', '--config', config, '--once', '--json'], {
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise((r) => setTimeout(r, nextDelay()));
      child.kill('SIGKILL');
      await exited;
      // Whatever moment it died at, cur/ and new/ hold only whole files.
      for (const m of await readMaildirFolder(inbox))
        assert.ok(m.data.length > 0, `round ${round}: empty file ${m.name}`);
    }

    const final = await syncOnce();
    assert.equal(final.code, 0, final.stdout + final.stderr);
    await assertInSync(dovecot, maildir);
    const server = (await dovecot.listMessages('INBOX')).map((m) => crlfToLf(m.raw));
    for (const data of localNew)
      assert.equal(server.filter((s) => s.equals(data)).length, 1, 'each uploaded exactly once');
    assert.equal(
      (await dovecot.listMessages('Archive')).length,
      archiveBefore - 20,
      'the local deletions reached the server',
    );
    const again = JSON.parse((await syncOnce()).stdout) as Record<string, number>;
    assert.deepEqual(
      [again.downloaded, again.uploaded, again.flagsPulled, again.flagsPushed],
      [0, 0, 0, 0],
      'a run after recovery finds nothing left to do',
    );
  });

  it('the agent killed in the middle of IDLE-triggered syncs', async () => {
    const backgroundConfig = await writeTestConfig(dir, dovecot, {
      passwordEnv: PASSWORD_ENV,
      background: true,
    });
    const nextDelay = delays(777, 20, 400);
    const rounds = Math.max(3, Math.round(ROUNDS / 4));
    for (let round = 0; round < rounds; round++) {
      const agent = await startAgentProcess(['--config', backgroundConfig], env);
      // New mail arrives; IDLE announces it; the agent syncs it … and dies mid-way.
      await dovecot.appendMessages(
        generateMailbox({ count: 30, folders: ['INBOX'], seed: 1000 + round }),
      );
      await new Promise((r) => setTimeout(r, nextDelay()));
      agent.child.kill('SIGKILL');
      await new Promise((resolve) => agent.child.once('exit', resolve));
      // A killed agent leaves its lock behind; the next start must take over from it.
    }
    const final = await syncOnce();
    assert.equal(final.code, 0, final.stdout + final.stderr);
    await assertInSync(dovecot, maildir);
  });
});
