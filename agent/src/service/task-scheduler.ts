/**
 * Windows: a Task Scheduler task that starts the agent when the user logs on, as that user
 * with the least privileges, with no time limit, restarted (three times, a minute apart) if it
 * fails. schtasks /Create /XML reads it.
 */
import os from 'node:os';
import {
  agentArguments,
  SERVICE_DESCRIPTION,
  TASK_NAME,
  type ServiceSpec,
} from './service-spec.js';
import { xmlText } from './xml-text.js';

/** DOMAIN\user as Task Scheduler names the account (the user name alone off a domain). */
export function windowsUserId(env: NodeJS.ProcessEnv = process.env): string {
  const user = env.USERNAME || os.userInfo().username;
  return env.USERDOMAIN ? `${env.USERDOMAIN}\\${user}` : user;
}

export function taskSchedulerXml(spec: ServiceSpec, userId: string): string {
  const text = xmlText;
  return [
    // schtasks wants UTF-16 (the file is written so, with its byte-order mark).
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<!-- Written by `storesync service install`; `storesync service uninstall` removes the task. -->',
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    '  <RegistrationInfo>',
    `    <Description>${text(SERVICE_DESCRIPTION)}</Description>`,
    `    <URI>\\${text(TASK_NAME)}</URI>`,
    '  </RegistrationInfo>',
    '  <Triggers>',
    '    <LogonTrigger>',
    '      <Enabled>true</Enabled>',
    `      <UserId>${text(userId)}</UserId>`,
    '    </LogonTrigger>',
    '  </Triggers>',
    '  <Principals>',
    '    <Principal id="Author">',
    `      <UserId>${text(userId)}</UserId>`,
    '      <LogonType>InteractiveToken</LogonType>',
    '      <RunLevel>LeastPrivilege</RunLevel>',
    '    </Principal>',
    '  </Principals>',
    '  <Settings>',
    '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>',
    '    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>',
    '    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>',
    '    <AllowHardTerminate>true</AllowHardTerminate>',
    '    <StartWhenAvailable>true</StartWhenAvailable>',
    '    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>',
    '    <IdleSettings>',
    '      <StopOnIdleEnd>false</StopOnIdleEnd>',
    '      <RestartOnIdle>false</RestartOnIdle>',
    '    </IdleSettings>',
    '    <AllowStartOnDemand>true</AllowStartOnDemand>',
    '    <Enabled>true</Enabled>',
    '    <Hidden>false</Hidden>',
    '    <RunOnlyIfIdle>false</RunOnlyIfIdle>',
    // PT0S: no time limit (the default would stop the agent after three days).
    '    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>',
    '    <Priority>7</Priority>',
    '    <RestartOnFailure>',
    '      <Interval>PT1M</Interval>',
    '      <Count>3</Count>',
    '    </RestartOnFailure>',
    '  </Settings>',
    '  <Actions Context="Author">',
    '    <Exec>',
    `      <Command>${text(spec.node)}</Command>`,
    `      <Arguments>${text(agentArguments(spec).map(windowsArgument).join(' '))}</Arguments>`,
    '    </Exec>',
    '  </Actions>',
    '</Task>',
    '',
  ].join('\r\n');
}

/** One argument as CommandLineToArgvW (and so Node.js on Windows) splits it back. */
export function windowsArgument(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  // Backslashes are literal except before a quote, where they (and the quote) are escaped.
  const escaped = arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, '$1$1');
  return `"${escaped}"`;
}

/** The file schtasks reads: UTF-16 little-endian with a byte-order mark. */
export function taskFileBytes(xml: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
}
