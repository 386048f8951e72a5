/**
 * Commands that talk to the running agent: `pair` (a one-time code for a pane), `open` (the
 * pane in a browser, already paired) and `status` (the agent's view, or the state on disk
 * when no agent runs).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CommanderError, type Command } from 'commander';
import type { AgentConfig } from '../config/load.js';
import type { AccountSummary, HistoryEntry, SnapshotMessage } from '../protocol/index.js';
import { SyncEngine } from '../sync/engine.js';
import { StateDb } from '../sync/state-db.js';
import { readLockHolder } from '../server/lock-holder.js';
import type { OneTimeSecret, PairedClient } from '../server/pairing.js';
import {
  AgentNotRunningError,
  callAgent,
  findRunningAgent,
  requireRunningAgent,
  type AgentEndpoint,
} from './agent-client.js';

type ReadConfig = (file: string | undefined) => AgentConfig;

export function registerAgentCommands(
  program: Command,
  readConfig: ReadConfig,
  setExit: (code: number) => void,
): void {
  program
    .command('pair')
    .description('Show a one-time code that pairs a task pane (in Outlook) with the agent')
    .option('-c, --config <file>', 'config file')
    .option('--list', 'list the paired panes instead')
    .option('--revoke-all', 'unpair every pane (each must pair again)')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync pair              # prints a code such as K7QM-2XZ9\n' +
        '  storesync pair --list\n  storesync pair --revoke-all   # a lost laptop, a shared PC',
    )
    .action(async (opts: { config?: string; list?: boolean; revokeAll?: boolean }) => {
      const agent = running(readConfig(opts.config));
      if (opts.revokeAll) {
        const { json } = await expectOk(callAgent(agent, 'DELETE', '/pairing/clients'));
        process.stdout.write(`Unpaired ${(json as { revoked: number }).revoked} pane(s).\n`);
      } else if (opts.list) {
        const { json } = await expectOk(callAgent(agent, 'GET', '/pairing/clients'));
        const clients = (json as { clients: PairedClient[] }).clients;
        if (clients.length === 0) process.stdout.write('No pane is paired.\n');
        for (const c of clients) {
          process.stdout.write(
            `${c.name}  paired ${new Date(c.createdAt).toISOString()}` +
              (c.lastSeenAt ? `, last seen ${new Date(c.lastSeenAt).toISOString()}` : '') +
              '\n',
          );
        }
      } else {
        const { json } = await expectOk(callAgent(agent, 'POST', '/pairing', { kind: 'code' }));
        const code = json as OneTimeSecret;
        const minutes = Math.round((code.expiresAt - Date.now()) / 60_000);
        process.stdout.write(
          `Pairing code: ${code.secret}\n` +
            `Enter it in the StoreSync pane (in Outlook: Home › StoreSync) within ${minutes} minutes; it works once.\n`,
        );
      }
      setExit(0);
    });

  program
    .command('open')
    .description('Open the task pane in a browser, already paired with the agent')
    .option('-c, --config <file>', 'config file')
    .option('--print', 'print the one-time URL instead of opening a browser')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync open\n  storesync open --print   # to paste into a browser on this machine',
    )
    .action(async (opts: { config?: string; print?: boolean }) => {
      const agent = running(readConfig(opts.config));
      const { json } = await expectOk(callAgent(agent, 'POST', '/pairing', { kind: 'link' }));
      // The secret rides in the fragment: browsers never send it to a server or a log.
      const url = `${agent.url}taskpane.html#pair=${(json as OneTimeSecret).secret}`;
      if (opts.print) {
        process.stdout.write(url + '\n');
      } else {
        const opened = await openInBrowser(url);
        process.stdout.write(
          opened
            ? `Opened the StoreSync pane in your browser.\n`
            : `Could not start a browser; open this URL (it works once, for 10 minutes):\n${url}\n`,
        );
      }
      setExit(0);
    });

  program
    .command('status')
    .description("Show accounts, running syncs and recent runs (the agent's view, or the state)")
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync status\n  storesync status --json | jq .accounts',
    )
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = readConfig(opts.config);
      const status = await readStatus(config);
      process.stdout.write(
        opts.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status, Date.now()),
      );
      // Something failed last time: scripts and monitoring see it in the exit code.
      setExit(status.accounts.some((a) => a.lastResult === 'error') ? 1 : 0);
    });
}

export interface AgentStatus extends Omit<SnapshotMessage, 'type' | 'lastEventId'> {
  agent: {
    running: boolean;
    pid?: number;
    url?: string;
    startedAt?: number;
    panes?: number;
    /** Why the agent holding the dataDir's lock could not be asked (it hangs, or is dying). */
    unreachable?: string;
  };
}

/** Errors that mean nothing answers where the agent's lock says it listens. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE']);

/**
 * From the running agent if there is one, else straight from the state database (also when
 * the process holding the lock does not answer: the state is readable beside it).
 */
