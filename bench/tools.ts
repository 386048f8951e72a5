/**
 * The sync tools under test, each set up the way its documentation suggests for a one-shot,
 * two-way sync of every folder into a Maildir with nested folders: StoreSync (`sync --once`,
 * the built CLI), mbsync (Debian isync: `Sync All`) and OfflineIMAP (offlineimap3: `-o`).
 * `mbsync-nofsync` is mbsync with `FSync no`: not durable, so not a rival, but what writing
 * the same Maildir costs without waiting for the disk (the bar "as fast as mbsync without
 * fsync" is measured against it).
 * Each talks to the server through the byte-counting proxy.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ENVIRONMENT, NODE_FLAGS } from '../agent/src/launch-settings.js';
import { startAgentProcess, type AgentProcess } from '../test/support/storesync-process.js';
import { toolEnvironment } from './measure.js';

export const PASSWORD_ENV = 'BENCH_IMAP_PASSWORD';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const STORESYNC_BIN = path.join(REPO, 'bin', 'storesync.js');

/**
 * Node's arguments and environment for a `storesync` command, started the way its first line
 * and the service files start it for a user (launch-settings.ts).
 */
export function storesyncInvocation(args: readonly string[]): {
  args: string[];
  env: Record<string, string>;
} {
  return { args: [...NODE_FLAGS, STORESYNC_BIN, ...args], env: { ...NODE_ENVIRONMENT } };
}
export const RAW_FETCH = path.join(REPO, 'bench', 'raw-fetch.mjs');

/**
 * `storesync-agent`: the same `storesync sync --once --json`, run while the agent
 * (`storesync start`, background syncs off) runs for its dataDir, so that the command has the
 * agent do the pass over its kept sessions (commands/agent-sync.ts). Its own Maildir, state
 * and initial sync, like any other tool.
 */
export type ToolName =
  'storesync' | 'storesync-agent' | 'mbsync' | 'mbsync-nofsync' | 'offlineimap';
export const ALL_TOOLS: ToolName[] = [
  'storesync',
  'storesync-agent',
  'mbsync',
  'mbsync-nofsync',
  'offlineimap',
];

/** The program each tool runs and the Debian package it comes from (null: this repo's). */
export const TOOL_PACKAGES: Record<ToolName, { program: string; pkg: string } | null> = {
  storesync: null,
  'storesync-agent': null,
  mbsync: { program: 'mbsync', pkg: 'isync' },
  'mbsync-nofsync': { program: 'mbsync', pkg: 'isync' },
  offlineimap: { program: 'offlineimap', pkg: 'offlineimap3' },
};

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface PreparedTool {
  name: ToolName;
  /** Where its Maildir lands (every folder below it). */
  maildir: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Why a finished run is a failure even with exit code 0, or null. */
  failure(code: number, output: string): string | null;
  /** A process the tool keeps running between syncs (the agent), whose work is the tool's. */
  resident?: ResidentProcess;
}

export interface ResidentProcess {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds (user, system) used since it started, and its peak resident memory so far. */
  usage(): { userS: number; sysS: number; maxRssKb: number };
}

