/**
 * `storesync start`: the long-running agent. Stops cleanly on SIGINT/SIGTERM: the run in
 * progress commits what it has, panes are told, state is closed.
 */
import type { AgentConfig } from '../config/load.js';
import { createFileLogger } from '../logging.js';
import { startAgent, type RunningAgent } from '../server/agent-server.js';

export async function runAgentUntilStopped(
  config: AgentConfig,
  onStarted?: (agent: RunningAgent) => void,
): Promise<number> {
  const log = createFileLogger(config.dataDir, config.log);
  const agent = await startAgent(config, log);
  const accounts = config.accounts.map((a) => a.id).join(', ') || 'none configured';
  process.stdout.write(
    `StoreSync agent listening on ${agent.url}\n` +
      `  accounts: ${accounts}\n  data: ${config.dataDir}\n  logs: ${config.dataDir}/logs/agent.log\n`,
  );
  onStarted?.(agent);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`\n${signal}: stopping (finishing the current batch)…\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await agent.close();
  log.info({}, 'agent stopped');
  log.flush();
  return 0;
}
