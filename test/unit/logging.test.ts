/**
 * The agent's file log: lines on disk, secrets redacted (fields and IMAP protocol lines),
 * rotation at the configured size keeping the configured number of files, and no line lost
 * when a process exits abruptly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createFileLogger, effectiveLevel } from '../../agent/src/logging.js';
import { listLogFiles, logDirectory } from '../../agent/src/logs/log-files.js';

const PASSWORD = 'Sup3r-s3cret!';
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function readLog(dataDir: string): Promise<string> {
  const files = await listLogFiles(logDirectory(dataDir));
  const parts = await Promise.all(files.map((f) => fs.readFile(f.path, 'utf8')));
  return parts.join('');
}

function records(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('agent file log', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-log-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes JSON lines to logs/agent.N.log with secret fields redacted', async () => {
    const log = createFileLogger(dir);
    log.info({ accountId: 'work', password: PASSWORD, imap: { token: PASSWORD } }, 'hello');
    log.child({ syncId: 's-1' }).warn({ code: 'X' }, 'child line');
    await log.close();
    const files = await listLogFiles(logDirectory(dir));
    assert.deepEqual(
      files.map((f) => path.basename(f.path)),
      ['agent.1.log'],
    );
    const text = await readLog(dir);
    assert.ok(!text.includes(PASSWORD));
    const [first, second] = records(text);
    assert.equal(first!.msg, 'hello');
    assert.equal(first!.password, '[redacted]');
    assert.equal(second!.syncId, 's-1');
  });

  it('keeps its files readable by the user only, whatever the directory and the umask', async () => {
    await fs.chmod(dir, 0o755);
    // A log an earlier version left with the umask's mode is made private too.
    await fs.mkdir(logDirectory(dir), { mode: 0o755 });
    await fs.writeFile(path.join(logDirectory(dir), 'agent.1.log'), '', { mode: 0o644 });
    const previous = process.umask(0o022);
    try {
      const log = createFileLogger(dir);
      log.info({}, 'hello');
      await log.close();
    } finally {
      process.umask(previous);
    }
    const [file] = await listLogFiles(logDirectory(dir));
    assert.equal((await fs.stat(file!.path)).mode & 0o777, 0o600);
    const fresh = path.join(dir, 'fresh');
    await fs.mkdir(fresh, { mode: 0o755 });
    const log = createFileLogger(fresh);
    log.info({}, 'hello');
    await log.close();
    assert.equal((await fs.stat(logDirectory(fresh))).mode & 0o777, 0o700);
    const [made] = await listLogFiles(logDirectory(fresh));
    assert.equal((await fs.stat(made!.path)).mode & 0o777, 0o600);
  });

  it('rotates at the configured size and keeps the configured number of files', async () => {
    const maxBytes = 4096;
    const log = createFileLogger(dir, { maxSizeMB: maxBytes / 1048576, maxFiles: 3 });
    const padding = 'x'.repeat(100);
    for (let i = 0; i < 300; i++) {
      log.info({ i, padding }, 'line');
      // Rotation is checked after each write, once the write has drained.
      await nextTurn();
    }
    await log.close();
    const files = await listLogFiles(logDirectory(dir));
    assert.equal(files.length, 3, files.map((f) => f.path).join(', '));
    assert.ok(files[2]!.number > 3, 'older files were rotated away');
    const lineLength = (await fs.readFile(files[2]!.path, 'utf8')).split('\n')[0]!.length + 1;
    for (const file of files.slice(0, -1)) {
      const { size } = await fs.stat(file.path);
      assert.ok(size >= maxBytes && size < maxBytes + lineLength, `${file.path}: ${size} bytes`);
    }
    // What is kept is the newest stretch of the log, without gaps.
    const kept = records(await readLog(dir)).map((r) => r.i as number);
    assert.equal(kept.at(-1), 299);
    kept.forEach((n, k) => assert.equal(n, kept[0]! + k));
  });

  it('redacts IMAP LOGIN and AUTHENTICATE lines and tags them with the sync run', async () => {
    const log = createFileLogger(dir, { imapProtocol: true, level: 'info' });
    const sink = log.imapProtocolLog!;
    assert.ok(sink, 'protocol sink enabled');
    const ctx = { syncId: 'sync-42', accountId: 'work', connection: 'c1' };
    sink('C', `1 LOGIN tester "${PASSWORD}"`, ctx);
    sink('S', '1 NO [AUTHENTICATIONFAILED] failed', ctx);
    sink('C', '2 AUTHENTICATE PLAIN', ctx);
    sink('S', '+ ', ctx);
    sink('C', b64(`\0tester\0${PASSWORD}`), ctx);
    sink('S', '2 OK Logged in', ctx);
    sink('C', `3 AUTHENTICATE PLAIN ${b64(`tester\0tester\0${PASSWORD}`)}`, ctx);
    sink('S', '3 OK Logged in', ctx);
    sink('C', '4 SELECT INBOX', ctx);
    await log.close();
    const text = await readLog(dir);
    for (const secret of [
      PASSWORD,
      b64(`\0tester\0${PASSWORD}`),
      b64(`tester\0tester\0${PASSWORD}`),
    ]) {
      assert.ok(!text.includes(secret), `log contains ${secret}`);
    }
    const lines = records(text);
    assert.equal(lines.length, 9);
    for (const line of lines) {
      assert.equal(line.syncId, 'sync-42');
      assert.equal(line.accountId, 'work');
      assert.equal(line.level, 20, 'debug, logged although the level is info');
    }
    assert.equal(lines.at(-1)!.msg, 'C: 4 SELECT INBOX');
  });

  it('keeps the protocol log off unless asked for', () => {
    assert.equal(createFileLogger(dir).imapProtocolLog, undefined);
  });

  it('lets STORESYNC_LOG_LEVEL override the configured level', () => {
    const saved = process.env.STORESYNC_LOG_LEVEL;
    try {
      process.env.STORESYNC_LOG_LEVEL = 'debug';
      assert.equal(effectiveLevel('warn'), 'debug');
      process.env.STORESYNC_LOG_LEVEL = 'nonsense';
      assert.equal(effectiveLevel('warn'), 'warn');
      // …except a level an admin policy locked.
      process.env.STORESYNC_LOG_LEVEL = 'debug';
      assert.equal(effectiveLevel('warn', true), 'warn');
      delete process.env.STORESYNC_LOG_LEVEL;
      assert.equal(effectiveLevel(undefined), 'info');
    } finally {
      if (saved === undefined) delete process.env.STORESYNC_LOG_LEVEL;
      else process.env.STORESYNC_LOG_LEVEL = saved;
    }
  });

  it('loses no line when the process exits without closing the log', async () => {
    // Each line is on disk when the call returns: process.exit() right after keeps them all.
    const script = `
      import fs from 'node:fs';
      import { createFileLogger } from ${JSON.stringify(path.resolve('agent/src/logging.ts'))};
      const log = createFileLogger(process.argv[1]);
      log.info({}, 'opening');
      while (!fs.existsSync(process.argv[1] + '/logs/agent.1.log'))
        await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 2000; i++) log.info({ i }, 'line');
      process.exit(0);
    `;
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, dir],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      child.on('error', reject);
      child.on('exit', resolve);
    });
    assert.equal(code, 0);
    const lines = records(await readLog(dir));
    assert.equal(lines.length, 2001);
    assert.equal(lines.at(-1)!.i, 1999);
  });
});
