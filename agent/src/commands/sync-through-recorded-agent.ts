/**
 * The second step of the quick way in for `storesync sync --once` (sync-fast-path.ts), taken
 * only once a running agent's record was found for the config file the command line names:
 * reads the whole command line with the definition cli.ts uses and has the agent do the pass
 * over its local socket. Null wherever the CLI is to run the command instead (help asked
 * for, a usage error, another config file than the first step understood, the agent gone).
 */
import path from 'node:path';
import { Command } from 'commander';
import { defaultConfigFileFor } from '../platform-paths.js';
import type { AgentRecord } from '../server/agent-record.js';
import { findRunningAgent } from './agent-client.js';
import { syncCommandThroughAgent } from './agent-sync.js';
import { addSyncCommand, syncUsageProblem, type SyncCliOptions } from './sync-options.js';

/** Resolves to the exit code, or null when the CLI is to run the command. */
export async function syncThroughRecord(
  argv: readonly string[],
  configFile: string,
  record: AgentRecord,
): Promise<number | null> {
  const options = syncOptionsOf(argv);
  if (!options) return null;
  if (path.resolve(options.config ?? defaultConfigFileFor()) !== path.resolve(configFile))
    return null;
  const agent = findRunningAgent(record.dataDir);
  if (!agent?.socket || agent.pid !== record.pid) return null;
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
  return parsed && syncUsageProblem(parsed) === null ? parsed : null;
}
