/**
 * A private, throw-away Dovecot IMAP server on 127.0.0.1, for the demo mode and the tests.
 * Dovecot runs in the foreground as our child (`dovecot -F`), so it dies with us.
 *
 * As root, Dovecot's classic mode applies: login processes as dovenull, internal ones as
 * dovecot, and mail owned by nobody (Dovecot refuses to touch mail as uid 0). As any other
 * user everything runs as that user ("rootless"). The config is written for Dovecot 2.3
 * (Debian 11/12, Ubuntu 22.04/24.04); 2.4 changed the syntax and is refused up front.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generate } from 'selfsigned';

export const DOVECOT_BIN = '/usr/sbin/dovecot';
const INSTALL_COMMAND = 'apt-get install -y dovecot-imapd';
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

export interface PrivateDovecotOptions {
  /** Runtime directory (created): config, users file, run/, state/, log/, mail/. */
  dir: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Default 'demo'. */
  user?: string;
  /** Default: random hex. */
  password?: string;
  /** Turn extensions off to behave like servers without them (Gmail: no QRESYNC; Exchange: neither). */
  capabilities?: {
    condstore?: boolean;
    qresync?: boolean;
    listStatus?: boolean;
    /** Not offered (Dovecot still answers UID EXPUNGE; a client that reads the list does not send it). */
    uidplus?: boolean;
    move?: boolean;
  };
  /** Also serve TLS: STARTTLS on `port` and implicit TLS on `tlsPort`, with a self-signed certificate. */
  tls?: boolean;
  /**
   * Also accept OAuth2 bearer tokens (AUTHENTICATE XOAUTH2 and OAUTHBEARER), the way a
   * provider's IMAP server does: HS256 JWTs signed with `key`, checked by Dovecot itself
   * (no token endpoint, no network). The token's `sub` must be the user, `iss` the issuer.
   */
  oauth2?: { key: Buffer; issuer?: string };
  /** Refuse to store (APPEND) messages larger than this many bytes, as many providers do. */
  maxMessageSize?: number;
  /**
   * Which folder names the server takes. "maildir++" (default): Dovecot's Maildir++ storage,
   * which refuses "." in a name. "any": names kept in the index (LAYOUT=index), so ".",
   * "..", leading and trailing dots are accepted too, as many servers do.
   */
  mailboxNames?: 'maildir++' | 'any';
  /** The hierarchy delimiter the server announces (default "/"). */
  separator?: '/' | '.';
}

export interface PrivateDovecot {
  host: '127.0.0.1';
  port: number;
  user: string;
  password: string;
  dir: string;
  /** The user's Maildir as Dovecot stores it. */
  maildirRoot: string;
  /** Implicit-TLS port when started with `tls`. */
  tlsPort: number | null;
  /** The issuer tokens must name (`iss`) when started with `oauth2`. */
  oauth2Issuer: string | null;
  logFile: string;
  /** Stops Dovecot and waits until its port is closed; idempotent. */
  stop(): Promise<void>;
  /** Stops, then starts again with the same config and data. */
  restart(): Promise<void>;
}

export function dovecotInstalled(): boolean {
  return existsSync(DOVECOT_BIN);
}

let installing: Promise<void> | null = null;

