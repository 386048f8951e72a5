/**
 * `storesync support-bundle`: one .tar.gz a user can attach to a support request, with what
 * support asks for first: recent logs, the config without its secrets, versions, recent sync
 * results and the doctor's report. Nothing in it is a secret: sources are "[removed]", and
 * any known password or token (env and file sources) is scrubbed from every file as a last
 * line of defence against a line logged before redaction existed.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create as createTar } from 'tar';
import { listLogFiles, logDirectory } from '../logs/log-files.js';
import { AGENT_VERSION, PACKAGE_ROOT } from '../package-info.js';
import { redactConfig, scrubSecrets, secretForms } from '../support/redact-config.js';
import { readRecentRuns, type RunSummary } from '../support/sync-history.js';
import { type DiagnosticsConfig, loadConfigForDiagnostics } from './diagnostics-config.js';

export const DEFAULT_LOG_MB = 5;
const RECENT_RUNS = 50;
const REPORTED_PACKAGES = ['imapflow', 'better-sqlite3', 'pino', 'pino-roll', 'zod', 'ws'];

export interface SupportBundleOptions {
  config?: string;
  out?: string;
  /** Most log bytes included, newest first, in MiB. */
  logMB?: number;
}

export interface SupportBundleResult {
  file: string;
  bytes: number;
  summary: string;
}

export async function createSupportBundle(
  options: SupportBundleOptions,
): Promise<SupportBundleResult> {
  const diagnostics = loadConfigForDiagnostics(options.config);
  const name = `storesync-support-${timestamp(new Date())}`;
  const out = path.resolve(options.out ?? `${name}.tar.gz`);
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-bundle-'));
  const root = path.join(staging, name);
  const secrets = knownSecretForms(diagnostics);
  const write = (file: string, text: string) =>
    fs.writeFile(path.join(root, file), scrubSecrets(text, secrets), { mode: 0o600 });
  try {
    await fs.mkdir(path.join(root, 'logs'), { recursive: true });
    const logs = await copyRecentLogs(
      logDirectory(diagnostics.dataDir),
      path.join(root, 'logs'),
      (options.logMB ?? DEFAULT_LOG_MB) * 1048576,
      secrets,
    );
    await write('config.json', JSON.stringify(configSection(diagnostics), null, 2) + '\n');
    await write('versions.json', JSON.stringify(versions(), null, 2) + '\n');
    const runs = recentRuns(diagnostics.dataDir);
    await write('sync-runs.json', JSON.stringify(runs, null, 2) + '\n');
    const doctor = await doctorReport(diagnostics.file);
    await write('doctor.txt', doctor.text);
    const summary = [
      `${logs.files} log file${logs.files === 1 ? '' : 's'} (${megabytes(logs.bytes)})`,
      diagnostics.file ? 'config (secrets removed)' : 'no config file',
      Array.isArray(runs)
        ? `${runs.length} sync run${runs.length === 1 ? '' : 's'}`
        : 'no sync history',
      'versions',
      doctor.available ? 'doctor report' : 'doctor unavailable',
    ].join(', ');
    await write('README.txt', readme(summary));
    await fs.mkdir(path.dirname(out), { recursive: true });
    await createTar({ gzip: true, file: out, cwd: staging, portable: true }, [name]);
    // Host names, user names and mail folder names are personal data: owner-only.
    await fs.chmod(out, 0o600);
    return { file: out, bytes: (await fs.stat(out)).size, summary };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Newest log files first until `budget` bytes; the oldest one kept is cut at a line start. */
async function copyRecentLogs(
  from: string,
  to: string,
  budget: number,
  secrets: readonly string[],
): Promise<{ files: number; bytes: number }> {
  let left = budget;
  let files = 0;
  for (const file of (await listLogFiles(from)).reverse()) {
    if (left <= 0) break;
    const data = await readTail(file.path, left);
    if (data === null) continue; // rotated away meanwhile
    left -= data.length;
    files += 1;
    await fs.writeFile(
      path.join(to, path.basename(file.path)),
      scrubSecrets(data.toString('utf8'), secrets),
      {
        mode: 0o600,
      },
    );
  }
  return { files, bytes: budget - left };
}

/** The last `max` bytes of the file, starting at a line; null when it is gone. */
async function readTail(file: string, max: number): Promise<Buffer | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - max);
    const data = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(data, 0, data.length, start);
    const chunk = data.subarray(0, bytesRead);
    if (start === 0) return chunk;
    const newline = chunk.indexOf(0x0a);
    return newline < 0 ? Buffer.alloc(0) : chunk.subarray(newline + 1);
  } finally {
    await handle.close();
  }
}

function configSection(diagnostics: DiagnosticsConfig): unknown {
  return {
    file: diagnostics.file,
    dataDir: diagnostics.dataDir,
    problem: diagnostics.problem,
    config: diagnostics.raw === null ? null : redactConfig(diagnostics.raw),
  };
}

/**
 * The configured passwords and tokens this process can see without side effects (env and
 * file sources; a command source is not run: it may prompt, or hand out a new token).
 */