export async function readStatus(config: AgentConfig): Promise<AgentStatus> {
  const agent = findRunningAgent(config.dataDir);
  let unreachable: string | null = null;
  if (agent) {
    try {
      return await statusFromAgent(agent);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const timedOut = /did not answer/.test((err as Error).message);
      if (!timedOut && !(code && UNREACHABLE.has(code))) throw err;
      unreachable = `it does not answer at ${agent.url} (${code ?? 'timeout'})`;
    }
  }
  const state = new StateDb(path.join(config.dataDir, 'state.db'));
  try {
    const engine = new SyncEngine(config.accounts, state);
    const holder = readLockHolder(config.dataDir);
    return {
      agent: {
        running: false,
        ...(holder ? { pid: holder.pid } : {}),
        ...(unreachable ? { unreachable } : {}),
      },
      accounts: engine.accountSummaries(),
      running: [],
      history: engine.history(10),
    };
  } finally {
    state.close();
  }
}

async function statusFromAgent(agent: AgentEndpoint): Promise<AgentStatus> {
  const { json } = await expectOk(callAgent(agent, 'GET', '/status'));
  const s = json as SnapshotMessage & {
    pid: number;
    url: string;
    startedAt: number;
    panesConnected: number;
  };
  return {
    agent: {
      running: true,
      pid: s.pid,
      url: s.url,
      startedAt: s.startedAt,
      panes: s.panesConnected,
    },
    accounts: s.accounts,
    running: s.running,
    history: s.history,
  };
}

export function formatStatus(status: AgentStatus, now: number): string {
  const lines: string[] = [];
  const a = status.agent;
  lines.push(
    a.running
      ? `Agent: running (pid ${a.pid}, ${a.url}, up ${duration(now - (a.startedAt ?? now))}, ${a.panes ?? 0} pane(s) connected)`
      : a.unreachable
        ? `Agent: pid ${a.pid} holds the data directory but ${a.unreachable}; if it hangs, stop it (kill ${a.pid}). From the state:`
        : `Agent: not running${a.pid ? ` (a \`storesync sync\`, pid ${a.pid}, is)` : ''}`,
  );
  for (const account of status.accounts) {
    lines.push('', accountLine(account, now));
    const run = status.running.find((r) => r.accountIds.includes(account.id));
    const progress = run?.progress.find((p) => p.accountId === account.id);
    if (run) lines.push(`  syncing: ${progress?.text ?? 'starting'}`);
  }
  if (status.accounts.length === 0) lines.push('', 'No accounts are configured.');
  if (status.history.length > 0) {
    lines.push('', 'Recent runs:');
    for (const entry of status.history.slice(0, 10)) lines.push('  ' + historyLine(entry));
  }
  return lines.join('\n') + '\n';
}

function accountLine(account: AccountSummary, now: number): string {
  const last = account.lastSyncAt
    ? `last sync ${duration(now - account.lastSyncAt)} ago: ${account.lastResult}`
    : 'never synced';
  return `${account.id} (${account.host}): ${account.messageCount.toLocaleString('en-US')} messages in ${account.folderCount} folders; ${last}`;
}

function historyLine(entry: HistoryEntry): string {
  const when = new Date(entry.startedAt).toISOString().replace('T', ' ').slice(0, 19);
  const took = entry.finishedAt ? duration(entry.finishedAt - entry.startedAt) : 'running';
  const s = entry.stats;
  const counts = s
    ? [
        s.downloaded && `${s.downloaded} downloaded`,
        s.uploaded && `${s.uploaded} uploaded`,
        s.flagsPulled + s.flagsPushed && `${s.flagsPulled + s.flagsPushed} flag changes`,
        s.expungedLocal + s.expungedRemote && `${s.expungedLocal + s.expungedRemote} deleted`,
        s.foldersFailed && `${s.foldersFailed} folders failed`,
      ].filter(Boolean)
    : [];
  return `${when}  ${entry.trigger.padEnd(8)} ${(entry.result ?? 'running').padEnd(9)} ${took.padStart(7)}  ${entry.accountIds.join(',')}  ${counts.join(', ') || 'no changes'}`;
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

function running(config: AgentConfig): AgentEndpoint {
  try {
    return requireRunningAgent(config.dataDir);
  } catch (err) {
    if (err instanceof AgentNotRunningError)
      throw new CommanderError(2, 'storesync.usage', err.message);
    throw err;
  }
}

async function expectOk(
  call: Promise<{ status: number; json: unknown }>,
): Promise<{ status: number; json: unknown }> {
  const answer = await call;
  if (answer.status >= 200 && answer.status < 300) return answer;
  const error = (answer.json as { error?: { message?: string } } | null)?.error;
  throw new Error(`the agent refused (${answer.status}): ${error?.message ?? 'no reason given'}`);
}

/** The desktop's way to open a URL; false if there is none (a server, a container). */
function openInBrowser(url: string): Promise<boolean> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve) => {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    // xdg-open and friends exit at once, non-zero when they found no browser; one that is
    // still running after a while is the browser itself (some set-ups wait for it).
    const settle = setTimeout(() => {
      child.unref();
      resolve(true);
    }, OPENER_VERDICT_MS);
    child.once('exit', (code) => {
      clearTimeout(settle);
      resolve(code === 0);
    });
  });
}

/** How long the desktop's opener has to say it found no browser. */
const OPENER_VERDICT_MS = 3000;
