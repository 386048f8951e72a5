/**
 * `storesync sync --once` beside a running agent, the quick way in: bin/storesync.js runs
 * this before it loads the CLI's bundle. It reads the command line (the definition cli.ts
 * uses) and the running agent's record for the config file named (agent-record.ts), and,
 * where that record stands, has the agent do the pass over its local socket: no config
 * schema, engine, code cache or checksum to load, so the command's own start-up is little
 * more than Node's (BENCHMARKS.md). Resolves to null wherever it cannot be sure of doing what
 * the CLI would (help asked for, a usage error, no record, an edited config): the CLI then
 * does everything as usual, errors included. Never null once the agent was asked for a run.
 */
import { Command } from 'commander';
import { defaultConfigFileFor } from '../platform-paths.js';
import { readAgentRecord } from '../server/agent-record.js';
import { findRunningAgent } from './agent-client.js';
import { addSyncCommand, type SyncCliOptions } from './sync-options.js';

/** Resolves to the exit code, or null when the CLI is to run the command instead. */
export async function syncThroughRecordedAgent(argv: readonly string[]): Promise<number | null> {
  const options = syncOptionsOf(argv);
  if (!options) return null;
  const record = readAgentRecord(options.config ?? defaultConfigFileFor());
  if (!record) return null;
  const agent = findRunningAgent(record.dataDir);
  if (!agent?.socket || agent.pid !== record.pid) return null;
  const { syncCommandThroughAgent } = await import('./agent-sync.js');
  return syncCommandThroughAgent(
    agent,
    options,
    new Map(record.accounts.map((a) => [a.id, a.maxConnections])),
  );
}

/** The options of a well-formed `sync --once` command line; null for anything else. */
function syncOptionsOf(argv: readonly string[]): SyncCliOptions | null {
  let options: SyncCliOptions | null = null;
  // Silent: whatever it would say, the CLI says instead.
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  addSyncCommand(program).action((opts: SyncCliOptions) => {
    options = opts;
  });
  try {
    program.parse([...argv]);
  } catch {
    return null;
  }
  const parsed = options as SyncCliOptions | null;
  if (!parsed?.once || (parsed.json && parsed.events)) return null;
  return parsed;
}
