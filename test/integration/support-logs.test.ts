/**
 * Logs and support bundles against a real Dovecot, through the CLI as users run it: with the
 * IMAP protocol log on, the password (and its AUTHENTICATE PLAIN base64 forms) is nowhere in
 * the log or the bundle; every line of a run carries its syncId; `logs --sync` filters;
 * rotation keeps the configured size and count; `sync --events` is NDJSON of protocol events.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extract } from 'tar';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { listLogFiles, logDirectory } from '../../agent/src/logs/log-files.js';
import { AGENT_VERSION } from '../../agent/src/package-info.js';
import { type SyncEvent, SyncEventSchema } from '../../agent/src/protocol/index.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_IT_LOG_PASSWORD';

/** Adds a "log" block to a config file written by writeTestConfig. */
async function withLogSettings(file: string, log: Record<string, unknown>): Promise<void> {
  const config = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(file, JSON.stringify({ ...config, log }, null, 2));
}

async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, file), await fs.readFile(file, 'utf8'));
  }
  return out;
}

function parseEvents(stdout: string): SyncEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => SyncEventSchema.parse(JSON.parse(line)));
}

describe('logs and support bundle (Dovecot, CLI)', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let configFile: string;
  let dataDir: string;
  let secrets: string[];
  const env = () => ({ [PASSWORD_ENV]: dovecot.password });
  const runIds: string[] = [];

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(
      generateMailbox({ count: 40, folders: ['INBOX', 'Archive'], seed: 11 }),
    );
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-logs-it-'));
    configFile = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
    await withLogSettings(configFile, { level: 'info', imapProtocol: true });
    dataDir = path.join(dir, 'data');
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const { user, password } = dovecot;
    secrets = [
      password,
      b64(password),
      b64(`\0${user}\0${password}`),
      b64(`${user}\0${user}\0${password}`),
    ];
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('sync --events prints NDJSON protocol events, ending with done', async () => {
    const result = await runCli(['sync', '--config', configFile, '--once', '--events'], env());
    assert.equal(result.code, 0, result.stderr);
    const events = parseEvents(result.stdout);
    assert.equal(events[0]!.type, 'syncStarted');
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.type === 'done' && done.result, 'ok');
    assert.equal(done.type === 'done' && done.stats.downloaded, 40);
    assert.ok(events.some((e) => e.type === 'progress' && e.step === 'downloading'));
    assert.ok(events.every((e) => e.syncId === done.syncId));
    runIds.push(done.syncId);
  });

  it('keeps the password out of the log, and tags every line with its syncId', async () => {
    const files = await listLogFiles(logDirectory(dataDir));
    assert.ok(files.length > 0, 'a log was written');
    const text = (await Promise.all(files.map((f) => fs.readFile(f.path, 'utf8')))).join('');
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a form of the password');
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // The protocol log was on: the login exchange is there, masked.
    const imap = lines.filter((l) => l.imap === 'C' || l.imap === 'S');
    assert.ok(imap.length > 10, 'IMAP protocol lines logged');
    assert.ok(
      imap.some((l) => /\b(LOGIN|AUTHENTICATE)\b/i.test(String(l.msg))),
      'the login command is logged (redacted)',
    );
    for (const line of lines) assert.equal(line.syncId, runIds[0], JSON.stringify(line));
    assert.equal(lines.at(-1)!.msg, 'sync finished', 'the last line reached the file');
  });

  it('logs --sync shows only that run', async () => {
    const second = await runCli(['sync', '--config', configFile, '--once', '--events'], env());
    assert.equal(second.code, 0, second.stderr);
    runIds.push(parseEvents(second.stdout).at(-1)!.syncId);
    const [first, other] = runIds as [string, string];

    const raw = await runCli([
      'logs',
      '--config',
      configFile,
      '--sync',
      first,
      '--json',
      '--lines',
      'all',
    ]);
    assert.equal(raw.code, 0, raw.stderr);
    const lines = raw.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { syncId?: string; msg?: string });
    assert.ok(lines.length > 10);
    assert.ok(lines.every((l) => l.syncId === first));
    assert.ok(lines.some((l) => l.msg === 'sync finished'));

    const all = await runCli(['logs', '--config', configFile, '--json', '--lines', 'all']);
    assert.ok(all.stdout.includes(other), 'the other run is in the unfiltered log');

    const pretty = await runCli([
      'logs',
      '--config',
      configFile,
      '--sync',
      other.slice(0, 8),
      '--level',
      'info',
    ]);
    assert.equal(pretty.code, 0, pretty.stderr);
    const shown = pretty.stdout.trim().split('\n');
    assert.ok(shown.length >= 2);
    for (const line of shown) assert.ok(line.includes(`[${other.slice(0, 8)}]`), line);
    assert.ok(shown.some((l) => l.includes('INFO') && l.includes('sync finished')));
    assert.ok(!shown.some((l) => l.includes('C: ')), 'debug protocol lines are below info');
  });

  it('support-bundle holds logs, config without secrets, versions and sync runs', async () => {
    const out = path.join(dir, 'bundle.tar.gz');
    const result = await runCli(['support-bundle', '--config', configFile, '--out', out], env());
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.split('\n')[0], out);
    assert.match(result.stdout, /log file.*config \(secrets removed\).*2 sync runs/);

    const unpacked = path.join(dir, 'unpacked');
    await fs.mkdir(unpacked);
    await extract({ file: out, cwd: unpacked });
    const [root] = await fs.readdir(unpacked);
    const files = await readTree(path.join(unpacked, root!));
    for (const name of [
      'README.txt',
      'config.json',
      'versions.json',
      'sync-runs.json',
      'doctor.txt',
    ])
      assert.ok(files.has(name), `${name} in the bundle`);
    assert.ok([...files.keys()].some((name) => /^logs\/agent\.\d+\.log$/.test(name)));

    for (const [name, text] of files) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a password form in ${name}`);
    }
    const config = JSON.parse(files.get('config.json')!) as {
      config: { accounts: Array<{ imap: { password: unknown; user: string } }> };
    };
    assert.deepEqual(config.config.accounts[0]!.imap.password, { env: '[removed]' });
    assert.equal(config.config.accounts[0]!.imap.user, dovecot.user);
    assert.ok(!files.get('config.json')!.includes(PASSWORD_ENV), 'the source is removed too');

    const versions = JSON.parse(files.get('versions.json')!) as { storesync: string; node: string };
    assert.equal(versions.storesync, AGENT_VERSION);
    assert.equal(versions.node, process.version);

    const runs = JSON.parse(files.get('sync-runs.json')!) as Array<{
      syncId: string;
      result: string;
    }>;
    assert.deepEqual(runs.map((r) => r.syncId).sort(), [...runIds].sort());
    assert.ok(runs.every((r) => r.result === 'ok'));
    // The doctor's own report: its checks, and the same as JSON.
    const doctor = files.get('doctor.txt')!;
    assert.doesNotMatch(doctor, /unavailable|failed:/i);
    assert.match(doctor, /"checks":/);
    assert.doesNotMatch(result.stdout, /doctor unavailable/);
  });

  it('rotates at the configured size and keeps the configured number of files', async () => {
    const small = path.join(dir, 'small');
    await fs.mkdir(small);
    const file = await writeTestConfig(small, dovecot, { passwordEnv: PASSWORD_ENV });
    const maxBytes = 4 * 1024;
    await withLogSettings(file, { imapProtocol: true, maxSizeMB: maxBytes / 1048576, maxFiles: 3 });
    const result = await runCli(['sync', '--config', file, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stderr);
    const files = await listLogFiles(logDirectory(path.join(small, 'data')));
    assert.equal(files.length, 3, files.map((f) => path.basename(f.path)).join(' '));
    assert.ok(files[2]!.number > 3, 'rotated more often than files are kept');
    for (const rotated of files.slice(0, -1)) {
      const { size } = await fs.stat(rotated.path);
      // Rotation comes within one event-loop turn of the write that crossed the limit, and
      // pino-roll counts that turn's lines toward the next file: a burst either way.
      assert.ok(size > maxBytes / 4 && size < maxBytes * 2, `${rotated.path}: ${size} bytes`);
    }
  });

  it('refuses --events together with --json', async () => {
    const result = await runCli(['sync', '--config', configFile, '--once', '--events', '--json']);
    assert.equal(result.code, 2);
  });
});
