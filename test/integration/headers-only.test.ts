/**
 * Headers-only sync (MAPI's SYNC_GLOBAL_HEADERS): header blocks first, a body on demand with
 * `storesync fetch`, the rest completed by the next full sync, in place, without duplicates.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { runCli, startAgentProcess, writeTestConfig } from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_HEADERS_PASSWORD';

function headerBlock(raw: Buffer): Buffer {
  return raw.subarray(0, raw.indexOf('\r\n\r\n') + 4);
}

describe('headers-only sync and bodies on demand', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let config: string;
  const env = () => ({ [PASSWORD_ENV]: dovecot.password });
  const inbox = () => path.join(dir, 'Maildir', 'INBOX');
  /** `storesync fetch` of one UID (`--json` unless told otherwise). */
  const fetchCli = (uid: number | string, options: { folder?: string; json?: boolean } = {}) =>
    runCli(
      [
        'fetch',
        '--config',
        config,
        '--account',
        'test',
        '--folder',
        options.folder ?? 'INBOX',
        '--uid',
        String(uid),
        ...(options.json === false ? [] : ['--json']),
      ],
      env(),
    );

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(generateMailbox({ count: 12, folders: ['INBOX'], seed: 71 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-headers-'));
    config = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores only the header blocks', async () => {
    const result = await runCli(
      ['sync', '--config', config, '--once', '--json', '--headers-only'],
      env(),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).downloaded, 12);
    const server = await dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(inbox());
    assert.equal(local.length, 12);
    const localBytes = new Set(local.map((m) => m.data.toString('latin1')));
    for (const m of server)
      assert.ok(
        localBytes.has(crlfToLf(headerBlock(m.raw)).toString('latin1')),
        `UID ${m.uid} header block`,
      );
    // The size in a name is a promise Dovecot relies on: none on a file whose size will change.
    for (const m of local) assert.ok(!m.name.includes(',S='), m.name);
  });

  it('fetches one body on demand, in place', async () => {
    const [target] = await dovecot.listMessages('INBOX');
    const result = await fetchCli(target!.uid);
    assert.equal(result.code, 0, result.stderr);
    const { path: file, fetched } = JSON.parse(result.stdout);
    assert.equal(fetched, true);
    assert.deepEqual(await fs.readFile(file), crlfToLf(target!.raw));
    assert.equal((await readMaildirFolder(inbox())).length, 12, 'replaced, not added');
    const again = await fetchCli(target!.uid);
    assert.equal(JSON.parse(again.stdout).fetched, false);
    const missing = await fetchCli(99999, { json: false });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No message with UID 99999/);
    // Whole numbers only: "1.5" is not UID 1.
    for (const uid of ['1.5', '1e0']) {
      const odd = await fetchCli(uid, { json: false });
      assert.equal(odd.code, 2, uid);
      assert.match(odd.stderr, /--uid must be a positive integer/);
    }
  });

  it('has the running agent fetch a body when it runs for the same data', async () => {
    const agent = await startAgentProcess(['--config', config], env());
    try {
      const [, second] = await dovecot.listMessages('INBOX');
      const fetch = (uid: number) => fetchCli(uid, { folder: 'inbox' });
      const result = await fetch(second!.uid);
      assert.equal(result.code, 0, result.stderr);
      const { path: file, fetched } = JSON.parse(result.stdout);
      assert.equal(fetched, true);
      assert.deepEqual(await fs.readFile(file), crlfToLf(second!.raw));
      assert.equal((await readMaildirFolder(inbox())).length, 12, 'replaced, not added');
      const missing = await fetch(99999);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /No message with UID 99999/);
    } finally {
      await agent.stop();
    }
  });

  it('completes the rest with the next full sync, and nothing more after', async () => {
    const full = JSON.parse(
      (await runCli(['sync', '--config', config, '--once', '--json'], env())).stdout,
    );
    assert.equal(full.downloaded, 10, 'the 10 still partial');
    assert.equal(full.uploaded, 0, 'a header block is never uploaded as a message');
    const server = await dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(inbox());
    assert.equal(local.length, server.length);
    const localBytes = new Set(local.map((m) => m.data.toString('latin1')));
    for (const m of server)
      assert.ok(localBytes.has(crlfToLf(m.raw).toString('latin1')), `UID ${m.uid} complete`);
    assert.equal(
      JSON.parse((await runCli(['sync', '--config', config, '--once', '--json'], env())).stdout)
        .downloaded,
      0,
    );
  });
});
