/**
 * `storesync logs`: the agent's log for a person (or, with --json, for a script), from all
 * rotated files in order, optionally limited to one sync run or a minimum level, and with
 * --follow kept open across rotations until Ctrl-C.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { logDirectory } from '../logs/log-files.js';
import { LogFollower } from '../logs/log-follower.js';
import {
  formatLogRecord,
  LEVEL_CHOICES,
  type LogFilter,
  matchesFilter,
  parseLogLine,
} from '../logs/log-format.js';
import { loadConfigForDiagnostics } from './diagnostics-config.js';

const POLL_INTERVAL_MS = 300;
const DEFAULT_LINES = 100;

export interface LogsOptions extends LogFilter {
  /** Last lines printed before following; Infinity for all. */
  lines: number;
  follow: boolean;
  json: boolean;
}

export interface LineSink {
  write(text: string): unknown;
}

/** Prints the log; with `follow`, keeps printing until `stop` is aborted. */
export async function runLogs(
  dataDir: string,
  options: LogsOptions,
  out: LineSink = process.stdout,
  stop?: AbortSignal,
): Promise<number> {
  const follower = new LogFollower(logDirectory(dataDir));
  const render = (line: string): string | null => {
    const record = parseLogLine(line);
    if (!matchesFilter(record, options)) return null;
    return options.json || !record ? line : formatLogRecord(record);
  };
  const shown = (await follower.poll()).map(render).filter((l): l is string => l !== null);
  const start = Number.isFinite(options.lines) ? Math.max(0, shown.length - options.lines) : 0;
  for (const line of shown.slice(start)) out.write(line + '\n');
  if (!options.follow) return 0;
  while (!stop?.aborted) {
    await sleep(POLL_INTERVAL_MS, stop);
    for (const line of await follower.poll()) {
      const text = render(line);
      if (text !== null) out.write(text + '\n');
    }
  }
  return 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function parseLines(value: string): number {
  if (value === 'all') return Infinity;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidArgumentError('must be a whole number or "all"');
  }
  return n;
}

export function registerLogsCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('logs')
    .description("Print the agent's log (all rotated files, oldest first)")
    .option('-c, --config <file>', 'config file (for its data directory)')
    .option('-f, --follow', 'keep printing new lines, across rotations, until Ctrl-C')
    .option(
      '-n, --lines <n>',
      `last N lines (default ${DEFAULT_LINES}; "all" for every line)`,
      parseLines,
    )
    .option('--sync <id>', 'only lines of this sync run (its id, or the first characters shown)')
    .addOption(new Option('--level <level>', 'only this level and above').choices(LEVEL_CHOICES))
    .option('--json', 'the raw JSON lines instead of the readable form')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync logs --lines 50\n  storesync logs --sync 1b9d6bcd --level warn\n' +
        '  storesync logs --follow --json | jq .msg',
    )
    .action(
      async (opts: {
        config?: string;
        follow?: boolean;
        lines?: number;
        sync?: string;
        level?: string;
        json?: boolean;
      }) => {
        const { dataDir, problem } = loadConfigForDiagnostics(opts.config);
        if (problem) process.stderr.write(`storesync: warning: ${problem}\n`);
        // Ctrl-C ends --follow normally; a closed pipe (`| head`) ends any output quietly.
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        process.stdout.on('error', onSignal);
        try {
          setExit(
            await runLogs(
              dataDir,
              {
                lines: opts.lines ?? DEFAULT_LINES,
                follow: opts.follow === true,
                json: opts.json === true,
                syncId: opts.sync,
                level: opts.level,
              },
              { write: (text) => !stop.signal.aborted && process.stdout.write(text) },
              stop.signal,
            ),
          );
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          process.stdout.off('error', onSignal);
        }
      },
    );
}
