/**
 * macOS: a launchd agent in ~/Library/LaunchAgents, loaded into the user's GUI session at
 * login (RunAtLoad) and kept alive while it fails; a clean exit (`storesync start` stopped by
 * a signal) is left alone.
 */
import os from 'node:os';
import path from 'node:path';
import { agentArguments, LAUNCHD_LABEL, type ServiceSpec } from './service-spec.js';
import { xmlText } from './xml-text.js';

export function launchdPlistPath(home: string = os.homedir()): string {
  return path.join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

/** Where launchd writes what the agent prints (its own log is in <dataDir>/logs). */
export function launchdOutputPath(home: string = os.homedir()): string {
  return path.join(home, 'Library', 'Logs', 'StoreSync', 'agent-output.log');
}

export function launchdPlist(spec: ServiceSpec, home: string = os.homedir()): string {
  const string = (value: string) => `<string>${xmlText(value)}</string>`;
  const output = launchdOutputPath(home);
  const environment = Object.entries(spec.environment);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!-- Written by `storesync service install`; `storesync service uninstall` removes it. -->',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>${string(LAUNCHD_LABEL)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...[spec.node, ...agentArguments(spec)].map((arg) => `    ${string(arg)}`),
    '  </array>',
    ...(environment.length > 0
      ? [
          '  <key>EnvironmentVariables</key>',
          '  <dict>',
          ...environment.map(([name, value]) => `    <key>${xmlText(name)}</key>${string(value)}`),
          '  </dict>',
        ]
      : []),
    '  <key>RunAtLoad</key><true/>',
    // Restart after a crash, not after a clean stop; a bad config (exit 2) is retried only
    // every ThrottleInterval seconds, so it cannot spin.
    '  <key>KeepAlive</key>',
    '  <dict><key>SuccessfulExit</key><false/></dict>',
    '  <key>ThrottleInterval</key><integer>30</integer>',
    `  <key>ProcessType</key>${string('Background')}`,
    `  <key>StandardOutPath</key>${string(output)}`,
    `  <key>StandardErrorPath</key>${string(output)}`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