/** Writes the tool's config into `work` (empty) and says how to run one sync. */
export async function prepareTool(
  name: ToolName,
  work: string,
  server: Endpoint,
): Promise<PreparedTool> {
  const maildir = path.join(work, 'mail');
  await fs.mkdir(maildir, { recursive: true });
  const env = { [PASSWORD_ENV]: server.password };
  const exitCode = (code: number, output: string) =>
    code === 0 ? null : `exit code ${code}: ${output.trim().split('\n').slice(-5).join(' | ')}`;
  switch (name) {
    case 'storesync':
    case 'storesync-agent': {
      const config = path.join(work, 'storesync.json');
      const run = storesyncInvocation(['sync', '--config', config, '--once', '--json']);
      await fs.writeFile(
        config,
        JSON.stringify({
          dataDir: path.join(work, 'data'),
          server: { host: '127.0.0.1', port: 0 },
          log: { level: 'warn' },
          accounts: [
            {
              id: 'bench',
              imap: {
                host: server.host,
                port: server.port,
                tls: 'none',
                user: server.user,
                password: { env: PASSWORD_ENV },
              },
              maildir,
              // No background work: each pass is one the command asked for.
              syncIntervalSeconds: 0,
              idleFolders: [],
            },
          ],
        }),
      );
      return {
        name,
        maildir,
        command: process.execPath,
        args: run.args,
        env: { ...run.env, ...env },
        ...(name === 'storesync-agent'
          ? { resident: residentAgent(config, { ...run.env, ...env }) }
          : {}),
        failure: (code, output) => {
          if (code !== 0 || !storesyncSummary(output)?.ok) {
            return `storesync failed (exit ${code}): ${output.trim().slice(-500)}`;
          }
          return null;
        },
      };
    }
    case 'mbsync':
    case 'mbsync-nofsync': {
      const rc = path.join(work, 'mbsyncrc');
      // mbsync reads the password from a command, so it never sits in the file.
      await fs.writeFile(
        rc,
        `${name === 'mbsync-nofsync' ? 'FSync no\n' : ''}IMAPAccount bench
Host ${server.host}
Port ${server.port}
User ${server.user}
PassCmd "printenv ${PASSWORD_ENV}"
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path ${maildir}/
Inbox ${maildir}/INBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns *
Create Near
Sync All
SyncState *
`,
        { mode: 0o600 },
      );
      return {
        name,
        maildir,
        command: 'mbsync',
        args: ['-c', rc, '-a', '-q'],
        env,
        failure: exitCode,
      };
    }
    case 'offlineimap': {
      const rc = path.join(work, 'offlineimaprc');
      const hook = path.join(work, 'password.py');
      // remotepasseval keeps the password out of the file: read from the environment.
      await fs.writeFile(hook, `import os\ndef pw():\n    return os.environ["${PASSWORD_ENV}"]\n`);
      await fs.writeFile(
        rc,
        `[general]
accounts = bench
metadata = ${path.join(work, 'meta')}
ui = quiet
pythonfile = ${hook}

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = ${maildir}
sep = /

[Repository remote]
type = IMAP
remotehost = ${server.host}
remoteport = ${server.port}
remoteuser = ${server.user}
remotepasseval = pw()
ssl = no
starttls = no
`,
        { mode: 0o600 },
      );
      return {
        name,
        maildir,
        command: 'offlineimap',
        args: ['-c', rc, '-o', '-u', 'quiet'],
        env,
        // It can exit 0 after a folder failed: its ERROR lines count too.
        failure: (code, output) =>
          exitCode(code, output) ??
          (/ERROR/.test(output) ? `offlineimap: ${output.trim().slice(-500)}` : null),
      };
    }
  }
}

/** `storesync start` for a tool's config, with what it used read from /proc (Linux). */
function residentAgent(config: string, env: NodeJS.ProcessEnv): ResidentProcess {
  let agent: AgentProcess | null = null;
  return {
    start: async () => {
      agent = await startStoresyncAgent(config, env);
    },
    stop: async () => {
      await agent?.stop();
      agent = null;
    },
    usage: () => {
      const pid = agent?.child.pid;
      if (pid === undefined) throw new Error('the agent is not running');
      // /proc/<pid>/stat: utime and stime are fields 14 and 15, after the command in parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return {
        userS: Number(fields[11]) / CLOCK_TICKS,
        sysS: Number(fields[12]) / CLOCK_TICKS,
        maxRssKb: Number(hwm?.[1] ?? 0),
      };
    },
  };
}

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux port that Node runs on). */
const CLOCK_TICKS = 100;

/** `storesync start --config <config>`, with the launch settings a user's agent has. */
export function startStoresyncAgent(config: string, env: NodeJS.ProcessEnv): Promise<AgentProcess> {
  return startAgentProcess(
    ['--config', config],
    { ...NODE_ENVIRONMENT, ...env },
    NODE_FLAGS,
    toolEnvironment(),
  );
}

/** The summary line of `storesync sync --once --json`, or null when it printed none. */
export function storesyncSummary(output: string): { ok: boolean; seconds: number } | null {
  const line = output
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{"ok"'))
    .pop();
  return line ? (JSON.parse(line) as { ok: boolean; seconds: number }) : null;
}
