/**
 * Hostile real-world mail stored exactly as the server sends it (CRLF → LF only), including
 * a 20 MB message that is streamed rather than held in memory, and uploaded back byte-exact.
 *
 * The server's rules win where IMAP has them: a NUL byte cannot travel in a FETCH literal,
 * so Dovecot sends it as 0x80 (and we store what it sends), while an upload carries it in a
 * BINARY literal8 and the server keeps it. A message the server refuses to store, or a file
 * too large to read, is an error for that message only; its file stays.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crlfToLf, lfToCrlf } from '../../agent/src/sync/maildir/crlf.js';
import type { SampleMessage } from '../../agent/src/demo/sample-mail.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';
import { HOSTILE, message } from '../support/hostile-mail.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const PASSWORD_ENV = 'STORESYNC_BYTES_PASSWORD';
describe('byte-exact storage of hostile mail', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let config: string;
  const env = () => ({ [PASSWORD_ENV]: dovecot.password });

  before(async () => {
    dovecot = await startTestDovecot();
    // 20 MB by default; STORESYNC_BIG_MESSAGE_MB=50 for the long variant.
    const megabytes = Number(process.env.STORESYNC_BIG_MESSAGE_MB ?? 20);
    const big = message([
      `Subject: ${megabytes} MB`,
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      ...Array.from({ length: Math.ceil((megabytes * 1024 * 1024) / 78) + 1 }, (_, i) =>
        Buffer.from(String(i).padStart(76, 'Q')),
      ),
    ]);
    assert.ok(big.length > megabytes * 1024 * 1024);
    const mail: SampleMessage[] = [...Object.values(HOSTILE), big].map((raw, i) => ({
      folder: 'INBOX',
      raw,
      flags: i % 2 ? ['\\Seen'] : [],
      internalDate: new Date(Date.UTC(2024, 0, 1 + i)),
    }));
    await dovecot.appendMessages(mail);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-bytes-'));
    config = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores every message as the server sends it, CRLF → LF and nothing else', async () => {
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const server = await dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    assert.equal(local.length, server.length);
    const byContent = new Set(local.map((m) => m.data.toString('latin1')));
    for (const m of server) {
      const name =
        Object.entries(HOSTILE).find(([, raw]) => raw.equals(m.raw))?.[0] ??
        `${m.raw.length} bytes`;
      assert.ok(byContent.has(crlfToLf(m.raw).toString('latin1')), `${name}: stored bytes differ`);
    }
  });

  it('uploads them back with CRLF restored: the round trip is identical', async () => {
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    const copyDir = path.join(dir, 'Maildir', 'Copies');
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(copyDir, sub), { recursive: true });
    for (const [i, m] of local.entries())
      await fs.writeFile(path.join(copyDir, 'cur', `1700000${i}.copy${i}.host:2,S`), m.data);
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(JSON.parse(result.stdout).uploaded, local.length, result.stdout);
    const originals = (await dovecot.listMessages('INBOX'))
      .map((m) => m.raw.toString('latin1'))
      .sort();
    const copies = (await dovecot.listMessages('Copies'))
      .map((m) => m.raw.toString('latin1'))
      .sort();
    assert.deepEqual(copies, originals);
    for (const m of local) assert.ok(originals.includes(lfToCrlf(m.data).toString('latin1')));
  });

  it('uploads a NUL byte as is (BINARY literal8): the server keeps it, the file is untouched', async () => {
    const raw = Buffer.from('Subject: local nul\n\nzero\0byte, nul-upload-marker\n', 'latin1');
    const folderDir = path.join(dir, 'Maildir', 'Nul');
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(folderDir, sub), { recursive: true });
    const file = path.join(folderDir, 'cur', '1700000000.nul.host:2,S');
    await fs.writeFile(file, raw);
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(JSON.parse(result.stdout).uploaded, 1);
    assert.ok((await fs.readFile(file)).equals(raw), 'the local file changed');
    // On the server's disk (Dovecot's Maildir, LF line ends too): the NUL is there.
    const stored = await findFile(dovecot.maildirRoot, 'nul-upload-marker');
    assert.ok(stored?.equals(raw), `server stored ${JSON.stringify(stored?.toString('latin1'))}`);
    // Over IMAP it comes back as 0x80, the way Dovecot sends every NUL.
    const [served] = await dovecot.listMessages('Nul');
    assert.ok(
      served!.raw.equals(
        lfToCrlf(Buffer.from(raw.toString('latin1').replace('\0', '\x80'), 'latin1')),
      ),
    );
    // With the state lost, the file (no Message-ID) is still that message: matched by its
    // bytes as the server serves them, neither sent again nor fetched.
    for (const suffix of ['', '-wal', '-shm'])
      await fs.rm(path.join(dir, 'data', `state.db${suffix}`), { force: true });
    const rebuilt = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
    const stats = JSON.parse(rebuilt.stdout) as { uploaded: number; downloaded: number };
    assert.deepEqual([stats.uploaded, stats.downloaded], [0, 0]);
    assert.equal((await dovecot.listMessages('Nul')).length, 1);
    assert.ok((await fs.readFile(file)).equals(raw), 'the local file changed');
  });
});

describe('a message the server refuses to store', function () {
  const LIMIT = 64 * 1024;
  let fixture: SyncFixture;
  const inbox = () => fixture.folderDir('INBOX');
  const small = (n: number) => Buffer.from(`Subject: small ${n}\n\nfits\n`);
  const big = Buffer.from(`Subject: too big\n\n${'b'.repeat(2 * LIMIT)}\n`);

  before(async () => {
    fixture = await startSyncFixture({ dovecot: { maxMessageSize: LIMIT } });
    assert.equal((await fixture.sync()).done.result, 'ok'); // creates the local INBOX
    await fs.writeFile(path.join(inbox(), 'cur', '1700000001.a.host:2,S'), small(1));
    await fs.writeFile(path.join(inbox(), 'cur', '1700000002.big.host:2,S'), big);
    await fs.writeFile(path.join(inbox(), 'cur', '1700000003.c.host:2,S'), small(3));
  });

  after(async () => fixture?.cleanup());

  it('is an error for that message; the others are uploaded and its file stays', async () => {
    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'error');
    assert.equal(done.stats.uploaded, 2);
    assert.equal(done.stats.foldersFailed, 0, 'the folder itself synced');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.code, 'SERVER_NO');
    assert.equal(errors[0]!.folder, 'INBOX');
    assert.match(errors[0]!.message, /1700000002\.big\.host.*maximum size/);
    const server = await fixture.dovecot.listMessages('INBOX');
    assert.deepEqual(
      server.map((m) => crlfToLf(m.raw).toString()).sort(),
      [small(1), small(3)].map(String),
    );
    assert.ok(
      (await fs.readFile(path.join(inbox(), 'cur', '1700000002.big.host:2,S'))).equals(big),
    );
  });

  it('is offered again next time, without duplicating the others', async () => {
    const { done, errors } = await fixture.sync();
    assert.equal(done.stats.uploaded, 0);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['SERVER_NO'],
    );
    assert.equal((await fixture.dovecot.listMessages('INBOX')).length, 2);
    assert.equal((await readMaildirFolder(inbox())).length, 3);
  });
});

describe('a message file too large to read', function () {
  let fixture: SyncFixture;
  const inbox = () => fixture.folderDir('INBOX');
  const hugeName = '1700000002.huge.host:2,S';
  const hugeSize = 2 ** 31 + 4096;

  before(async () => {
    fixture = await startSyncFixture();
    assert.equal((await fixture.sync()).done.result, 'ok'); // creates the local INBOX
    await fs.writeFile(path.join(inbox(), 'cur', '1700000001.a.host:2,S'), 'Subject: a\n\na\n');
    // Sparse: it takes no room on the disk, but reads as 2 GiB and more.
    const huge = await fs.open(path.join(inbox(), 'cur', hugeName), 'w');
    await huge.write('Subject: huge\n\n');
    await huge.truncate(hugeSize);
    await huge.close();
    await fs.writeFile(path.join(inbox(), 'new', '1700000003.c.host'), 'Subject: c\n\nc\n');
  });

  after(async () => fixture?.cleanup());

  it('is an error naming it; the folder syncs, the others are uploaded, the file stays', async () => {
    for (const pass of [1, 2]) {
      const { done, errors } = await fixture.sync();
      assert.equal(done.stats.uploaded, pass === 1 ? 2 : 0);
      assert.equal(done.stats.foldersFailed, 0, 'the folder itself synced');
      assert.deepEqual(
        errors.map((e) => [e.code, e.folder]),
        [['LOCAL_IO', 'INBOX']],
      );
      assert.match(errors[0]!.message, /1700000002\.huge\.host.*too large/);
      assert.equal((await fixture.dovecot.listMessages('INBOX')).length, 2);
      assert.equal((await fs.stat(path.join(inbox(), 'cur', hugeName))).size, hugeSize);
    }
  });

  it('is left out when the state is lost: the others are matched, not uploaded again', async () => {
    await fixture.discardState();
    const { done, errors } = await fixture.sync();
    assert.deepEqual([done.stats.uploaded, done.stats.downloaded], [0, 0]);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['LOCAL_IO'],
    );
    assert.equal((await fixture.dovecot.listMessages('INBOX')).length, 2);
  });
});

/** The first file under `root` whose bytes contain `marker`. */
async function findFile(root: string, marker: string): Promise<Buffer | null> {
  for (const entry of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const data = await fs.readFile(path.join(entry.parentPath, entry.name));
    if (data.includes(marker)) return data;
  }
  return null;
}
