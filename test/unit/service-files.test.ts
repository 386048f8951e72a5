/**
 * The service files `storesync service install` writes: a systemd user unit (checked by
 * `systemd-analyze verify` where systemd is installed), a launchd plist and a Task Scheduler
 * task (both read back with xmllint, a real XML parser), with paths that need escaping.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchdPlist } from '../../agent/src/service/launchd-plist.js';
import type { ServiceSpec } from '../../agent/src/service/service-spec.js';
import { systemdUnit, systemdUnitPath } from '../../agent/src/service/systemd-unit.js';
import {
  taskFileBytes,
  taskSchedulerXml,
  windowsArgument,
} from '../../agent/src/service/task-scheduler.js';

/** Paths as awkward as real ones get: spaces, quotes, XML and systemd specials. */
const AWKWARD: ServiceSpec = {
  node: process.execPath,
  script: '/opt/Store Sync & Co/bin/storesync.js',
  configFile: '/home/o\'neil/50% "mail" <cfg>/$HOME.json',
  environment: { PATH: '/usr/local/bin:/usr/bin:/bin', XDG_DATA_HOME: '/home/x/100% data' },
};

function xpath(file: string, expression: string): string {
  const result = spawnSync('xmllint', ['--xpath', expression, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `xmllint: ${result.stderr}`);
  // string() results end with the newline xmllint prints after them.
  return result.stdout.replace(/\n$/, '');
}

function wellFormed(file: string): void {
  const result = spawnSync('xmllint', ['--noout', '--nonet', file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `not well-formed XML: ${result.stderr}`);
}

describe('service files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-service-files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('systemd user unit', () => {
    it('lives in the user unit directory, honouring XDG_CONFIG_HOME', () => {
      assert.equal(
        systemdUnitPath({ XDG_CONFIG_HOME: '/x/conf' }),
        '/x/conf/systemd/user/storesync.service',
      );
      assert.equal(
        systemdUnitPath({}),
        path.join(os.homedir(), '.config/systemd/user/storesync.service'),
      );
    });

    it('quotes every word of the command, doubling % (specifiers) and $ (variables)', () => {
      const unit = systemdUnit(AWKWARD);
      const execStart = unit.split('\n').find((l) => l.startsWith('ExecStart='));
      assert.equal(
        execStart,
        `ExecStart="${process.execPath}" "--max-semi-space-size=1" "--heap-growing-percent=50" "/opt/Store Sync & Co/bin/storesync.js" "start" "--config" ` +
          `"/home/o'neil/50%% \\"mail\\" <cfg>/$$HOME.json"`,
      );
      assert.ok(unit.includes('Environment="PATH=/usr/local/bin:/usr/bin:/bin"\n'));
      assert.ok(unit.includes('Environment="XDG_DATA_HOME=/home/x/100%% data"\n'));
      assert.match(unit, /^RestartPreventExitStatus=2$/m);
      assert.match(unit, /^WantedBy=default\.target$/m);
      assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    });

    it('refuses a path with a line break, which would add a line to the unit', () => {
      assert.throws(
        () => systemdUnit({ ...AWKWARD, configFile: '/tmp/a\nExecStartPre=/bin/evil' }),
        /line break/,
      );
    });

    it('passes systemd-analyze verify (where systemd is installed), which catches a bad unit', function () {
      const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
      // Not a skipped test: without systemd the checks above are what is verified (docs say so).
      if (probe.error) return;
      const verify = (unit: string) => {
        const file = path.join(dir, 'storesync.service');
        fs.writeFileSync(file, unit);
        const runtime = fs.mkdtempSync(path.join(dir, 'runtime-'));
        return spawnSync('systemd-analyze', ['verify', '--user', file], {
          encoding: 'utf8',
          env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_COLOR: '0' },
        });
      };
      const good = verify(systemdUnit(AWKWARD));
      assert.equal(good.status, 0, good.stderr);
      // systemd only warns about what it ignores: any output at all is a defect.
      assert.equal(good.stderr.trim() + good.stdout.trim(), '');
      const bad = verify(systemdUnit({ ...AWKWARD, node: path.join(dir, 'no-such-node') }));
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /is not executable/);
    });
  });

  describe('launchd agent', () => {
    it('is a well-formed plist whose arguments read back exactly', () => {
      const file = path.join(dir, 'org.storesync.agent.plist');
      fs.writeFileSync(file, launchdPlist(AWKWARD, '/Users/me'));
      wellFormed(file);
      assert.equal(
        xpath(file, 'string(/plist/dict/key[.="Label"]/following-sibling::string[1])'),
        'org.storesync.agent',
      );
      const args = xpath(file, '/plist/dict/key[.="ProgramArguments"]/following-sibling::array[1]')
        .replace(/<\/?array>/g, '')
        .split('</string>')
        .map((s) => s.replace(/^\s*<string>/, ''))
        .filter((s) => s.trim() !== '')
        .map((s) =>
          s
            .replace(/&lt;/g, '<')
            .replace(/&gt;/g, '>')
            .replace(/&quot;/g, '"')
            .replace(/&apos;/g, "'")
            .replace(/&amp;/g, '&'),
        );
      assert.deepEqual(args, [
        process.execPath,
        '--max-semi-space-size=1',
        '--heap-growing-percent=50',
        AWKWARD.script,
        'start',
        '--config',
        AWKWARD.configFile,
      ]);
      assert.equal(
        xpath(
          file,
          'string(/plist/dict/key[.="EnvironmentVariables"]/following-sibling::dict[1]/key[.="XDG_DATA_HOME"]/following-sibling::string[1])',
        ),
        '/home/x/100% data',
      );
      assert.equal(
        xpath(file, 'string(/plist/dict/key[.="StandardOutPath"]/following-sibling::string[1])'),
        '/Users/me/Library/Logs/StoreSync/agent-output.log',
      );
      assert.equal(
        xpath(file, 'count(/plist/dict/key[.="RunAtLoad"]/following-sibling::*[1][self::true])'),
        '1',
      );
    });
  });

  describe('Task Scheduler task', () => {
    const task = (name: string) => `/*[local-name()="Task"]${name}`;
    const el = (name: string) => `/*[local-name()="${name}"]`;

    it('is UTF-16 XML with a logon trigger for the user, no time limit, least privilege', () => {
      const file = path.join(dir, 'task.xml');
      const spec = { ...AWKWARD, node: 'C:\\Program Files\\nodejs\\node.exe' };
      const xml = taskSchedulerXml(spec, "CORP\\o'neil");
      const bytes = taskFileBytes(xml);
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe]);
      fs.writeFileSync(file, bytes);
      wellFormed(file);
      const value = (p: string) => xpath(file, `string(${task(p)})`);
      assert.equal(value(el('Triggers') + el('LogonTrigger') + el('UserId')), "CORP\\o'neil");
      assert.equal(value(el('Principals') + el('Principal') + el('RunLevel')), 'LeastPrivilege');
      assert.equal(value(el('Principals') + el('Principal') + el('LogonType')), 'InteractiveToken');
      assert.equal(value(el('Settings') + el('ExecutionTimeLimit')), 'PT0S');
      assert.equal(
        value(el('Actions') + el('Exec') + el('Command')),
        'C:\\Program Files\\nodejs\\node.exe',
      );
      assert.equal(
        value(el('Actions') + el('Exec') + el('Arguments')),
        `--max-semi-space-size=1 --heap-growing-percent=50 "/opt/Store Sync & Co/bin/storesync.js" start --config "/home/o'neil/50% \\"mail\\" <cfg>/$HOME.json"`,
      );
    });

    it('quotes arguments the way Windows splits them (CommandLineToArgvW)', () => {
      assert.equal(windowsArgument('start'), 'start');
      assert.equal(windowsArgument('C:\\a\\b.json'), 'C:\\a\\b.json');
      assert.equal(windowsArgument('C:\\Program Files\\x.js'), '"C:\\Program Files\\x.js"');
      assert.equal(windowsArgument('a"b'), '"a\\"b"');
      // Backslashes before a quote are doubled; a trailing run too, before the closing quote.
      assert.equal(windowsArgument('a\\"b'), '"a\\\\\\"b"');
      assert.equal(windowsArgument('C:\\dir with space\\'), '"C:\\dir with space\\\\"');
      assert.equal(windowsArgument(''), '""');
    });
  });
});
