/**
 * `storesync sync`: its options, help and flags, defined once for both ways the command
 * runs: the CLI (cli.ts) and, beside a running agent, the quick way in (sync-fast-path.ts),
 * which must read a command line exactly as the CLI would.
 */
import type { Command } from 'commander';
import type { SyncFlags } from '../protocol/index.js';

export interface SyncCliOptions {
  config?: string;
  once?: boolean;
  account?: string;
  folder?: string[];
  json?: boolean;
  events?: boolean;
  uploadHierarchy?: boolean;
  downloadHierarchy?: boolean;
  uploadContents?: boolean;
  downloadContents?: boolean;
  headersOnly?: boolean;
}

/** MAPISIB flags from the command line: no direction named means all four. */
export function syncFlagsOf(opts: SyncCliOptions): SyncFlags {
  const directions = {
    uploadHierarchy: opts.uploadHierarchy === true,
    downloadHierarchy: opts.downloadHierarchy === true,
    uploadContents: opts.uploadContents === true,
    downloadContents: opts.downloadContents === true,
  };
  const none = !Object.values(directions).some(Boolean);
  return {
    ...(none
      ? {
          uploadHierarchy: true,
          downloadHierarchy: true,
          uploadContents: true,
          downloadContents: true,
        }
      : directions),
    headersOnly: opts.headersOnly === true,
    onDemand: false,
  };
}

/** Why options read from the command line cannot run, or null when they can. */
export function syncUsageProblem(opts: SyncCliOptions): string | null {
  if (!opts.once)
    return 'continuous sync runs in the agent (`storesync start`); pass --once for a single pass';
  if (opts.json && opts.events) return '--json and --events exclude each other';
  return null;
}

/** Adds `sync` with its options and help to `program`; the caller gives its action. */
export function addSyncCommand(program: Command): Command {
  return program
    .command('sync')
    .description('Synchronise the configured accounts once, in the foreground')
    .option('-c, --config <file>', 'config file', undefined)
    .option('--once', 'run a single pass and exit')
    .option('--account <id>', 'only this account')
    .option('--folder <name...>', 'only these folders ("Archive/2024"; repeatable)')
    .option('--upload-hierarchy', 'create/delete folders on the server')
    .option('--download-hierarchy', 'create/delete local folders')
    .option('--upload-contents', 'push local messages, flags and deletions')
    .option('--download-contents', 'pull messages, flags and expunges')
    .option('--headers-only', 'store header blocks only; bodies on demand')
    .option('--json', 'print one JSON summary line instead of progress')
    .option('--events', 'print every sync event as a JSON line (NDJSON) instead of progress')
    .addHelpText(
      'after',
      '\nWith no direction flag, all four directions run. While the agent runs for the same\n' +
        "dataDir, the pass is the agent's: this command asks for it and shows it.\n" +
        '\nExamples:\n  storesync sync --config ~/.config/storesync/config.json --once\n' +
        '  storesync sync --once --json --account work --folder INBOX --download-contents\n' +
        '  storesync sync --once --events | jq -c \'select(.type == "error")\'',
    );
}