function knownSecretForms(diagnostics: DiagnosticsConfig): string[] {
  const accounts = (diagnostics.raw as { accounts?: unknown } | null)?.accounts;
  if (!Array.isArray(accounts)) return [];
  const base = diagnostics.file ? path.dirname(diagnostics.file) : process.cwd();
  const forms: string[] = [];
  for (const account of accounts) {
    const imap = (account as { imap?: Record<string, unknown> } | null)?.imap;
    if (!imap) continue;
    const user = typeof imap.user === 'string' ? imap.user : '';
    for (const source of [imap.password, imap.accessToken]) {
      const secret = readSecretQuietly(source, base);
      if (secret) forms.push(...secretForms(user, secret));
    }
  }
  return forms;
}

function readSecretQuietly(source: unknown, base: string): string | null {
  if (!source || typeof source !== 'object') return null;
  const { env, file } = source as { env?: unknown; file?: unknown };
  try {
    if (typeof env === 'string') return process.env[env] || null;
    if (typeof file === 'string' && existsSync(path.resolve(base, file)))
      return readFileSync(path.resolve(base, file), 'utf8').replace(/\r?\n$/, '') || null;
  } catch {
    // Unreadable: then it cannot have been logged by this user's agent either.
  }
  return null;
}

function versions(): Record<string, unknown> {
  const packages: Record<string, string | null> = {};
  for (const name of REPORTED_PACKAGES) {
    try {
      const manifest = path.join(PACKAGE_ROOT, 'node_modules', name, 'package.json');
      packages[name] = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    } catch {
      packages[name] = null;
    }
  }
  let sqlite: string | null = null;
  try {
    const db = new Database(':memory:');
    sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    db.close();
  } catch {
    // Reported as null: the native module itself may be what is broken.
  }
  return {
    storesync: AGENT_VERSION,
    node: process.version,
    os: { type: os.type(), release: os.release(), version: os.version(), arch: os.arch() },
    sqlite,
    packages,
    createdAt: new Date().toISOString(),
  };
}

function recentRuns(dataDir: string): RunSummary[] | { unavailable: string } {
  try {
    return (
      readRecentRuns(path.join(dataDir, 'state.db'), RECENT_RUNS) ?? {
        unavailable: 'no state database yet (never synced)',
      }
    );
  } catch (err) {
    return { unavailable: `cannot read the state database: ${(err as Error).message}` };
  }
}

/** How long the doctor may take (it logs in to every account) before the bundle goes on. */
const DOCTOR_TIMEOUT_MS = 90_000;

/**
 * The doctor's report, text and JSON. Loaded only here: the rest of the bundle does not need
 * the doctor's checks. A doctor that fails or hangs leaves the bundle without its report, and
 * the bundle says so.
 */
async function doctorReport(
  configFile: string | null,
): Promise<{ available: boolean; text: string }> {
  try {
    const { runDoctor, formatDoctorReport } = await import('./doctor-command.js');
    const report = await withTimeout(runDoctor(configFile ?? undefined), DOCTOR_TIMEOUT_MS);
    return {
      available: true,
      text: `${formatDoctorReport(report)}\n${JSON.stringify(report, null, 2)}\n`,
    };
  } catch (err) {
    return { available: false, text: `Doctor failed: ${(err as Error).message}\n` };
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function readme(summary: string): string {
  return `StoreSync support bundle
Contents: ${summary}.

  logs/           the newest agent log files (JSON lines; \`storesync logs\` shows them readably)
  config.json     the config as written, every password and token source "[removed]"
  versions.json   StoreSync, Node.js, OS, SQLite and library versions
  sync-runs.json  the last ${RECENT_RUNS} sync runs with their results and counts
  doctor.txt      the doctor's checks

Passwords and tokens are not in this bundle. Host, user and folder names are: share it only
with the people helping you.
`;
}

function timestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-` +
    `${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`
  );
}

function megabytes(bytes: number): string {
  return bytes < 1048576 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

function parseMegabytes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

export function registerSupportBundleCommand(
  program: Command,
  setExit: (code: number) => void,
): void {
  program
    .command('support-bundle')
    .description('Write a .tar.gz for support: recent logs, config without secrets, versions')
    .option('-c, --config <file>', 'config file')
    .option('-o, --out <file>', 'where to write it (default: ./storesync-support-<time>.tar.gz)')
    .option(
      '--log-mb <n>',
      `most log data included, in MB (default ${DEFAULT_LOG_MB})`,
      parseMegabytes,
    )
    .addHelpText('after', '\nExample:\n  storesync support-bundle --out ~/storesync-support.tar.gz')
    .action(async (opts: { config?: string; out?: string; logMb?: number }) => {
      const result = await createSupportBundle({
        config: opts.config,
        out: opts.out,
        logMB: opts.logMb,
      });
      process.stdout.write(`${result.file}\n  ${megabytes(result.bytes)}: ${result.summary}\n`);
      setExit(0);
    });
}
