/**
 * `storesync start`: the long-running agent. SIGINT/SIGTERM stop it cleanly (the run in
 * progress finishes its message and commits, panes are told, state is closed); SIGHUP
 * re-reads the config file and applies its accounts without dropping the panes.
 */
import path from 'node:path';
import { ConfigError, loadConfigFile, type AgentConfig } from '../config/load.js';
import { createFileLogger } from '../logging.js';
import { startAgent, type RunningAgent } from '../server/agent-server.js';

export async function runAgentUntilStopped(
  config: AgentConfig,
  options: {
    /** The file the config came from: SIGHUP reads it again. */
    configFile?: string;
    onStarted?: (agent: RunningAgent) => void;
  } = {},
): Promise<number> {
  const log = createFileLogger(config.dataDir, config.log);
  const agent = await startAgent(config, log, { protocolLog: log.imapProtocolLog });
  const accounts = config.accounts.map((a) => a.id).join(', ') || 'none configured';
  process.stdout.write(
    `StoreSync agent listening on ${agent.url}\n` +
      `  accounts: ${accounts}\n  data: ${config.dataDir}\n  logs: ${path.join(config.dataDir, 'logs')} (storesync logs)\n` +
      `  pair a pane: storesync pair${options.configFile ? ` --config ${options.configFile}` : ''}\n`,
  );
  options.onStarted?.(agent);

  const reload = () => {
    if (!options.configFile) return;
    try {
      const notApplied = agent.reload(loadConfigFile(options.configFile));
      process.stdout.write(
        `SIGHUP: configuration reloaded${notApplied.length ? `; restart to apply ${notApplied.join(', ')}` : ''}\n`,
      );
    } catch (err) {
      // A broken edit must not stop a working agent: say why, keep the config it has.
      const message = err instanceof ConfigError ? err.message : (err as Error).message;
      log.error({ err: message }, 'configuration reload refused');
      process.stderr.write(`SIGHUP: configuration not reloaded: ${message}\n`);
    }
  };
  process.on('SIGHUP', reload);
  try {
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    process.stdout.write(`\n${signal}: stopping (finishing the current message)…\n`);
  } finally {
    process.off('SIGHUP', reload);
  }
  await agent.close('the agent is stopping');
  log.info({}, 'agent stopped');
  await log.close();
  return 0;
}
