/**
 * `storesync service install|uninstall|status`: the agent as a per-user background service
 * that starts at login (agent/src/service/). Install checks the config first: a service
 * that cannot start is worse than an error now.
 */
import { existsSync } from 'node:fs';
import { CommanderError, Option, type Command } from 'commander';
import { loadConfigFile, type AgentConfig } from '../config/load.js';
import {
  installService,
  serviceFileBytes,
  servicePlatform,
  serviceState,
  uninstallService,
  type ServicePlatform,
  type ServiceState,
  type ServiceStep,
} from '../service/service-manager.js';
import { currentServiceSpec } from '../service/service-spec.js';
import { findRunningAgent } from './agent-client.js';
import { defaultConfigPath } from './command-config.js';

const PLATFORMS: ServicePlatform[] = ['linux', 'darwin', 'win32'];

export function registerServiceCommand(program: Command, setExit: (code: number) => void): void {
  const service = program
    .command('service')
    .description('Run the agent as a background service that starts when you log in')
    .addHelpText(
      'after',
      '\nLinux: a systemd user unit; macOS: a launchd agent; Windows: a Task Scheduler task.\n' +
        '\nExamples:\n  storesync service install\n  storesync service status\n  storesync service uninstall',
    );

  service
    .command('install')
    .description('Install and start the service for this user (it runs `storesync start`)')
    .option('-c, --config <file>', 'config file the service reads')
    .option('--print', 'print the service file instead of installing it (Windows: UTF-16)')
    .addOption(
      new Option('--platform <name>', 'with --print: the platform to write it for').choices(
        PLATFORMS,
      ),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync service install\n' +
        '  storesync service install --config ~/.config/storesync/config.json\n' +
        '  storesync service install --print --platform win32 > storesync-task.xml',
    )
    .action((opts: { config?: string; print?: boolean; platform?: ServicePlatform }) => {
      const configFile = opts.config ?? defaultConfigPath();
      if (opts.platform && !opts.print) {
        throw new CommanderError(2, 'storesync.usage', '--platform only goes with --print');
      }
      if (!opts.config && !existsSync(configFile)) {
        throw new CommanderError(
          2,
          'storesync.usage',
          `no config file at ${configFile}: write one first (see the README), or pass --config FILE`,
        );
      }
      // The service would fail at every login with a broken config: refuse it now (exit 2).
      const config = loadConfigFile(configFile);
      const spec = currentServiceSpec(configFile);
      if (opts.print) {
        process.stdout.write(serviceFileBytes(spec, opts.platform ?? servicePlatform()));
        setExit(0);
        return;
      }
      const running = findRunningAgent(config.dataDir);
      if (running) {
        process.stdout.write(
          `! an agent is already running for ${config.dataDir} (pid ${running.pid}); stop it, the service starts its own\n`,
        );
      }
      setExit(report(installService(spec)));
    });

  service
    .command('uninstall')
    .description('Stop the service and remove it')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync service uninstall\n  storesync service uninstall && storesync service status',
    )
    .action(() => {
      setExit(report(uninstallService()));
    });

  service
    .command('status')
    .description("Whether the service is installed and running, and the agent's answer")
    .option('-c, --config <file>', 'config file (to find the agent)')
    .option('--json', 'print the status as JSON')
    .addHelpText(
      'after',
      '\nExit code 0 when the service is installed and its agent runs, 1 otherwise.\n' +
        '\nExamples:\n  storesync service status\n  storesync service status --json | jq .service.running',
    )
    .action((opts: { config?: string; json?: boolean }) => {
      const state = serviceState();
      const agent = agentOf(opts.config);
      const healthy = state.installed && agent !== null && agent.running;
      process.stdout.write(
        opts.json
          ? JSON.stringify({ service: state, agent }, null, 2) + '\n'
          : formatServiceStatus(state, agent),
      );
      setExit(healthy ? 0 : 1);
    });
}

interface AgentFacts {
  dataDir: string;
  running: boolean;
  pid?: number;
  url?: string;
}

/** The agent of the config's data dir; null when the config cannot be read. */
function agentOf(file: string | undefined): AgentFacts | null {
  const chosen = file ?? defaultConfigPath();
  if (!file && !existsSync(chosen)) return null;
  let config: AgentConfig;
  try {
    config = loadConfigFile(chosen, { warn: () => undefined });
  } catch {
    return null;
  }
  const agent = findRunningAgent(config.dataDir);
  return agent
    ? { dataDir: config.dataDir, running: true, pid: agent.pid, url: agent.url }
    : { dataDir: config.dataDir, running: false };
}

export function formatServiceStatus(state: ServiceState, agent: AgentFacts | null): string {
  const lines = [
    `Service: ${state.kind} ${state.location}: ${state.installed ? 'installed' : 'not installed'} (${state.detail})`,
    agent === null
      ? 'Agent: unknown (no readable config; pass --config FILE)'
      : agent.running
        ? `Agent: running (pid ${agent.pid}, ${agent.url})`
        : `Agent: not running for ${agent.dataDir}`,
  ];
  if (!state.installed) lines.push('Install it with: storesync service install');
  return lines.join('\n') + '\n';
}

/** ✔/✖ per step; exit code 1 when one failed. */
function report(steps: ServiceStep[]): number {
  for (const step of steps) process.stdout.write(`${step.ok ? '✔' : '✖'} ${step.text}\n`);
  return steps.every((s) => s.ok) ? 0 : 1;
}
