/**
 * `storesync service` as users run it (the built CLI). Nothing here installs a service on the
 * machine running the tests: the unit directory is a temporary XDG_CONFIG_HOME, and only the
 * paths that change nothing (print, refuse, status, uninstall of nothing) are run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentServiceSpec } from '../../agent/src/service/service-spec.js';
import { systemdUnit } from '../../agent/src/service/systemd-unit.js';
import { runCli } from '../support/storesync-process.js';

describe('storesync service', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let config: string;
  const unitFile = () => path.join(dir, 'xdg-config', 'systemd', 'user', 'storesync.service');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-service-cli-'));
    env = {
      XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
      XDG_DATA_HOME: path.join(dir, 'xdg-data'),
      STORESYNC_POLICY_FILE: path.join(dir, 'no-policy.json'),
    };
    config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ dataDir: path.join(dir, 'data') }));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('install --print writes the unit it would install, for this node, script and config', async () => {
    const result = await runCli(
      ['service', 'install', '--config', config, '--print', '--platform', 'linux'],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      systemdUnit(currentServiceSpec(config, { ...process.env, ...env })),
    );
    assert.ok(result.stdout.includes(`"--config" "${config}"`));
    assert.ok(!fs.existsSync(unitFile()), 'printing installed something');
  });

  it('install --print --platform win32 is the UTF-16 file schtasks reads', async () => {
    const result = await runCli(
      ['service', 'install', '--config', config, '--print', '--platform', 'win32'],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    // runCli decodes stdout as UTF-8: the BOM and UTF-16 code units show up as such.
    assert.ok(result.stdout.startsWith('\ufffd\ufffd<\u0000?\u0000x\u0000m\u0000l\u0000'));
  });

  it('install refuses a config the agent could not start with, and installs nothing', async () => {
    fs.writeFileSync(config, JSON.stringify({ server: { port: 'high' } }));
    const result = await runCli(['service', 'install', '--config', config], env);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(`${config}: server.port:`), result.stderr);
    assert.ok(!fs.existsSync(unitFile()));
  });

  it('status says "not installed" (exit 1); uninstall of nothing is fine (exit 0)', async () => {
    const status = await runCli(['service', 'status', '--config', config], env);
    assert.equal(status.code, 1);
    assert.ok(status.stdout.includes(`systemd user unit ${unitFile()}: not installed`));
    assert.ok(status.stdout.includes(`Agent: not running for ${path.join(dir, 'data')}`));
    const json = await runCli(['service', 'status', '--config', config, '--json'], env);
    const parsed = JSON.parse(json.stdout) as { service: { installed: boolean } };
    assert.equal(parsed.service.installed, false);

    const uninstall = await runCli(['service', 'uninstall'], env);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    assert.ok(uninstall.stdout.includes(`no unit at ${unitFile()}: nothing to remove`));
  });
});
