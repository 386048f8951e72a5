/**
 * A private, throw-away Dovecot IMAP server on 127.0.0.1, for the demo mode and the tests.
 * Dovecot runs in the foreground as our child (`dovecot -F`), so it dies with us.
 *
 * As root, Dovecot's classic mode applies: login processes as dovenull, internal ones as
 * dovecot, and mail owned by nobody (Dovecot refuses to touch mail as uid 0). As any other
 * user everything runs as that user ("rootless").
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
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
import { generate } from 'selfsigned';

export const DOVECOT_BIN = '/usr/sbin/dovecot';
const START_TIMEOUT_MS = 20_000;

export interface PrivateDovecotOptions {
  /** Runtime directory: config, users file, run/, state/, log/, mail/. */
  dir: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  user?: string;
  password?: string;
  /** Turn extensions off to behave like servers without them (Gmail: no QRESYNC; Exchange: neither). */
  capabilities?: { condstore?: boolean; qresync?: boolean };
  /** Also serve TLS: STARTTLS on `port` and implicit TLS on `tlsPort`, with a self-signed certificate. */
  tls?: boolean;
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
  logFile: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export function dovecotInstalled(): boolean {
  return existsSync(DOVECOT_BIN);
}

/** Installs Debian's dovecot-imapd when missing (as root), or says exactly what to run. */
export async function ensureDovecotInstalled(
  log: (line: string) => void = () => undefined,
): Promise<void> {
  if (dovecotInstalled()) return;
  const command = 'apt-get install -y dovecot-imapd';
  if (process.getuid?.() !== 0) {
    throw new Error(`Dovecot is not installed: run "sudo apt-get update && sudo ${command}"`);
  }
  log('Installing Dovecot (apt-get install -y dovecot-imapd)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-q', 'dovecot-imapd'], { stdio: 'ignore', env });
  if (!dovecotInstalled()) throw new Error(`"${command}" did not install ${DOVECOT_BIN}`);
}

export async function startPrivateDovecot(options: PrivateDovecotOptions): Promise<PrivateDovecot> {
  const dir = path.resolve(options.dir);
  const user = options.user ?? 'demo';
  const password = options.password ?? randomBytes(12).toString('hex');
  if (!/^[a-z][a-z0-9._-]*$/.test(user)) throw new Error(`bad Dovecot user name "${user}"`);
  if (/[:\n]/.test(password))
    throw new Error('the Dovecot password may not contain ":" or a newline');
  if (process.getuid?.() === 0) assertTraversable(dir);
  const port = options.port ?? (await freePort());
  const tlsPort = options.tls ? await freePort() : null;
  const tls = tlsPort ? { port: tlsPort, ...(await writeSelfSignedCertificate(dir)) } : null;
  const conf = writeConfig(dir, port, user, password, options.capabilities ?? {}, tls);
  const logFile = path.join(dir, 'log', 'dovecot.log');

  let child: ChildProcess | null = null;
  const killOnExit = () => child?.kill('SIGKILL');
  const start = async () => {
    const out = openSync(logFile, 'a');
    child = spawn(DOVECOT_BIN, ['-F', '-c', conf], { stdio: ['ignore', out, out] });
    process.on('exit', killOnExit);
    await waitUntilReady(port, user, password, logFile, child);
  };
  const stop = async () => {
    const running = child;
    child = null;
    process.off('exit', killOnExit);
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
    await waitUntilClosed(port);
  };
  await start();
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    maildirRoot: path.join(dir, 'mail', user, 'Maildir'),
    tlsPort,
    logFile,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

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

function writeConfig(
  dir: string,
  port: number,
  user: string,
  password: string,
  capabilities: { condstore?: boolean; qresync?: boolean },
  tls: { port: number; cert: string; key: string } | null,
): string {
  const asRoot = process.getuid?.() === 0;
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
  writeFileSync(
    users,
    `${user}:{PLAIN}${password}:${owner.uid}:${owner.gid}::${path.join(dir, 'mail', user)}::\n`,
    {
      mode: 0o644,
    },
  );
  chmodSync(users, 0o644);

  // QRESYNC needs CONDSTORE: without CONDSTORE neither is offered.
  const removed = new Set<string>();
  if (capabilities.condstore === false) removed.add('CONDSTORE').add('QRESYNC');
  if (capabilities.qresync === false) removed.add('QRESYNC');
  const capabilityLine =
    removed.size > 0
      ? `imap_capability = ${defaultCapabilities()
          .filter((c) => !removed.has(c))
          .join(' ')}`
      : '';
  const conf = path.join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `# Private StoreSync Dovecot instance: loopback only, throw-away data.
instance_name = storesync-${port}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/log/dovecot.log
info_log_path = ${dir}/log/dovecot.log
protocols = imap
listen = 127.0.0.1
${tls ? `ssl = yes\nssl_cert = <${tls.cert}\nssl_key = <${tls.key}` : 'ssl = no'}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = ${asRoot ? 'dovenull' : me}
default_internal_user = ${asRoot ? 'dovecot' : me}
default_internal_group = ${asRoot ? 'dovecot' : groupName()}
first_valid_uid = ${Math.min(owner.uid, 100)}
first_valid_gid = ${Math.min(owner.gid, 100)}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${users}
}
userdb {
  driver = passwd-file
  args = username_format=%n ${users}
}
mail_location = maildir:~/Maildir
mail_fsync = optimized
mail_max_userip_connections = 200
${capabilityLine}
namespace inbox {
  inbox = yes
  separator = /
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
  return conf;
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

/** Dovecot 2.3's default CAPABILITY after login, which `imap_capability` replaces. */
function defaultCapabilities(): string[] {
  return (
    'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS ' +
    'THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS ' +
    'LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH ' +
    'LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE'
  ).split(' ');
}

function nobody(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nobody:'));
  const [, , uid, gid] = passwd?.split(':') ?? [];
  return { uid: Number(uid ?? 65534), gid: Number(gid ?? 65534) };
}

function groupName(): string {
  const gid = process.getgid?.();
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(gid));
  return line?.split(':')[0] ?? String(gid);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until LOGIN works and the extensions we rely on are advertised. */
async function waitUntilReady(
  port: number,
  user: string,
  password: string,
  logFile: string,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const caps = await probeLogin(port, user, password);
      for (const needed of ['IDLE', 'UIDPLUS']) {
        if (!caps.includes(needed))
          throw new Error(`capability ${needed} missing: ${caps.join(' ')}`);
      }
      return;
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  const tail = existsSync(logFile)
    ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')
    : '';
  throw new Error(`Dovecot did not come up on 127.0.0.1:${port} (${lastError}); log:\n${tail}`);
}

/** LOGIN + CAPABILITY + LOGOUT over a plain socket; resolves to the capability list. */
function probeLogin(port: number, user: string, password: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let transcript = '';
    let sent = false;
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
    socket.on('data', (data) => {
      transcript += data.toString('latin1');
      if (!sent && transcript.includes('\r\n')) {
        sent = true;
        socket.write(`a1 LOGIN ${user} ${password}\r\na2 CAPABILITY\r\na3 LOGOUT\r\n`);
      }
    });
    socket.on('close', () => {
      if (!/^a1 OK/m.test(transcript))
        return reject(new Error(`LOGIN failed: ${transcript.split('\r\n').slice(-3).join(' ')}`));
      const line = transcript.split('\r\n').find((l) => l.startsWith('* CAPABILITY')) ?? '';
      resolve(line.split(' ').slice(2));
    });
  });
}

export async function waitUntilClosed(port: number, timeoutMs = 10_000): Promise<void> {
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
}
