/**
 * `storesync config show`: the config every command uses, after defaults, renamed keys and
 * the admin policy, with the origin of each value. Like `doctor`, it works before the user
 * has written a config (the defaults, and the policy, still apply).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { describeConfig, type ConfigRow } from '../config/describe.js';
import { loadConfigFile, parseConfig, type AgentConfig } from '../config/load.js';
import { policyFile } from '../config/policy.js';
import { defaultConfigPath } from './command-config.js';

export interface ConfigReport {
  configFile: string | null;
  /** The policy file looked for, and whether one was found and applied. */
  policyFile: string;
  policyApplied: boolean;
  values: ConfigRow[];
  warnings: string[];
  /** STORESYNC_LOG_LEVEL, which overrides log.level for a run, when set. */
  logLevelOverride: string | null;
}

export function configReport(file: string | undefined): ConfigReport {
  const chosen = file ?? defaultConfigPath();
  const quiet = { warn: () => undefined };
  const config: AgentConfig =
    file || existsSync(chosen) ? loadConfigFile(chosen, quiet) : parseConfig({}, null);
  return {
    configFile: config.file,
    policyFile: config.sources?.policy?.file ?? policyFile(),
    policyApplied: config.sources?.policy != null,
    values: describeConfig(config),
    warnings: config.sources?.warnings ?? [],
    logLevelOverride: process.env.STORESYNC_LOG_LEVEL || null,
  };
}

export function formatConfigReport(report: ConfigReport): string {
  const width = Math.max(...report.values.map((r) => r.key.length));
  const valueWidth = Math.min(60, Math.max(...report.values.map((r) => r.value.length)));
  const lines = [
    `Config file: ${report.configFile ?? 'none (the defaults apply)'}`,
    `Admin policy: ${report.policyFile}${report.policyApplied ? '' : ' (none there)'}`,
    '',
    ...report.values.map(
      (r) => `${r.key.padEnd(width)}  ${r.value.padEnd(valueWidth)}  ${r.origin}`,
    ),
  ];
  if (report.logLevelOverride) {
    lines.push(
      '',
      `STORESYNC_LOG_LEVEL=${report.logLevelOverride} overrides log.level for commands run with it.`,
    );
  }
  if (report.warnings.length > 0)
    lines.push('', 'Warnings:', ...report.warnings.map((w) => `  ${w}`));
  return lines.join('\n') + '\n';
}

export function registerConfigCommand(program: Command, setExit: (code: number) => void): void {
  const config = program
    .command('config')
    .description('Show the configuration in effect')
    .addHelpText(
      'after',
      '\nExamples:\n  storesync config show\n  storesync config show --json | jq \'.values[] | select(.origin == "policy")\'',
    );
  config
    .command('show')
    .description(
      'Print the effective config, each value with its origin: default, user file or policy (secrets are never shown)',
    )
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync config show\n' +
        '  storesync config show --config ~/.config/storesync/config.json\n' +
        '  storesync config show --json | jq -r \'.values[] | "\\(.key) \\(.origin)"\'',
    )
    .action((opts: { config?: string; json?: boolean }) => {
      const report = configReport(opts.config);
      process.stdout.write(
        opts.json ? JSON.stringify(report, null, 2) + '\n' : formatConfigReport(report),
      );
      setExit(0);
    });
}
