/**
 * Installs, removes and inspects the per-user service on this machine's service manager:
 * systemd (Linux), launchd (macOS), Task Scheduler (Windows). Each step says what it did, or
 * what failed and the command to finish by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchdOutputPath, launchdPlist, launchdPlistPath } from './launchd-plist.js';
import { runTool, type ToolResult } from './run-tool.js';
import { LAUNCHD_LABEL, TASK_NAME, type ServiceSpec } from './service-spec.js';
import { SYSTEMD_UNIT, systemdUnit, systemdUnitPath } from './systemd-unit.js';
import { taskFileBytes, taskSchedulerXml, windowsUserId } from './task-scheduler.js';

export type ServicePlatform = 'linux' | 'darwin' | 'win32';

export interface ServiceStep {
  ok: boolean;
  text: string;
}

export interface ServiceState {
  platform: ServicePlatform;
  /** "systemd user unit", "launchd agent", "Task Scheduler task". */
  kind: string;
  /** The unit or plist file, or the task's name. */
  location: string;
  installed: boolean;
  /** Whether the service manager runs it now; null when it could not be asked. */
  running: boolean | null;
  /** What the service manager said. */
  detail: string;
}

export function servicePlatform(platform: NodeJS.Platform = process.platform): ServicePlatform {
  if (platform === 'linux' || platform === 'darwin' || platform === 'win32') return platform;
  throw new Error(`storesync service does not support ${platform} (Linux, macOS and Windows only)`);
}

/** The service definition for a platform, as `service install --print` shows it. */
export function renderService(spec: ServiceSpec, platform: ServicePlatform): string {
  if (platform === 'linux') return systemdUnit(spec);
  if (platform === 'darwin') return launchdPlist(spec);
  return taskSchedulerXml(spec, windowsUserId());
}

/** The file's bytes as the service manager reads them (Task Scheduler: UTF-16). */
export function serviceFileBytes(spec: ServiceSpec, platform: ServicePlatform): Buffer {
  const text = renderService(spec, platform);
  return platform === 'win32' ? taskFileBytes(text) : Buffer.from(text, 'utf8');
}

export function installService(spec: ServiceSpec, platform = servicePlatform()): ServiceStep[] {
  if (platform === 'linux') {
    const file = systemdUnitPath();
    writeFile(file, systemdUnit(spec));
    return [
      { ok: true, text: `wrote ${file}` },
      ...chain(
        [
          ['systemctl', ['--user', 'daemon-reload']],
          ['systemctl', ['--user', 'enable', '--now', SYSTEMD_UNIT]],
        ],
        'no systemd user manager answered; in a desktop session (or after `loginctl enable-linger`) run: systemctl --user enable --now ' +
          SYSTEMD_UNIT,
      ),
    ];
  }
  if (platform === 'darwin') {
    const file = launchdPlistPath();
    fs.mkdirSync(path.dirname(launchdOutputPath()), { recursive: true });
    writeFile(file, launchdPlist(spec));
    // A previous version of the agent may be loaded: unload it first (failing is fine).
    runTool('launchctl', ['bootout', `${launchdDomain()}/${LAUNCHD_LABEL}`]);
    return [
      { ok: true, text: `wrote ${file}` },
      ...chain(
        [['launchctl', ['bootstrap', launchdDomain(), file]]],
        `run: launchctl bootstrap ${launchdDomain()} "${file}"`,
      ),
    ];
  }
  const xmlFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-task-')), 'task.xml');
  try {
    fs.writeFileSync(xmlFile, taskFileBytes(taskSchedulerXml(spec, windowsUserId())));
    return chain(
      [
        ['schtasks', ['/Create', '/TN', TASK_NAME, '/XML', xmlFile, '/F']],
        ['schtasks', ['/Run', '/TN', TASK_NAME]],
      ],
      `the task could not be registered or started; see Task Scheduler, task "${TASK_NAME}"`,
    );
  } finally {
    fs.rmSync(path.dirname(xmlFile), { recursive: true, force: true });
  }
}

