/**
 * `storesync cert install | uninstall | path`: puts the agent's local CA into the trust stores
 * the browsers (and so Outlook's web views) read, so https://localhost is trusted without a
 * warning. Every step prints what it did or why it did nothing.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../config/load.js';
import { ensureTlsIdentity } from '../server/certificate.js';
import {
  readLocalCa,
  trustStoreFor,
  type LocalCa,
  type StepStatus,
  type TrustStep,
} from '../server/trust-store/index.js';
import { loadConfigOrDefaults } from './command-config.js';

const MARK: Record<StepStatus, string> = { done: '✔', unchanged: '✔', skipped: '–', failed: '✖' };

export function formatStep(step: TrustStep): string {
  return `${MARK[step.status]} ${step.store}: ${step.message}`;
}

function caFileOf(config: AgentConfig): string {
  return path.join(config.dataDir, 'tls', 'ca.pem');
}

/** The CA, created now if the agent never ran (the same code the agent runs at first start). */
async function ensureCa(config: AgentConfig): Promise<LocalCa> {
  const identity = await ensureTlsIdentity(config.dataDir);
  return readLocalCa(identity.caFile);
}

function report(steps: TrustStep[], out: (line: string) => void): number {
  for (const step of steps) out(formatStep(step));
  return steps.some((s) => s.status === 'failed') ? 1 : 0;
}

export async function runCertInstall(
  config: AgentConfig,
  options: { system: boolean },
  out: (line: string) => void,
): Promise<number> {
  const ca = await ensureCa(config);
  out(`${ca.nickname}: ${ca.file}`);
  const steps = await trustStoreFor().install(ca, { system: options.system });
  const code = report(steps, out);
  if (steps.some((s) => s.status === 'done')) {
    out('Restart the browser (and Outlook) so it reads the trust store again.');
  }
  return code;
}

export async function runCertUninstall(
  config: AgentConfig,
  options: { system: boolean; all: boolean },
  out: (line: string) => void,
): Promise<number> {
  const file = caFileOf(config);
  // No CA file (the data dir was removed): its fingerprint is unknown, so remove every one.
  const ca = existsSync(file) ? await readLocalCa(file) : null;
  if (!ca) out(`No CA at ${file}: removing every StoreSync CA found.`);
  else if (options.all) out('Removing every StoreSync CA found.');
  else out(`${ca.nickname}: ${ca.file}`);
  return report(await trustStoreFor().uninstall(ca, options), out);
}

const say = (line: string) => process.stdout.write(line + '\n');

export function registerCertCommand(program: Command, setExit: (code: number) => void): void {
  const cert = program
    .command('cert')
    .description("Trust the agent's local certificate authority, so Outlook trusts the pane")
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync cert install                 # user stores; also the system store as root\n' +
        '  storesync cert install --config ~/.local/share/storesync-demo/config.json\n' +
        '  storesync cert uninstall --all',
    );

  cert
    .command('install')
    .description(
      'Add the local CA to the trust stores browsers read (created first if the agent never ran)',
    )
    .option('-c, --config <file>', 'config file (its dataDir holds the CA)')
    .option('--no-system', 'leave the machine-wide store alone (Linux)')
    .addHelpText(
      'after',
      '\nLinux: ~/.pki/nssdb (Chromium, Chrome, Edge), Firefox profiles, and\n' +
        '/usr/local/share/ca-certificates when writable. macOS: the login keychain.\n' +
        'Windows: the user Trusted Root store. Needs certutil on Linux (libnss3-tools).\n' +
        '\nExamples:\n' +
        '  storesync cert install\n' +
        '  storesync cert install --config ~/.config/storesync/config.json --no-system\n' +
        '  sudo storesync cert install             # also the system store',
    )
    .action(async (opts: { config?: string; system: boolean }) => {
      setExit(await runCertInstall(loadConfigOrDefaults(opts.config), opts, say));
    });

  cert
    .command('uninstall')
    .description('Remove the local CA from those trust stores (nothing there is not an error)')
    .option('-c, --config <file>', 'config file (its dataDir holds the CA)')
    .option('--no-system', 'leave the machine-wide store alone (Linux)')
    .option('--all', 'remove every StoreSync CA, not only this data dir’s')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync cert uninstall\n' +
        '  storesync cert uninstall --config ~/.config/storesync/config.json\n' +
        '  storesync cert uninstall --all --no-system',
    )
    .action(async (opts: { config?: string; system: boolean; all?: boolean }) => {
      setExit(
        await runCertUninstall(
          loadConfigOrDefaults(opts.config),
          { system: opts.system, all: opts.all === true },
          say,
        ),
      );
    });

  cert
    .command('path')
    .description("Print the local CA's file (created first if the agent never ran)")
    .option('-c, --config <file>', 'config file (its dataDir holds the CA)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync cert path\n' +
        '  openssl x509 -noout -subject -enddate -in "$(storesync cert path)"',
    )
    .action(async (opts: { config?: string }) => {
      say((await ensureCa(loadConfigOrDefaults(opts.config))).file);
    });
}