/** Installs Debian's dovecot-imapd when missing (as root), or says exactly what to run. */
export async function ensureDovecotInstalled(
  log: (line: string) => void = () => undefined,
): Promise<void> {
  if (dovecotInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Dovecot is not installed: run "sudo apt-get update && sudo ${INSTALL_COMMAND}"`,
    );
  }
  // Callers starting several servers at once share one apt-get run (apt holds a lock).
  installing ??= (async () => {
    const run = promisify(execFile);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    log(`Installing Dovecot (apt-get update && ${INSTALL_COMMAND})…`);
    try {
      await run('apt-get', ['update', '-q'], { env, maxBuffer: 64 << 20 });
      await run('apt-get', ['install', '-y', '-q', 'dovecot-imapd'], { env, maxBuffer: 64 << 20 });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      throw new Error(`"${INSTALL_COMMAND}" failed: ${stderr.split('\n').slice(-5).join('\n')}`, {
        cause: err,
      });
    }
    if (!dovecotInstalled()) throw new Error(`"${INSTALL_COMMAND}" did not install ${DOVECOT_BIN}`);
  })().finally(() => {
    installing = null;
  });
  return installing;
}

/** "2.3.19.1" from `dovecot --version` ("2.3.19.1 (9b53102964)"). */
function dovecotVersion(): string {
  return execFileSync(DOVECOT_BIN, ['--version'], { encoding: 'utf8' }).trim().split(' ')[0]!;
}

/** What `imap_capability` would take away, given what the caller wants turned off. */
function removedCapabilities(c: PrivateDovecotOptions['capabilities'] = {}): Set<string> {
  const removed = new Set<string>();
  // QRESYNC needs CONDSTORE: without CONDSTORE neither is offered.
  if (c.condstore === false) removed.add('CONDSTORE').add('QRESYNC');
  if (c.qresync === false) removed.add('QRESYNC');
  if (c.listStatus === false) removed.add('LIST-STATUS');
  if (c.uidplus === false) removed.add('UIDPLUS');
  if (c.move === false) removed.add('MOVE');
  return removed;
}

/** The full post-login CAPABILITY of this Dovecot, learnt once per process (it varies by 2.3.x). */
let defaultCapabilities: string[] | null = null;

export async function startPrivateDovecot(options: PrivateDovecotOptions): Promise<PrivateDovecot> {
  if (!dovecotInstalled()) {
    throw new Error(`Dovecot is not installed (${DOVECOT_BIN}): run "${INSTALL_COMMAND}"`);
  }
  const version = dovecotVersion();
  if (!/^2\.[23]\./.test(version)) {
    throw new Error(`Dovecot ${version} found; the private server's config is for Dovecot 2.3`);
  }
  const dir = path.resolve(options.dir);
  assertNotRunning(dir); // before we overwrite its config and users file
  const user = options.user ?? 'demo';
  const password = options.password ?? randomBytes(12).toString('hex');
  if (!/^[a-z][a-z0-9._-]*$/.test(user)) throw new Error(`bad Dovecot user name "${user}"`);
  if (/[:\r\n]/.test(password)) {
    throw new Error('the Dovecot password may not contain ":" or a line break');
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    assertTraversable(dir);
    for (const system of ['dovenull', 'dovecot']) {
      if (!systemAccount('passwd', system)) {
        throw new Error(`system user "${system}" is missing: reinstall dovecot-core`);
      }
    }
  }
  // Picked together, so that the TLS listener never gets the same port as the plain one.
  const [picked, pickedTls] = await freePorts(2);
  const port = options.port ?? picked!;
  if (!asRoot && port < 1024) throw new Error(`port ${port} needs root; pick one >= 1024`);
  const tlsPort = options.tls ? (pickedTls === port ? picked! : pickedTls!) : null;
  const tls = tlsPort ? { port: tlsPort, ...(await writeSelfSignedCertificate(dir)) } : null;
  const removed = removedCapabilities(options.capabilities);
  const oauth2 = options.oauth2
    ? { key: options.oauth2.key, issuer: options.oauth2.issuer ?? 'storesync-test-issuer' }
    : null;
  const maxMessageSize = options.maxMessageSize ?? null;
  const mailboxNames = options.mailboxNames ?? 'maildir++';
  const separator = options.separator ?? '/';
  const settings = {
    ...{ dir, port, user, password, version, tls, oauth2, maxMessageSize },
    ...{ mailboxNames, separator },
  };
  const logFile = path.join(dir, 'log', 'dovecot.log');

  let child: ChildProcess | null = null;
  const start = async (): Promise<string[]> => {
    assertNotRunning(dir);
    const out = openSync(logFile, 'a');
    const started = spawn(DOVECOT_BIN, ['-F', '-c', path.join(dir, 'dovecot.conf')], {
      stdio: ['ignore', out, out],
    });
    closeSync(out); // the child has its own copy
    child = started;
    killWithUs(started);
    return waitUntilReady(port, user, password, logFile, started);
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (running) await terminate(running);
    await waitUntilClosed(port);
  };

  // Without a capability list of our own, Dovecot offers its full default one. To offer that
  // list minus some extensions, learn it first from a default instance (then cache it).
  if (removed.size > 0 && !defaultCapabilities) {
    writeConfig(settings, null);
    defaultCapabilities = await start();
    await stop();
  }
  const capabilityList =
    removed.size > 0 ? defaultCapabilities!.filter((c) => !removed.has(c)) : null;
  writeConfig(settings, capabilityList);
  const capabilities = await start();
  const missing = ['IDLE', 'UIDPLUS', 'CONDSTORE', 'QRESYNC'].filter(
    (c) => !removed.has(c) && !capabilities.includes(c),
  );
  const extra = capabilities.filter((c) => removed.has(c));
  if (missing.length > 0 || extra.length > 0) {
    await stop();
    throw new Error(
      `Dovecot offers the wrong extensions (missing: ${missing.join(' ') || '-'}; ` +
        `unwanted: ${extra.join(' ') || '-'}): ${capabilities.join(' ')}`,
    );
  }
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    maildirRoot: path.join(dir, 'mail', user, 'Maildir'),
    tlsPort,
    oauth2Issuer: oauth2?.issuer ?? null,
    logFile,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

// ---------------------------------------------------------------- process lifetime

const liveChildren = new Set<ChildProcess>();

/**
 * Dovecot must not outlive us. The 'exit' hook covers normal exits and process.exit(); a
 * watchdog shell covers the rest (SIGKILL, an unhandled SIGTERM): it waits for EOF on a pipe
 * whose other end only we hold, which the kernel closes however we die.
 */
function killWithUs(child: ChildProcess): void {
  if (child.pid === undefined) return; // spawn failed: nothing to kill
  if (liveChildren.size === 0) process.on('exit', killAllOnExit);
  liveChildren.add(child);
  const script = 'read _; kill -TERM "$1" 2>/dev/null';
  const watchdog = spawn('/bin/sh', ['-c', script, 'sh', String(child.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither may keep our event loop alive; both are best effort (the 'exit' hook still applies).
  watchdog.unref();
  (watchdog.stdin as net.Socket | null)?.unref();
  watchdog.on('error', () => undefined);
  watchdog.stdin?.on('error', () => undefined);
  const forget = () => {
    watchdog.kill('SIGKILL'); // before the pid can be reused
    if (!liveChildren.delete(child)) return;
    if (liveChildren.size === 0) process.off('exit', killAllOnExit);
  };
  child.once('exit', forget);
}

function killAllOnExit(): void {
  for (const child of liveChildren) child.kill('SIGTERM');
}

/** SIGTERM (Dovecot then stops its own processes), SIGKILL if it hangs; resolves on exit. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** A Dovecot left over in the same dir (say, from a killed run) would make ours refuse to start. */
function assertNotRunning(dir: string): void {
  const pidFile = path.join(dir, 'run', 'master.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
  if (!Number.isInteger(pid) || pid <= 0) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // not running
  }
  if (cmdline.includes('dovecot') && cmdline.includes(dir)) {
    throw new Error(`another Dovecot (pid ${pid}) already runs on ${dir}; stop it: kill ${pid}`);
  }
}

// ---------------------------------------------------------------- config

/** As root, Dovecot's auth and mail processes run as other users: they must reach `dir`. */
function assertTraversable(dir: string): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) {
      const mode = (statSync(d).mode & 0o777).toString(8);
      throw new Error(
        `Dovecot's users cannot enter ${d} (mode ${mode}); put the Dovecot directory elsewhere`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

interface Settings {
  dir: string;
  port: number;
  user: string;
  password: string;
  version: string;
  tls: { port: number; cert: string; key: string } | null;
  oauth2: { key: Buffer; issuer: string } | null;
  maxMessageSize: number | null;
  mailboxNames: 'maildir++' | 'any';
  separator: '/' | '.';
}

function writeConfig(s: Settings, capabilityList: string[] | null): void {
  const { dir, port, user, tls } = s;
  const asRoot = process.getuid?.() === 0;
  // Dovecot refuses to access mail as uid 0, so as root the mail belongs to nobody.
  const owner = asRoot ? nobody() : { uid: process.getuid!(), gid: process.getgid!() };
  const me = os.userInfo().username;
  for (const sub of ['', 'run', 'state', 'log', 'mail', `mail/${user}/Maildir`]) {
    mkdirSync(path.join(dir, sub), { recursive: true });
  }
  // Dovecot's internal users must traverse these and read the users file.
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'mail'), 0o755);
  if (asRoot) {
    chownSync(path.join(dir, 'mail', user), owner.uid, owner.gid);
    chownSync(path.join(dir, 'mail', user, 'Maildir'), owner.uid, owner.gid);
  }
  const users = path.join(dir, 'users');
  // user:password:uid:gid:gecos:home:shell:extra
  const home = path.join(dir, 'mail', user);
  writeFileSync(users, `${user}:{PLAIN}${s.password}:${owner.uid}:${owner.gid}::${home}::\n`);
  chmodSync(users, 0o644);

  const log = path.join(dir, 'log', 'dovecot.log');
  writeFileSync(
    path.join(dir, 'dovecot.conf'),
    `# Private StoreSync Dovecot instance: loopback only, throw-away data. Dovecot ${s.version}
instance_name = storesync-${port}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${log}
info_log_path = ${log}
debug_log_path = ${log}
log_timestamp = "%Y-%m-%d %H:%M:%S "
protocols = imap
listen = 127.0.0.1
${tls ? `ssl = yes\nssl_cert = <${tls.cert}\nssl_key = <${tls.key}` : 'ssl = no'}
disable_plaintext_auth = no
auth_mechanisms = plain login${s.oauth2 ? ' oauthbearer xoauth2' : ''}
${s.oauth2 ? OAUTH2_NO_DELAYS : ''}default_login_user = ${asRoot ? 'dovenull' : me}
default_internal_user = ${asRoot ? 'dovecot' : me}
# Rootless: must be our group too, or chown()ing the stats/dict sockets to "dovecot" fails.
default_internal_group = ${asRoot ? 'dovecot' : groupName()}
first_valid_uid = ${Math.min(owner.uid, 100)}
first_valid_gid = ${Math.min(owner.gid, 100)}
${s.oauth2 ? oauth2Passdb(dir, s.oauth2) : ''}passdb {
  driver = passwd-file
${s.oauth2 ? '  mechanisms = plain login\n' : ''}  args = scheme=PLAIN username_format=%n ${users}
}
userdb {
  driver = passwd-file
  args = username_format=%n ${users}
}
mail_location = maildir:~/Maildir${s.mailboxNames === 'any' ? ':LAYOUT=index' : ''}
mail_fsync = optimized
# Sync clients open several connections at once.
mail_max_userip_connections = 200
${capabilityList ? `imap_capability = ${capabilityList.join(' ')}` : ''}
${s.maxMessageSize ? sizeLimit(s.maxMessageSize) : ''}
namespace inbox {
  inbox = yes
  separator = ${s.separator}
  prefix =
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Archive {
    special_use = \\Archive
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${tls ? tls.port : 0}
  }
${asRoot ? '' : '  chroot =\n'}}
${asRoot ? '' : 'service anvil {\n  chroot =\n}\n'}service imap {
  process_limit = 256
}
`,
  );
}

/** The quota plugin's size limit only (no storage quota): APPEND says NO [LIMIT] beyond it. */
function sizeLimit(bytes: number): string {
  return `mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_max_mail_size = ${Math.ceil(bytes)}
}
`;
}

/**
 * Tests of refused tokens fail logins on purpose, one after another: without this, Dovecot's
 * brute-force defence would make each wait longer (2 s, then doubling per failure from our
 * IP). The penalty is kept by anvil; an auth process that cannot reach it applies none.
 */
const OAUTH2_NO_DELAYS = `auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`;

/**
 * Dovecot 2.3's oauth2 passdb with local JWT validation: it looks the signing key up in a dict
 * under <azp>/<alg>/<kid> ("default" for a missing azp or kid), base64 as HMAC keys are stored.
 * Only tokens go to this passdb; LOGIN and PLAIN keep using the users file.
 */
function oauth2Passdb(dir: string, oauth2: { key: Buffer; issuer: string }): string {
  const base = path.join(dir, 'oauth2');
  const keyDir = path.join(base, 'keys', 'default', 'HS256');
  mkdirSync(keyDir, { recursive: true });
  // The auth processes run as Dovecot's own users: they must read these.
  for (const d of [base, path.join(base, 'keys'), path.dirname(keyDir), keyDir])
    chmodSync(d, 0o755);
  writeFileSync(path.join(keyDir, 'default'), oauth2.key.toString('base64'), { mode: 0o644 });
  const conf = path.join(base, 'dovecot-oauth2.conf.ext');
  writeFileSync(
    conf,
    `introspection_mode = local
local_validation_key_dict = fs:posix:prefix=${base}/keys/
issuers = ${oauth2.issuer}
username_attribute = sub
username_format = %n
`,
    { mode: 0o644 },
  );
  return `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${conf}
}
`;
}

/** A self-signed certificate for 127.0.0.1/localhost, as a private server would have. */
async function writeSelfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  mkdirSync(path.join(dir, 'tls'), { recursive: true });
  const cert = path.join(dir, 'tls', 'cert.pem');
  const key = path.join(dir, 'tls', 'key.pem');
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key };
}

/** A line of /etc/passwd or /etc/group, split into fields. */
function systemAccount(file: 'passwd' | 'group', match: string, field = 0): string[] | null {
  const line = readFileSync(`/etc/${file}`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[field] === match);
  return line ? line.split(':') : null;
}

function nobody(): { uid: number; gid: number } {
  const [, , uid, gid] = systemAccount('passwd', 'nobody') ?? [];
  return { uid: Number(uid ?? 65534), gid: Number(gid ?? 65534) };
}

function groupName(): string {
  const gid = String(process.getgid?.());
  return systemAccount('group', gid, 2)?.[0] ?? gid;
}

// ---------------------------------------------------------------- network

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` different free ports on 127.0.0.1. Each is held until all are picked: a port
 * closed at once may be handed out again by the next pick (two listeners of one Dovecot
 * on one port, which it refuses to start with).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/** Waits until LOGIN works; resolves to the post-login capability list. */
async function waitUntilReady(
  port: number,
  user: string,
  password: string,
  logFile: string,
  child: ChildProcess,
): Promise<string[]> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no answer';
  // Set once Dovecot can no longer come up; ends a probe that would otherwise wait for its
  // timeout (say, on a port someone else holds and never answers on).
  const failed = { why: '' };
  const ended = new Promise<null>((resolve) => {
    child.once('exit', (code, signal) => {
      failed.why = `Dovecot exited (${signal ?? `code ${code}`})`;
      resolve(null);
    });
    child.once('error', (err) => {
      failed.why = `could not run ${DOVECOT_BIN}: ${err.message}`;
      resolve(null);
    });
  });
  while (Date.now() < deadline && !failed.why) {
    const probe = probeLogin(port, user, password);
    probe.catch(() => undefined); // when `ended` wins the race
    try {
      const capabilities = await Promise.race([probe, ended]);
      if (capabilities) return capabilities;
    } catch (err) {
      lastError = (err as Error).message;
      await Promise.race([new Promise((r) => setTimeout(r, 100)), ended]);
    }
  }
  const why = failed.why || `no LOGIN within ${START_TIMEOUT_MS / 1000} s (${lastError})`;
  await terminate(child);
  const tail = existsSync(logFile)
    ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n')
    : '';
  throw new Error(`Dovecot did not come up on 127.0.0.1:${port}: ${why}; ${logFile}:\n${tail}`);
}

/** LOGIN + CAPABILITY + LOGOUT over a plain socket; resolves to the capability list. */
function probeLogin(port: number, user: string, password: string): Promise<string[]> {
  const quoted = `"${password.replace(/[\\"]/g, '\\$&')}"`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let transcript = '';
    let sent = false;
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
    socket.on('data', (data) => {
      transcript += data.toString('latin1');
      if (!sent && transcript.includes('\r\n')) {
        sent = true; // after the greeting
        socket.write(`a1 LOGIN ${user} ${quoted}\r\na2 CAPABILITY\r\na3 LOGOUT\r\n`);
      }
    });
    socket.on('close', () => {
      if (!/^a1 OK/m.test(transcript)) {
        return reject(new Error(`LOGIN failed: ${transcript.split('\r\n').slice(-3).join(' ')}`));
      }
      const line = transcript.split('\r\n').find((l) => l.startsWith('* CAPABILITY')) ?? '';
      resolve(line.split(' ').slice(2));
    });
  });
}

/** Resolves once nothing accepts connections on the port; throws if it stays open. */
export async function waitUntilClosed(port: number, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (!open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`127.0.0.1:${port} still accepts connections after Dovecot stopped`);
}
