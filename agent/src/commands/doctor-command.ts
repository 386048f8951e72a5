/**
 * `storesync doctor`: checks everything a working setup needs, and says for each problem what
 * to do. runDoctor is also what the support bundle includes, so it never prints or exits by
 * itself; the command formats its report.
 */
import type { Command } from 'commander';
import { ConfigError, type AgentConfig } from '../config/load.js';
import { checkAccount } from '../doctor/check-account.js';
import { checkCertificate } from '../doctor/check-certificate.js';
import { checkDataDir } from '../doctor/check-data-dir.js';
import { checkManifest } from '../doctor/check-manifest.js';
import { checkPort } from '../doctor/check-port.js';
import { checkTrust } from '../doctor/check-trust.js';
import { errorText, fail, ok, type DoctorCheck, type DoctorReport } from '../doctor/types.js';
import { loadConfigOrDefaults } from './command-config.js';

export type { CheckStatus, DoctorCheck, DoctorReport } from '../doctor/types.js';

function checkConfig(file: string | undefined): { config: AgentConfig | null; check: DoctorCheck } {
  try {
    const config = loadConfigOrDefaults(file);
    const where = config.file ?? 'no config file: the defaults';
    const accounts = config.accounts.length;
    return {
      config,
      check: accounts
        ? ok('config', `Config valid (${where}; ${accounts} account${accounts === 1 ? '' : 's'})`)
        : {
            id: 'config',
            status: 'warn',
            title: `Config valid but has no accounts (${where})`,
            hint: 'Add an account (see the README, Configuration), or try `storesync demo`.',
          },
    };
  } catch (err) {
    // A ConfigError already names the file and the field; several fields mean several lines.
    const [first = '', ...rest] = (err instanceof ConfigError ? err.message : errorText(err)).split(
      '\n',
    );
    return {
      config: null,
      check: fail(
        'config',
        `Config invalid: ${first}`,
        'Fix the field named, then run `storesync doctor` again (the README lists every field).',
        rest,
      ),
    };
  }
}

/** Runs every check; never throws for a broken setup (that is what it reports). */
export async function runDoctor(configFile?: string): Promise<DoctorReport> {
  const { config, check } = checkConfig(configFile);
  const checks: DoctorCheck[] = [check];
  if (config) {
    const dataDir = await checkDataDir(config.dataDir);
    checks.push(dataDir);
    const [accounts, rest] = await Promise.all([
      Promise.all(config.accounts.map((account) => checkAccount(account))),
      Promise.all([
        checkCertificate(config.dataDir),
        checkTrust(config.dataDir),
        checkPort(config),
        checkManifest(config.server.port),
      ]),
    ]);
    checks.push(...accounts.flat(), ...rest);
  }
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    configFile: config?.file ?? configFile ?? null,
    checks,
  };
}

const MARK = { ok: '✔', warn: '!', fail: '✖' } as const;

/** `✔ title`, `✖ title — hint`, details indented below. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.title}${check.hint ? ` — ${check.hint}` : ''}`);
    for (const detail of check.details ?? []) lines.push(`    ${detail}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  lines.push(
    failed === 0 ? '\nAll checks passed.' : `\n${failed} check${failed === 1 ? '' : 's'} failed.`,
  );
  return lines.join('\n') + '\n';
}

export function registerDoctorCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('doctor')
    .description(
      'Check the config, the IMAP servers, the certificate and Outlook setup, with fixes',
    )
    .option('-c, --config <file>', 'config file')
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      '\nExit code 0 when no check failed, 1 otherwise.\n' +
        '\nExamples:\n' +
        '  storesync doctor\n' +
        '  storesync doctor --config ~/.config/storesync/config.json\n' +
        '  storesync doctor --json | jq \'.checks[] | select(.status == "fail")\'',
    )
    .action(async (opts: { config?: string; json?: boolean }) => {
      const report = await runDoctor(opts.config);
      process.stdout.write(
        opts.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report),
      );
      setExit(report.ok ? 0 : 1);
    });
}