export function uninstallService(platform = servicePlatform()): ServiceStep[] {
  if (platform === 'linux') {
    const file = systemdUnitPath();
    const steps: ServiceStep[] = [];
    if (fs.existsSync(file)) {
      const disable = runTool('systemctl', ['--user', 'disable', '--now', SYSTEMD_UNIT]);
      steps.push(describe(disable, 'the unit may still be running until you log out'));
      fs.rmSync(file, { force: true });
      steps.push({ ok: true, text: `removed ${file}` });
      const reload = runTool('systemctl', ['--user', 'daemon-reload']);
      if (reload.ok) steps.push(describe(reload, ''));
    } else {
      steps.push({ ok: true, text: `no unit at ${file}: nothing to remove` });
    }
    return steps;
  }
  if (platform === 'darwin') {
    const file = launchdPlistPath();
    const bootout = runTool('launchctl', ['bootout', `${launchdDomain()}/${LAUNCHD_LABEL}`]);
    const steps: ServiceStep[] = [
      bootout.ok
        ? { ok: true, text: `stopped and unloaded ${LAUNCHD_LABEL}` }
        : { ok: true, text: `${LAUNCHD_LABEL} was not loaded` },
    ];
    if (fs.existsSync(file)) {
      fs.rmSync(file, { force: true });
      steps.push({ ok: true, text: `removed ${file}` });
    }
    return steps;
  }
  runTool('schtasks', ['/End', '/TN', TASK_NAME]);
  const removed = runTool('schtasks', ['/Delete', '/TN', TASK_NAME, '/F']);
  return [
    removed.ok
      ? { ok: true, text: `removed the Task Scheduler task "${TASK_NAME}"` }
      : { ok: true, text: `no Task Scheduler task "${TASK_NAME}": nothing to remove` },
  ];
}

export function serviceState(platform = servicePlatform()): ServiceState {
  if (platform === 'linux') {
    const file = systemdUnitPath();
    const active = runTool('systemctl', ['--user', 'is-active', SYSTEMD_UNIT]);
    const enabled = runTool('systemctl', ['--user', 'is-enabled', SYSTEMD_UNIT]);
    // is-active prints its verdict on stdout even when it exits non-zero.
    const reachable = ['active', 'inactive', 'failed', 'activating', 'deactivating'].some((s) =>
      active.output.startsWith(s),
    );
    return {
      platform,
      kind: 'systemd user unit',
      location: file,
      installed: fs.existsSync(file),
      running: reachable ? active.ok : null,
      detail: reachable
        ? `${active.output}, ${enabled.output || 'not enabled'}`
        : `systemd user manager not reachable: ${active.output}`,
    };
  }
  if (platform === 'darwin') {
    const file = launchdPlistPath();
    const printed = runTool('launchctl', ['print', `${launchdDomain()}/${LAUNCHD_LABEL}`]);
    const state = /^\s*state = (.+)$/m.exec(printed.output)?.[1];
    return {
      platform,
      kind: 'launchd agent',
      location: file,
      installed: fs.existsSync(file),
      running: printed.ok ? state === 'running' : false,
      detail: printed.ok ? `loaded, ${state ?? 'state unknown'}` : 'not loaded',
    };
  }
  const query = runTool('schtasks', ['/Query', '/TN', TASK_NAME, '/FO', 'LIST']);
  const status = /^Status:\s*(.+)$/m.exec(query.output)?.[1]?.trim();
  return {
    platform,
    kind: 'Task Scheduler task',
    location: TASK_NAME,
    installed: query.ok,
    running: query.ok ? (status ? status === 'Running' : null) : false,
    detail: query.ok ? (status ?? query.output.split('\n')[0] ?? '') : 'not registered',
  };
}

function launchdDomain(): string {
  return `gui/${os.userInfo().uid}`;
}

function writeFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o644 });
}

/** Runs the commands in order; the first failure ends the chain with what to do by hand. */
function chain(commands: Array<[string, string[]]>, remedy: string): ServiceStep[] {
  const steps: ServiceStep[] = [];
  for (const [command, args] of commands) {
    const result = runTool(command, args);
    steps.push(describe(result, remedy));
    if (!result.ok) break;
  }
  return steps;
}

function describe(result: ToolResult, remedy: string): ServiceStep {
  if (result.ok) return { ok: true, text: `ran ${result.command}` };
  const said = result.output.split('\n')[0] || 'no output';
  return { ok: false, text: `${result.command} failed (${said})${remedy ? ` — ${remedy}` : ''}` };
}
