/**
 * `storesync sync --once` beside a running agent, the quick way in: bin/storesync.js runs
 * this before it loads the CLI's bundle. It finds the config file the command line names and
 * the running agent's record for it (agent-record.ts); only where that record stands does it
 * load the rest (sync-through-recorded-agent.ts: the command line read with the CLI's own
 * definition, the protocol, the report), and the agent does the pass over its local socket.
 * No config schema, engine, code cache or checksum is loaded, so the command's own start-up
 * is little more than Node's (BENCHMARKS.md). Without a record this costs a one-shot run a
 * small file and a stat or two. Null wherever the CLI is to run the command instead, errors
 * included; never null once the agent was asked for a run.
 */
import { defaultConfigFileFor } from '../platform-paths.js';
import { readAgentRecord } from '../server/agent-record.js';

/** Resolves to the exit code, or null when the CLI is to run the command. */
export async function syncThroughRecordedAgent(argv: readonly string[]): Promise<number | null> {
  const configFile = configFileNamed(argv.slice(2)) ?? defaultConfigFileFor();
  const record = readAgentRecord(configFile);
  if (!record) return null;
  const { syncThroughRecord } = await import('./sync-through-recorded-agent.js');
  return syncThroughRecord(argv, configFile, record);
}

/**
 * The value of the last `--config`/`-c` in the arguments, in each way commander accepts it
 * (`--config F`, `--config=F`, `-c F`, `-cF`). Only to find a record: the next step reads
 * the command line with commander itself and goes on only if it names the same file.
 */
export function configFileNamed(args: readonly string[]): string | null {
  let file: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg === '--config' || arg === '-c') file = args[++i] ?? null;
    else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else if (arg.startsWith('-c') && !arg.startsWith('--')) file = arg.slice(2);
  }
  return file;
}
