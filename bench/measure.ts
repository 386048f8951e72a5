/**
 * How a figure is taken: a tool runs as a child under GNU time (wall from our clock, CPU and
 * max RSS from the kernel's rusage), and what it left on disk is counted against the server.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export const GNU_TIME = '/usr/bin/time';

export interface RunFigures {
  wallS: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
}

export interface TimedResult extends RunFigures {
  code: number;
  output: string;
  /** Killed for running longer than `timeoutMs`. */
  timedOut: boolean;
}

/**
 * What a tool's run inherits from the bench's own environment: what a systemd timer or a cron
 * job gives a sync (the search path, the home directory, the user, the locale and time zone),
 * to which each tool adds its own variables. Not the rest of the shell the bench was started
 * from: a variable there can change what a tool does before it has done anything. One is
 * NODE_EXTRA_CA_CERTS, which Node 20 reads and parses, with its own CA store, at every start,
 * TLS or not: 0.04 s more for each `storesync` command (BENCHMARKS.md).
 */
export const INHERITED_VARIABLES = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_DATA_HOME',
  'XDG_STATE_HOME',
  'XDG_RUNTIME_DIR',
] as const;

/** The environment a tool runs in: the inherited variables above and `own`. */
export function toolEnvironment(own: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_VARIABLES) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...own };
}

/** One run's limit unless told otherwise (`--run-minutes`). */
export const RUN_LIMIT_MS = 3_600_000;

/**
 * Runs `command` under GNU time, in toolEnvironment(options.env); rejects only when it cannot
 * start. A run longer than `timeoutMs` is killed and says so (`timedOut`), its figures those
 * of the killed run.
 */
export async function runTimed(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<TimedResult> {
  const format = 'BENCH_TIME %U %S %M';
  const started = process.hrtime.bigint();
  const child = spawn(GNU_TIME, ['-f', format, command, ...args], {
    env: toolEnvironment(options.env),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // The tool first (GNU time's child: killing time alone would leave it running), then
    // time itself, which by then has usually reported the killed run and exited.
    const killTool = spawn('pkill', ['-KILL', '-P', String(child.pid)], { stdio: 'ignore' });
    killTool.once('error', () => child.kill('SIGKILL'));
    killTool.once('close', () => child.kill('SIGKILL'));
  }, options.timeoutMs ?? RUN_LIMIT_MS);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c ?? -1));
  });
  clearTimeout(timer);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const line = output
    .split('\n')
    .filter((l) => l.startsWith('BENCH_TIME '))
    .pop();
  if (!line && timedOut) {
    return { code, output, wallS, userS: 0, sysS: 0, maxRssKb: 0, timedOut };
  }
  if (!line) throw new Error(`${command}: no timing from ${GNU_TIME}:\n${output.slice(-2000)}`);
  const [, user, sys, rss] = line.split(' ');
  return {
    code,
    output: output.replace(/^BENCH_TIME .*\n?/m, ''),
    wallS,
    userS: Number(user),
    sysS: Number(sys),
    maxRssKb: Number(rss),
    timedOut,
  };
}

export interface LocalCount {
  messages: number;
  /** Bytes as they were on the wire: each file's size with every bare LF counted as CRLF. */
  wireBytes: number;
  flagged: number;
}

/** Every message file under `root` (in any folder's cur/ or new/). */
export async function countLocal(root: string): Promise<LocalCount> {
  const out: LocalCount = { messages: 0, wireBytes: 0, flagged: 0 };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && /^(cur|new)$/.test(path.basename(dir))) {
        out.messages += 1;
        out.wireBytes += wireSize(await fs.readFile(full));
        const info = entry.name.split(':2,')[1];
        if (info?.includes('F')) out.flagged += 1;
      }
    }
  };
  if (existsSync(root)) await walk(root);
  return out;
}

/**
 * Tracking headers some tools write into the copy they store (mbsync: X-TUID, OfflineIMAP:
 * X-OfflineIMAP); they are not the server's bytes, so they are left out of the comparison.
 */
const TRACKING_HEADER = /^(X-TUID|X-OfflineIMAP): [^\n]*\n/gim;

/** Size with LF line ends turned back into CRLF (tools store LF; IMAP sizes count CRLF). */
function wireSize(data: Buffer): number {
  const headerEnd = data.indexOf('\n\n');
  const head = data.toString('latin1', 0, headerEnd < 0 ? data.length : headerEnd + 1);
  const tracking = head.match(TRACKING_HEADER);
  if (tracking) {
    const cut = tracking.reduce((sum, line) => sum + line.length + 1, 0); // + its CR on the wire
    return wireSizeOf(data) - cut;
  }
  return wireSizeOf(data);
}

function wireSizeOf(data: Buffer): number {
  let size = data.length;
  for (let at = data.indexOf(10); at >= 0; at = data.indexOf(10, at + 1)) {
    if (at === 0 || data[at - 1] !== 13) size += 1;
  }
  return size;
}

export interface ServerCount {
  messages: number;
  /** RFC822.SIZE summed over all messages (doveadm's vsize). */
  bytes: number;
  flagged: number;
}

const run = promisify(execFile);

/** What the server holds, asked of Dovecot itself (doveadm), not over IMAP. */
export async function countServer(dovecotConf: string, user: string): Promise<ServerCount> {
  const status = await run('doveadm', [
    '-c',
    dovecotConf,
    '-f',
    'tab',
    'mailbox',
    'status',
    '-u',
    user,
    'messages vsize',
    '*',
  ]);
  const rows = status.stdout.trim().split('\n');
  const header = rows.shift()!.split('\t');
  const col = (name: string) => header.indexOf(name);
  let messages = 0;
  let bytes = 0;
  for (const row of rows) {
    const cells = row.split('\t');
    messages += Number(cells[col('messages')]);
    bytes += Number(cells[col('vsize')]);
  }
  const flagged = await run(
    'doveadm',
    ['-c', dovecotConf, 'search', '-u', user, 'mailbox', '*', 'FLAGGED'],
    { maxBuffer: 64 << 20 },
  );
  return { messages, bytes, flagged: flagged.stdout.split('\n').filter(Boolean).length };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
