/** `storesync config show` as users run it (the built CLI), under an admin policy. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/storesync-process.js';

describe('storesync config show', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-config-show-'));
    env = {
      STORESYNC_POLICY_FILE: path.join(dir, 'policy.json'),
      XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
      XDG_DATA_HOME: path.join(dir, 'xdg-data'),
      STORESYNC_LOG_LEVEL: '',
    };
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        log: { level: 'debug' },
        accounts: [
          {
            id: 'work',
            imap: {
              host: 'imap.example.com',
              user: 'me',
              password: { command: 'echo s3cret-pw' },
            },
            maildir: 'Mail/work',
          },
        ],
      }),
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints each value with its origin and the locked value the user set differently', async () => {
    fs.writeFileSync(
      path.join(dir, 'policy.json'),
      JSON.stringify({ log: { level: 'warn' }, sync: { headersOnly: true } }),
    );
    const config = path.join(dir, 'config.json');
    const json = await runCli(['config', 'show', '--config', config, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as {
      configFile: string;
      policyFile: string;
      policyApplied: boolean;
      values: Array<{ key: string; value: string; origin: string }>;
      warnings: string[];
    };
    assert.equal(report.configFile, config);
    assert.equal(report.policyApplied, true);
    const row = (key: string) => report.values.find((r) => r.key === key);
    assert.deepEqual(row('log.level'), { key: 'log.level', value: '"warn"', origin: 'policy' });
    assert.equal(row('accounts[0].headersOnly')?.origin, 'policy');
    assert.equal(row('accounts[0].imap.host')?.origin, 'user file');
    assert.equal(row('server.port')?.origin, 'default');
    assert.equal(row('accounts[0].imap.password')?.value, '"(from command)"');
    assert.deepEqual(report.warnings, [
      `${config}: log.level: "debug" is locked to "warn" by the policy ${env.STORESYNC_POLICY_FILE} (log.level); using "warn"`,
    ]);

    const text = await runCli(['config', 'show', '--config', config], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^log\.level +"warn" +policy$/m);
    assert.match(text.stdout, /is locked to "warn" by the policy/);
    assert.ok(!text.stdout.includes('s3cret') && !json.stdout.includes('s3cret'));
  });

  it('with no policy, says where it looked; a config the policy refuses exits 2 naming both', async () => {
    const config = path.join(dir, 'config.json');
    const free = await runCli(['config', 'show', '--config', config], env);
    assert.equal(free.code, 0, free.stderr);
    assert.ok(free.stdout.includes(`Admin policy: ${env.STORESYNC_POLICY_FILE} (none there)`));
    assert.match(free.stdout, /^log\.level +"debug" +user file$/m);

    fs.writeFileSync(
      path.join(dir, 'policy.json'),
      JSON.stringify({ imap: { allowedHosts: ['*.corp.example'] } }),
    );
    const refused = await runCli(['config', 'show', '--config', config], env);
    assert.equal(refused.code, 2);
    assert.ok(
      refused.stderr.includes(
        `accounts[0].imap.host: "imap.example.com" is not allowed by the policy ${env.STORESYNC_POLICY_FILE} (imap.allowedHosts)`,
      ),
      refused.stderr,
    );
  });
});
