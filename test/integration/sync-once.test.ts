/**
 * `storesync sync --once` against a real Dovecot: every message of every folder arrives in
 * the Maildir byte-exact (CRLF → LF only) with its flags, and a second run downloads nothing
 * (and starts from the code cache the first one left).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirLetters } from '../../agent/src/sync/maildir/flags.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { FULL_SYNC, type HistoryEntry } from '../../agent/src/protocol/index.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';

const FOLDERS = ['INBOX', 'Archive', 'Archive/2024'];
const PASSWORD_ENV = 'STORESYNC_IT_PASSWORD';

describe('sync --once (Dovecot → Maildir)', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let configFile: string;
  const env = () => ({
    [PASSWORD_ENV]: dovecot.password,
    XDG_CACHE_HOME: path.join(dir, 'cache'),
  });

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(generateMailbox({ count: 200, folders: FOLDERS, seed: 7 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-it-'));
    configFile = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('downloads every message with the server bytes (CRLF → LF) and flags', async () => {
    const result = await runCli(['sync', '--config', configFile, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop()!);
    assert.equal(summary.ok, true);
    assert.equal(summary.downloaded, 200);
    assert.deepEqual(summary.errors, []);

    let total = 0;
    for (const folder of FOLDERS) {
      const server = await dovecot.listMessages(folder);
      const local = await readMaildirFolder(path.join(dir, 'Maildir', ...folder.split('/')));
      assert.equal(local.length, server.length, `${folder}: file count`);
      assert.ok(
        await tmpIsEmpty(path.join(dir, 'Maildir', ...folder.split('/'))),
        `${folder}: tmp/ empty`,
      );
      // Match by content: each server message has exactly one identical file.
      const byContent = new Map(local.map((m) => [m.data.toString('latin1'), m]));
      assert.equal(byContent.size, local.length, `${folder}: no duplicate files`);
      for (const message of server) {
        const expected = crlfToLf(message.raw);
        const file = byContent.get(expected.toString('latin1'));
        assert.ok(file, `${folder} UID ${message.uid}: no byte-identical file`);
        assert.equal(
          file.letters,
          maildirLetters(message.flags),
          `${folder} UID ${message.uid}: flags`,
        );
        assert.equal(file.subdir, 'cur');
      }
      total += server.length;
    }
    assert.equal(total, 200);
  });

  it('downloads nothing on a second run', async () => {
    // The first run, which went through, left the code cache of the sync bundle.
    const caches = await fs.readdir(path.join(dir, 'cache', 'storesync'));
    assert.equal(caches.filter((name) => /^sync-.*\.cache$/.test(name)).length, 1, `${caches}`);
    const before = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    const result = await runCli(['sync', '--config', configFile, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout.trim());
    assert.equal(summary.downloaded, 0);
    assert.equal(summary.foldersSynced, FOLDERS.length);
    const after = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    assert.deepEqual(after.map((m) => m.name).sort(), before.map((m) => m.name).sort());
  });

  it('ends the run a `sync --once` killed in its middle left going', async () => {
    // What such a process leaves in the state: a run that started and never ended.
    const state = new StateDb(path.join(dir, 'data', 'state.db'));
    state.startRun('killed-run', 'cli', FULL_SYNC, 1000, ['work']);
    state.close();
    const result = await runCli(['sync', '--config', configFile, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stderr);
    const status = await runCli(['status', '--config', configFile, '--json'], env());
    const { history } = JSON.parse(status.stdout) as { history: HistoryEntry[] };
    assert.deepEqual(
      history.filter((h) => h.result === null),
      [],
      'no run left going',
    );
    const killed = history.find((h) => h.syncId === 'killed-run');
    assert.deepEqual([killed?.result, killed?.finishedAt], ['error', 1000]);
  });

  it('downloads only what arrived since, into the right folder', async () => {
    const [extra] = generateMailbox({ count: 1, folders: ['Archive/2024'], seed: 99 });
    await dovecot.appendMessages([extra!]);
    const result = await runCli(['sync', '--config', configFile, '--once', '--json'], env());
    const summary = JSON.parse(result.stdout.trim());
    assert.equal(summary.downloaded, 1);
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'Archive', '2024'));
    assert.ok(local.some((m) => m.data.equals(crlfToLf(extra!.raw))));
  });

  it('syncs only the folders named with --folder, and says so when one does not exist', async () => {
    const [inInbox, inArchive] = generateMailbox({ count: 2, folders: ['INBOX'], seed: 123 });
    await dovecot.appendMessages([inInbox!, { ...inArchive!, folder: 'Archive' }]);
    let result = await runCli(
      ['sync', '--config', configFile, '--once', '--json', '--folder', 'Archive'],
      env(),
    );
    assert.equal(JSON.parse(result.stdout.trim()).downloaded, 1);
    result = await runCli(
      ['sync', '--config', configFile, '--once', '--json', '--folder', 'Nope'],
      env(),
    );
    assert.equal(result.code, 1);
    const [gone] = JSON.parse(result.stdout.trim()).errors as Array<{ code: string; hint: string }>;
    assert.equal(gone!.code, 'FOLDER_GONE');
    assert.match(gone!.hint, /Check the name as the server has it/);
    // INBOX is one name in any case (RFC 3501).
    result = await runCli(
      ['sync', '--config', configFile, '--once', '--json', '--folder', 'inbox'],
      env(),
    );
    assert.equal(result.code, 0, result.stdout);
    assert.equal(
      JSON.parse(result.stdout.trim()).downloaded,
      1,
      'the INBOX message was left for this run',
    );
  });

  it('pushes a local flag change only when uploading contents', async () => {
    const folderDir = path.join(dir, 'Maildir', 'Archive');
    const file = (await readMaildirFolder(folderDir)).find((m) => !m.letters.includes('F'))!;
    const base = file.name.slice(0, file.name.lastIndexOf(':2,'));
    await fs.rename(
      path.join(folderDir, file.subdir, file.name),
      path.join(
        folderDir,
        'cur',
        `${base}:2,F${file.letters}`.replace(
          /:2,(.*)$/,
          (_m, l: string) => ':2,' + [...l].sort().join(''),
        ),
      ),
    );
    let summary = JSON.parse(
      (
        await runCli(
          ['sync', '--config', configFile, '--once', '--json', '--download-contents'],
          env(),
        )
      ).stdout.trim(),
    );
    assert.equal(summary.flagsPushed, 0);
    summary = JSON.parse(
      (
        await runCli(
          ['sync', '--config', configFile, '--once', '--json', '--upload-contents'],
          env(),
        )
      ).stdout.trim(),
    );
    assert.equal(summary.flagsPushed, 1);
    const flagged = (await dovecot.listMessages('Archive')).filter((m) =>
      m.flags.includes('\\Flagged'),
    );
    assert.ok(flagged.some((m) => crlfToLf(m.raw).equals(file.data)));
  });

  it('exits 1 with AUTH_FAILED and a hint when the password is wrong', async () => {
    const result = await runCli(['sync', '--config', configFile, '--once', '--json'], {
      [PASSWORD_ENV]: 'wrong-password',
    });
    assert.equal(result.code, 1);
    const summary = JSON.parse(result.stdout.trim());
    assert.equal(summary.ok, false);
    assert.equal(summary.errors[0].code, 'AUTH_FAILED');
    assert.ok(
      !result.stdout.includes('wrong-password') && !result.stderr.includes('wrong-password'),
    );
  });

  it('exits 2 naming the field when the config is invalid', async () => {
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(
      bad,
      JSON.stringify({
        accounts: [
          {
            id: 'x',
            imap: { host: 'h', user: 'u', password: { env: 'X' }, tls: 'tls' },
            maildir: 'm',
          },
        ],
      }),
    );
    const result = await runCli(['sync', '--config', bad, '--once']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /accounts\[0\]\.imap\.tls/);
    assert.match(result.stderr, new RegExp(bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('exits 2 on bad usage', async () => {
    assert.equal((await runCli(['sync', '--config', configFile])).code, 2); // no --once
    assert.equal((await runCli(['sync', '--no-such-flag'])).code, 2);
  });
});
