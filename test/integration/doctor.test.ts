/**
 * `storesync doctor` against the test Dovecot: a good setup passes every check (exit 0), and
 * each kind of broken setup fails the check it should, with a hint (exit 1).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  formatDoctorReport,
  runDoctor,
  type DoctorReport,
} from '../../agent/src/commands/doctor-command.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { ensureNssToolsInstalled } from '../support/nss-tools.js';
import {
  runCli,
  startAgentProcess,
  writeTestConfig,
  type CliResult,
} from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_DOCTOR_PASSWORD';
const TLS_PASSWORD_ENV = 'STORESYNC_DOCTOR_TLS_PASSWORD';
/** The port manifest.xml names: with it, the manifest check passes. */
const MANIFEST_PORT = 4643;

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function line(result: CliResult, pattern: RegExp): string {
  const found = result.stdout.split('\n').find((l) => pattern.test(l));
  assert.ok(found, `no line matching ${pattern} in:\n${result.stdout}${result.stderr}`);
  return found;
}

function failedIds(report: DoctorReport): string[] {
  return report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

describe('storesync doctor', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let home: string;
  let good: string;

  /** The CLI as a user runs it, with a temp HOME (its own trust store) and the password. */
  const doctor = (args: string[], password = dovecot.password) =>
    runCli(['doctor', ...args], { HOME: home, [PASSWORD_ENV]: password });

  /** A config in its own directory (each test's config.json must not overwrite another's). */
  const configIn = async (
    name: string,
    edit: (json: Record<string, unknown>) => void = () => {},
  ) => {
    const sub = path.join(dir, name);
    await fs.mkdir(sub);
    const file = await writeTestConfig(sub, dovecot, {
      passwordEnv: PASSWORD_ENV,
      serverPort: MANIFEST_PORT,
    });
    const json = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    edit(json);
    await fs.writeFile(file, JSON.stringify(json, null, 2));
    return file;
  };
  const account = (json: Record<string, unknown>) =>
    (json.accounts as Array<{ imap: Record<string, unknown> }>)[0]!;

  before(async () => {
    await ensureNssToolsInstalled();
    dovecot = await startTestDovecot();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-doctor-'));
    home = path.join(dir, 'home');
    // runDoctor in this process reads the password from here, as the agent would.
    process.env[PASSWORD_ENV] = dovecot.password;
    await fs.mkdir(home);
    good = await configIn('good');
  });

  after(async () => {
    delete process.env[PASSWORD_ENV];
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('on a good setup, fails only certificate and trust until `cert install`, then passes all', async () => {
    const before = await doctor(['--config', good]);
    assert.equal(before.code, 1, before.stdout);
    assert.match(line(before, /^✖ .*certificate/i), /storesync start|cert install/);
    assert.match(line(before, /^✖ .*CA/), /— Run `storesync cert install`/);
    assert.equal(before.stdout.match(/^✖/gm)?.length, 2, before.stdout);

    const install = await runCli(['cert', 'install', '--config', good, '--no-system'], {
      HOME: home,
    });
    assert.equal(install.code, 0, install.stdout + install.stderr);

    const after = await doctor(['--config', good]);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.doesNotMatch(after.stdout, /^✖/m);
    line(after, /^✔ Config valid/);
    line(after, /^✔ Data directory writable/);
    line(after, new RegExp(`^✔ test: server 127\\.0\\.0\\.1:${dovecot.port} reachable`));
    line(after, /^✔ test: TLS not used/);
    line(after, /^✔ test: login OK as tester/);
    // Dovecot offers every extension the engine uses; each is named with what it buys.
    line(after, /^✔ test: fastest incremental sync \(QRESYNC\)/);
    for (const ext of ['QRESYNC', 'CONDSTORE', 'IDLE', 'UIDPLUS', 'MOVE']) {
      line(after, new RegExp(`^ {4}\\+ ${ext}: `));
    }
    line(after, /^✔ HTTPS certificate valid until .*localhost, 127\.0\.0\.1, ::1/);
    line(after, /^✔ StoreSync Local CA \([0-9A-F]{8}\) trusted/);
    line(after, /^✔ manifest\.xml points to https:\/\/localhost:4643\//);
    line(after, /All checks passed/);
  });

  it('--json prints the same checks for scripts', async () => {
    const result = await doctor(['--config', good, '--json']);
    assert.equal(result.code, 0, result.stdout);
    const report = JSON.parse(result.stdout) as DoctorReport;
    assert.equal(report.ok, true);
    assert.equal(report.configFile, good);
    assert.deepEqual(
      report.checks.map((c) => c.id),
      [
        'config',
        'dataDir',
        'imap.reachable',
        'imap.tls',
        'imap.login',
        'imap.capabilities',
        'certificate',
        'trust',
        'port',
        'manifest',
      ],
    );
    assert.ok(
      report.checks.filter((c) => c.id.startsWith('imap.')).every((c) => c.account === 'test'),
    );
  });

  it('names the bad field of a broken config and exits 1', async () => {
    const broken = await configIn('broken', (json) => {
      account(json).imap.port = 'nine-nine-three';
    });
    const result = await doctor(['--config', broken]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const config = line(result, /^✖ Config invalid/);
    assert.ok(config.includes(broken), config);
    assert.match(config, /accounts\[0\]\.imap\.port/);
    assert.match(config, /— Fix the field named/);
  });

  it('reports a wrong password as a failed login with what to do', async () => {
    const result = await doctor(['--config', good], 'not-the-password');
    assert.equal(result.code, 1, result.stdout);
    line(result, /^✔ test: server .* reachable/);
    const login = line(result, /^✖ test: login failed/);
    assert.match(login, /— Check the user name and password/);
    assert.doesNotMatch(result.stdout, /not-the-password/);
  });

  it('reports a server port nobody listens on as unreachable', async () => {
    const port = await freePort();
    const unreachable = await configIn('unreachable', (json) => {
      account(json).imap.port = port;
    });
    const result = await doctor(['--config', unreachable]);
    assert.equal(result.code, 1, result.stdout);
    const reach = line(result, /^✖ test: cannot reach/);
    assert.match(reach, new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
    assert.match(reach, /— Check the server host and port/);
    assert.doesNotMatch(result.stdout, /login/);
  });

  it('tells our running agent from another program on the port, and a manifest on another port', async () => {
    const port = await freePort();
    const other = await configIn('other-port', (json) => {
      json.server = { host: '127.0.0.1', port };
    });
    const agent = await startAgentProcess(['--config', other], {
      [PASSWORD_ENV]: dovecot.password,
    });
    try {
      const report = await runDoctor(other);
      const text = formatDoctorReport(report);
      assert.match(text, new RegExp(`^✔ Port ${port} held by the StoreSync agent`, 'm'));
      assert.match(
        text,
        new RegExp(
          `^✖ manifest\\.xml points to port 4643, the agent listens on ${port} — Set server\\.port to 4643`,
          'm',
        ),
      );
      assert.equal(report.ok, false);
    } finally {
      await agent.stop();
    }

    // Reads what it is sent (so its sockets close) and answers in plain text, as a non-agent would.
    const stranger = net.createServer((socket) => socket.resume().end('not an agent\n'));
    await new Promise<void>((resolve) => stranger.listen(port, '127.0.0.1', resolve));
    try {
      const report = await runDoctor(other);
      const check = report.checks.find((c) => c.id === 'port')!;
      assert.equal(check.status, 'fail');
      assert.match(check.title, /held by another program/);
      assert.match(check.hint ?? '', /server\.port/);
    } finally {
      await new Promise((resolve) => stranger.close(resolve));
    }
  });

  describe('with a TLS server (self-signed certificate)', () => {
    let tlsDovecot: TestDovecot;
    before(async () => {
      tlsDovecot = await startTestDovecot({ tls: true });
      process.env[TLS_PASSWORD_ENV] = tlsDovecot.password;
    });
    after(async () => {
      delete process.env[TLS_PASSWORD_ENV];
      await tlsDovecot?.cleanup();
    });

    const tlsConfig = async (name: string, imap: Record<string, unknown>) =>
      configIn(name, (json) => {
        Object.assign(account(json).imap, { password: { env: TLS_PASSWORD_ENV } }, imap);
      });

    it('fails an unverifiable certificate with the allowSelfSigned hint, passes when allowed', async () => {
      const strict = await tlsConfig('tls-strict', { tls: 'implicit', port: tlsDovecot.tlsPort });
      const refused = await runCli(['doctor', '--config', strict], {
        HOME: home,
        [TLS_PASSWORD_ENV]: tlsDovecot.password,
      });
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(line(refused, /^✖ test: TLS certificate not trusted/), /allowSelfSigned/);
      assert.doesNotMatch(refused.stdout, /login/);

      for (const [name, tls, port] of [
        ['tls-implicit', 'implicit', tlsDovecot.tlsPort],
        ['tls-starttls', 'starttls', tlsDovecot.port],
      ] as const) {
        const allowed = await tlsConfig(name, { tls, port, allowSelfSigned: true });
        const report = await runDoctor(allowed);
        const text = formatDoctorReport(report);
        assert.match(
          text,
          new RegExp(`^✔ test: TLS OK \\(${tls}, TLSv1\\.[23]; not verified`, 'm'),
        );
        assert.match(text, /^✔ test: login OK/m);
      }
    });

    it('fails implicit TLS pointed at the plain port', async () => {
      const wrong = await tlsConfig('tls-wrong-port', {
        tls: 'implicit',
        port: tlsDovecot.port,
        allowSelfSigned: true,
      });
      const report = await runDoctor(wrong);
      const check = report.checks.find((c) => c.id === 'imap.tls')!;
      assert.equal(check.status, 'fail', formatDoctorReport(report));
      assert.match(check.title, /TLS handshake failed \(implicit on port/);
      assert.match(check.hint ?? '', /implicit is usually 993/);
    });
  });

  it('exports runDoctor for the support bundle: a report, never an exit', async () => {
    const report = await runDoctor(path.join(dir, 'no-such-config.json'));
    assert.equal(report.ok, false);
    assert.deepEqual(failedIds(report), ['config']);
    assert.match(
      report.checks[0]!.title,
      /no-such-config\.json: cannot read config file \(ENOENT\)/,
    );
  });
});
