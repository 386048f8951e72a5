/**
 * Linux: a systemd user unit, started with the user's session manager at login
 * (WantedBy=default.target) and restarted if it fails, except for a bad config (exit 2),
 * which a restart cannot fix.
 */
import os from 'node:os';
import path from 'node:path';
import {
  agentArguments,
  assertSingleLine,
  SERVICE_DESCRIPTION,
  SERVICE_NAME,
} from './service-spec.js';
import type { ServiceSpec } from './service-spec.js';

export const SYSTEMD_UNIT = `${SERVICE_NAME}.service`;

/** ~/.config/systemd/user/storesync.service (XDG_CONFIG_HOME honoured, as systemd does). */
export function systemdUnitPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'systemd', 'user', SYSTEMD_UNIT);
}

export function systemdUnit(spec: ServiceSpec): string {
  const command = [spec.node, ...agentArguments(spec)];
  command.forEach((arg) => assertSingleLine('a path of the service command', arg));
  const environment = Object.entries(spec.environment).map(([name, value]) => {
    assertSingleLine(name, value);
    return `Environment=${quote(`${name}=${value}`, { dollar: false })}`;
  });
  return [
    '# Written by `storesync service install`; `storesync service uninstall` removes it.',
    '[Unit]',
    `Description=${SERVICE_DESCRIPTION}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${command.map((arg) => quote(arg, { dollar: true })).join(' ')}`,
    // The agent re-reads its config on SIGHUP: `systemctl --user reload storesync`.
    'ExecReload=/bin/kill -HUP $MAINPID',
    ...environment,
    'Restart=on-failure',
    'RestartSec=10',
    // Exit code 2 is a bad config or usage: restarting would only fail again.
    'RestartPreventExitStatus=2',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/**
 * One word of a unit file, double-quoted: backslash and quote escaped (C-style, as systemd
 * reads them), `%` doubled (a specifier otherwise) and, in a command line, `$` doubled (a
 * variable otherwise).
 */
function quote(word: string, options: { dollar: boolean }): string {
  let escaped = word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
  if (options.dollar) escaped = escaped.replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}
