/**
 * The `storesync` command line. Exit codes: 0 success, 1 a sync or check failed,
 * 2 bad usage or a bad config.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfigFile, type AgentConfig } from './config/load.js';
import { AGENT_VERSION } from './package-info.js';
import {
  addSyncCommand,
  syncFlagsOf,
  syncUsageProblem,
  type SyncCliOptions,
} from './commands/sync-options.js';
import { DataDirLock, DataDirLockedError } from './server/agent-lock.js';
import { defaultConfigFileFor } from './platform-paths.js';
import { EarlyDials } from './sync/early-dial.js';

/*
 * Each command's module is loaded only when that command runs: a one-shot `storesync sync`
 * should pay Node's start-up and the sync engine, not the HTTPS server, the certificate
 * tools or the support bundle (together about half the start-up time and memory).
 */
type ReadConfig = (file: string | undefined) => AgentConfig;
type SetExit = (code: number) => void;

/** Commands defined in their own modules, by name, each with how to add it to the program. */
const REGISTERED_COMMANDS: Record<string, (program: Command, setExit: SetExit) => Promise<void>> = {
  cert: async (program, setExit) =>
    (await import('./commands/cert-command.js')).registerCertCommand(program, setExit),
  doctor: async (program, setExit) =>
    (await import('./commands/doctor-command.js')).registerDoctorCommand(program, setExit),
  logs: async (program, setExit) =>
    (await import('./commands/logs-command.js')).registerLogsCommand(program, setExit),
  'support-bundle': async (program, setExit) =>
    (await import('./commands/support-bundle-command.js')).registerSupportBundleCommand(
      program,
      setExit,
    ),
  manifest: async (program, setExit) =>
    (await import('./commands/manifest-command.js')).registerManifestCommand(program, setExit),
  config: async (program, setExit) =>
    (await import('./commands/config-command.js')).registerConfigCommand(program, setExit),
  service: async (program, setExit) =>
    (await import('./commands/service-command.js')).registerServiceCommand(program, setExit),
};
/** agent-commands.ts defines several commands (status, pair, open, stop…). */
const AGENT_COMMANDS = async (program: Command, readConfig: ReadConfig, setExit: SetExit) =>
  (await import('./commands/agent-commands.js')).registerAgentCommands(
    program,
    readConfig,
    setExit,
  );
/** Commands defined in this file. */
const OWN_COMMANDS = new Set(['sync', 'fetch', 'start', 'demo']);

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function defaultConfigFile(): string {
  return defaultConfigFileFor();
}

function readConfig(file: string | undefined): AgentConfig {
  const chosen = file ?? defaultConfigFile();
  if (!file && !existsSync(chosen)) {
    throw new ConfigError(
      `no config file at ${chosen}; pass --config FILE (or try \`storesync demo\`)`,
    );
  }
  return loadConfigFile(chosen);
}

/**
 * The program with every command, or, given the name the command line asks for, with just
 * what that command needs (its help and errors are the same either way).
 */
