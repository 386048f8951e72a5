/**
 * What the per-user service runs: this Node.js, this package's `storesync` script, `start`
 * with an absolute config path. Paths are taken at install time, so the service keeps
 * working from any directory and after the shell that installed it is gone.
 */
import path from 'node:path';
import { NODE_ENVIRONMENT, NODE_FLAGS } from '../launch-settings.js';
import { PACKAGE_ROOT } from '../package-info.js';

/** The name the service goes by in each service manager. */
export const SERVICE_NAME = 'storesync';
export const LAUNCHD_LABEL = 'org.storesync.agent';
export const TASK_NAME = 'StoreSync';
export const SERVICE_DESCRIPTION =
  'StoreSync agent: keeps IMAP accounts in sync with a local Maildir and serves the Outlook task pane';

export interface ServiceSpec {
  /** The Node.js executable. */
  node: string;
  /** bin/storesync.js of this installation. */
  script: string;
  /** The absolute config file the agent reads. */
  configFile: string;
  /**
   * StoreSync's memory settings (launch-settings.ts) and the variables the agent needs as in
   * the installing shell: PATH (password and token commands find the same programs),
   * XDG_DATA_HOME (the same default data directory) and NODE_EXTRA_CA_CERTS (a company CA
   * that IMAP connections must trust).
   */
  environment: Record<string, string>;
}

/** The arguments after the Node.js executable: StoreSync's Node options, then the script. */
export function agentArguments(spec: ServiceSpec): string[] {
  return [...NODE_FLAGS, spec.script, 'start', '--config', spec.configFile];
}

export function currentServiceSpec(
  configFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ServiceSpec {
  const environment: Record<string, string> = { ...NODE_ENVIRONMENT };
  for (const name of ['PATH', 'XDG_DATA_HOME', 'NODE_EXTRA_CA_CERTS']) {
    const value = env[name];
    if (value) environment[name] = value;
  }
  return {
    node: process.execPath,
    script: path.join(PACKAGE_ROOT, 'bin', 'storesync.js'),
    configFile: path.resolve(configFile),
    environment,
  };
}

/** A service file must not be bent by a line break smuggled into a path or a variable. */
export function assertSingleLine(field: string, value: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw new Error(`${field} contains a line break or NUL, which a service file cannot carry`);
  }
}
