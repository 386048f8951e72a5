/**
 * `storesync sync --once`: one pass of the engine over the configured accounts, without the
 * agent's server. Exit 0 when everything synced, 1 when some folder or account failed.
 * Output: live progress on a terminal, a JSON summary (--json), or every engine event as
 * NDJSON (--events) for scripts and other front ends.
 */
import path from 'node:path';
import type { AgentConfig } from '../config/load.js';
import { createFileLogger } from '../logging.js';
import type { SyncFlags } from '../protocol/index.js';
import { NotInStateError, SyncEngine, UnknownAccountError } from '../sync/engine.js';
import { classifyError } from '../sync/errors.js';
import type { SyncLogger } from '../sync/logger.js';
import type { EarlySessions } from '../sync/session-pool.js';
import { StateDb } from '../sync/state-db.js';
import { SyncReport } from './sync-report.js';

export interface SyncCommandOptions {
  accountIds: string[];
  /** Folder paths ("Archive/2024"); empty for every folder the config selects. */
  folders: string[];
  flags: SyncFlags;
  json: boolean;
  /** Every engine event as one JSON line on stdout, instead of progress and summary. */
  events?: boolean;
}

/** `sessions`: the accounts' first sessions, opened while this module loaded. */
export async function runSyncOnce(
  config: AgentConfig,
  options: SyncCommandOptions,
  sessions?: EarlySessions,
): Promise<number> {
  const log = createFileLogger(config.dataDir, config.log);
  const state = new StateDb(stateFile(config));
  reportRecoveredState(state, log);
  // The dataDir's lock is ours: a run the state says is going is a dead process's.
  const ended = state.endRunsLeftRunning();
  if (ended > 0) log.warn({ runs: ended }, 'runs a process that died left unfinished ended');
  const engine = new SyncEngine(config.accounts, state, log, {
    protocolLog: log.imapProtocolLog,
    ...(sessions ? { sessions } : {}),
  });
  const report = new SyncReport({
    json: options.json,
    events: options.events === true,
    connections: new Map(config.accounts.map((a) => [a.id, a.maxConnections])),
    onInvalidEvent: (event, problem) =>
      log.error({ event: event.type, err: problem }, 'event fails its schema'),
  });
  engine.onEvent((event) => report.handle(event));
  // Ctrl-C cancels cleanly: the batch in flight is committed before the process ends.
  const cancel = () => engine.stop();
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    const run = engine.start({
      accountIds: options.accountIds,
      folders: options.folders,
      flags: options.flags,
      trigger: 'cli',
    });
    return report.finish(await run.done);
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    await sessions?.close();
    state.close();
    await log.close();
  }
}

export function stateFile(config: AgentConfig): string {
  return path.join(config.dataDir, 'state.db');
}

/** `storesync fetch`: prints the path of the message's file, fetching its body if needed. */
export async function runFetch(
  config: AgentConfig,
  opts: { account: string; folder: string; uid: number; json?: boolean },
): Promise<number> {
  const log = createFileLogger(config.dataDir, config.log);
  const state = new StateDb(stateFile(config));
  try {
    const engine = new SyncEngine(config.accounts, state, log, {
      protocolLog: log.imapProtocolLog,
    });
    const result = await engine.fetchMessage(opts.account, opts.folder, opts.uid);
    process.stdout.write((opts.json ? JSON.stringify(result) : result.path) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof NotInStateError || err instanceof UnknownAccountError) {
      process.stderr.write(`storesync: ${err.message}\n`);
      return 1;
    }
    const failure = classifyError(err, opts.folder);
    process.stderr.write(`storesync: ${failure.code}: ${failure.message}\n  ${failure.hint}\n`);
    return 1;
  } finally {
    state.close();
    await log.close();
  }
}

/** A damaged state file was set aside: support needs to know, the user only that it healed. */
export function reportRecoveredState(state: StateDb, log: SyncLogger): void {
  if (!state.recovered) return;
  log.warn(
    state.recovered,
    'state database was damaged; set aside, rebuilding from Maildir and server',
  );
  process.stderr.write(
    `storesync: the sync state was damaged and has been rebuilt (the damaged copy is ${state.recovered.damagedCopy})\n`,
  );
}