export async function buildProgram(
  setExit: (code: number) => void,
  commandName?: string,
): Promise<Command> {
  const program = new Command()
    .name('storesync')
    .description(
      'Keeps an offline Maildir copy of IMAP accounts in sync and shows its progress in Outlook.',
    )
    .version(AGENT_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  addSyncCommand(program).action(async (opts: SyncCliOptions) => {
    const problem = syncUsageProblem(opts);
    if (problem) throw new CommanderError(EXIT_USAGE, 'storesync.usage', problem);
    const config = readConfig(opts.config);
    // With the agent running for this dataDir, the pass is the agent's (agent-sync.ts).
    const { findRunningAgent } = await import('./commands/agent-client.js');
    const agent = findRunningAgent(config.dataDir);
    if (agent) {
      const { syncCommandThroughAgent } = await import('./commands/agent-sync.js');
      setExit(
        await syncCommandThroughAgent(
          agent,
          opts,
          new Map(config.accounts.map((a) => [a.id, a.maxConnections])),
        ),
      );
      return;
    }
    // Never beside the agent or another sync on the same Maildir and state.
    const lock = DataDirLock.acquire(config.dataDir, 'sync');
    try {
      // The servers accept, greet and log in while the engine loads (session-pool.ts).
      const accounts = config.accounts.filter((a) => !opts.account || a.id === opts.account);
      const dials = EarlyDials.start(accounts);
      const sessions = new (await import('./sync/session-pool.js')).EarlySessions(dials);
      if (!config.log?.imapProtocol) sessions.login(accounts);
      const { runSyncOnce } = await import('./commands/sync-command.js');
      setExit(
        await runSyncOnce(
          config,
          {
            accountIds: opts.account ? [opts.account] : [],
            folders: opts.folder ?? [],
            flags: syncFlagsOf(opts),
            json: opts.json === true,
            events: opts.events === true,
          },
          sessions,
        ),
      );
    } finally {
      lock.release();
    }
  });

  program
    .command('fetch')
    .description(
      'Make sure one message is stored in full (bodies of headers-only syncs come on demand)',
    )
    .option('-c, --config <file>', 'config file')
    .requiredOption('--account <id>', 'account id')
    .requiredOption('--folder <name>', 'folder ("Archive/2024")')
    // Whole digits only: "1.5" or "1e0" must not quietly name UID 1.
    .requiredOption('--uid <n>', 'the message UID', (v) =>
      /^\d{1,10}$/.test(v.trim()) ? Number(v) : Number.NaN,
    )
    .option('--json', 'print {"path":…,"fetched":…} instead of the path')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync fetch --account work --folder INBOX --uid 4711\n' +
        '  storesync fetch --config ~/.config/storesync/config.json --account work --folder "Archive/2024" --uid 12 --json\n' +
        '  less "$(storesync fetch --account work --folder INBOX --uid 4711)"',
    )
    .action(
      async (opts: {
        config?: string;
        account: string;
        folder: string;
        uid: number;
        json?: boolean;
      }) => {
        if (!Number.isInteger(opts.uid) || opts.uid < 1) {
          throw new CommanderError(
            EXIT_USAGE,
            'storesync.usage',
            '--uid must be a positive integer',
          );
        }
        const config = readConfig(opts.config);
        // Beside the running agent, the agent fetches: one process per Maildir and state.
        const { findRunningAgent } = await import('./commands/agent-client.js');
        const agent = findRunningAgent(config.dataDir);
        if (agent) {
          const { fetchThroughAgent } = await import('./commands/agent-fetch.js');
          setExit(await fetchThroughAgent(agent, opts));
          return;
        }
        const lock = DataDirLock.acquire(config.dataDir, 'sync');
        try {
          const { runFetch } = await import('./commands/sync-command.js');
          setExit(await runFetch(config, opts));
        } finally {
          lock.release();
        }
      },
    );

  program
    .command('start')
    .description(
      'Run the agent: background sync, the task pane and its WebSocket on https://localhost',
    )
    .option('-c, --config <file>', 'config file')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync start --config ~/.config/storesync/config.json\n' +
        '  storesync start                 # reads ~/.config/storesync/config.json\n' +
        '  storesync doctor && storesync start',
    )
    .action(async (opts: { config?: string }) => {
      const configFile = opts.config ?? defaultConfigFile();
      const config = readConfig(opts.config);
      const { runAgentUntilStopped } = await import('./commands/start-command.js');
      setExit(await runAgentUntilStopped(config, { configFile }));
    });

  program
    .command('demo')
    .description('Start a private IMAP server with generated mail and run the agent against it')
    .addOption(
      new Option('--data-dir <dir>', 'where the demo keeps its server, Maildir and state').default(
        path.join(os.homedir(), '.local', 'share', 'storesync-demo'),
      ),
    )
    .option('--port <port>', 'HTTPS port of the agent', (v) => Number.parseInt(v, 10), 4643)
    .option(
      '--messages <n>',
      'messages to generate on first start',
      (v) => Number.parseInt(v, 10),
      600,
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync demo            # then open https://localhost:4643/\n' +
        '  storesync demo --port 5443 --messages 2000\n' +
        '  storesync demo --data-dir /tmp/storesync-demo   # a throw-away demo',
    )
    .action(async (opts: { dataDir: string; port: number; messages: number }) => {
      const { runDemo } = await import('./commands/demo-command.js');
      setExit(
        await runDemo({
          dataDir: path.resolve(opts.dataDir),
          port: opts.port,
          messages: opts.messages,
        }),
      );
    });

  const only =
    commandName !== undefined &&
    (OWN_COMMANDS.has(commandName) || commandName in REGISTERED_COMMANDS)
      ? commandName
      : undefined;
  for (const [name, register] of Object.entries(REGISTERED_COMMANDS)) {
    if (only === undefined || only === name) await register(program, setExit);
  }
  if (only === undefined) await AGENT_COMMANDS(program, readConfig, setExit);
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  // The first word that is not an option names the command (argv: node, script, …).
  const commandName = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const program = await buildProgram((code) => {
    exitCode = code;
  }, commandName);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return EXIT_OK;
      if (err.code === 'storesync.usage') process.stderr.write(`storesync: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`storesync: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`storesync: ${err.message}\n`);
      return EXIT_FAILED;
    }
    throw err;
  }
}
