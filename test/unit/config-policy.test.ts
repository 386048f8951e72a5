/** The admin policy, renamed keys, and the effective config with the origin of each value. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeConfig } from '../../agent/src/config/describe.js';
import { ConfigError, loadConfigFile, parseConfig } from '../../agent/src/config/load.js';
import {
  defaultPolicyFile,
  hostMatches,
  loadPolicy,
  POLICY_FILE_ENV,
  policyFile,
} from '../../agent/src/config/policy.js';
import { applyRenamedKeys } from '../../agent/src/config/renamed-keys.js';

const account = (overrides: Record<string, unknown> = {}) => ({
  id: 'work',
  imap: { host: 'imap.example.com', user: 'me', password: { env: 'WORK_PW' } },
  // Each account its own, as the config requires.
  maildir: `mail/${typeof overrides.id === 'string' ? overrides.id : 'work'}`,
  ...overrides,
});

describe('admin policy', () => {
  let dir: string;
  let policyPath: string;
  let configPath: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-policy-'));
    policyPath = path.join(dir, 'policy.json');
    configPath = path.join(dir, 'config.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const writePolicy = (rules: unknown) => {
    fs.writeFileSync(policyPath, JSON.stringify(rules));
    return loadPolicy(policyPath)!;
  };

  it('lives where each platform keeps machine-wide settings, unless the variable names another', () => {
    assert.equal(defaultPolicyFile('linux', {}), '/etc/storesync/policy.json');
    assert.equal(
      defaultPolicyFile('darwin', {}),
      '/Library/Application Support/StoreSync/policy.json',
    );
    assert.equal(
      defaultPolicyFile('win32', { ProgramData: 'D:\\Data' }),
      'D:\\Data\\StoreSync\\policy.json',
    );
    assert.equal(defaultPolicyFile('win32', {}), 'C:\\ProgramData\\StoreSync\\policy.json');
    assert.equal(policyFile({ [POLICY_FILE_ENV]: policyPath }), policyPath);
    assert.equal(loadPolicy(path.join(dir, 'absent.json')), null);
  });

  it('rejects a broken policy, naming the file and the rule', () => {
    fs.writeFileSync(policyPath, '{"log": {"level": "loud"}, "server": {"allowRemote": true}}');
    assert.throws(
      () => loadPolicy(policyPath),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes(`${policyPath}: log.level: `) &&
        err.message.includes(`${policyPath}: server.allowRemote: can only be false`),
    );
    fs.writeFileSync(policyPath, '{"sync": ');
    assert.throws(() => loadPolicy(policyPath), /the admin policy is not valid JSON/);
    fs.writeFileSync(policyPath, '{"imap": {"allowedHost": ["x"]}}');
    assert.throws(() => loadPolicy(policyPath), /imap: Unrecognized key: "allowedHost"/);
  });

  it('locks log settings and headers-only, warning where the user file said otherwise', () => {
    const policy = writePolicy({
      log: { level: 'warn', maxFiles: 20 },
      sync: { headersOnly: true },
    });
    const config = parseConfig(
      { log: { level: 'debug' }, accounts: [account({ headersOnly: false })] },
      configPath,
      { policy },
    );
    assert.equal(config.log?.level, 'warn');
    assert.equal(config.log?.levelLocked, true, 'STORESYNC_LOG_LEVEL cannot change it either');
    assert.equal(config.log?.maxFiles, 20);
    assert.equal(config.log?.maxSizeMB, 10);
    assert.equal(config.accounts[0]!.headersOnly, true);
    assert.deepEqual(config.sources?.warnings, [
      `${configPath}: log.level: "debug" is locked to "warn" by the policy ${policyPath} (log.level); using "warn"`,
      `${configPath}: accounts[0].headersOnly: false is locked to true by the policy ${policyPath} (sync.headersOnly); using true`,
    ]);
    // A default the policy replaces is not the user's doing: no warning for maxFiles.
    assert.deepEqual(config.sources?.policy, {
      file: policyPath,
      keys: ['log.level', 'log.maxFiles', 'accounts[0].headersOnly'],
    });
  });

  it('raises intervals below the minimum, and leaves on-demand-only accounts alone', () => {
    const policy = writePolicy({ sync: { minIntervalSeconds: 900 } });
    const config = parseConfig(
      {
        accounts: [
          account({ id: 'a', syncIntervalSeconds: 60 }),
          account({ id: 'b' }),
          account({ id: 'c', syncIntervalSeconds: 0 }),
          account({ id: 'd', syncIntervalSeconds: 3600 }),
        ],
      },
      configPath,
      { policy },
    );
    assert.deepEqual(
      config.accounts.map((a) => a.syncIntervalSeconds),
      [900, 900, 0, 3600],
    );
    assert.deepEqual(config.sources?.warnings, [
      `${configPath}: accounts[0].syncIntervalSeconds: 60 is below the minimum of 900 set by the policy ${policyPath} (sync.minIntervalSeconds); using 900`,
    ]);
  });

  it('refuses servers off the allowed list and plain-text IMAP, naming key and policy', () => {
    const policy = writePolicy({
      imap: { allowedHosts: ['imap.example.com', '*.corp.example.net'], requireTls: true },
    });
    assert.doesNotThrow(() =>
      parseConfig(
        {
          accounts: [
            account(),
            account({
              id: 'corp',
              imap: { host: 'MAIL.Corp.Example.NET', user: 'u', password: { env: 'X' } },
            }),
          ],
        },
        configPath,
        { policy },
      ),
    );
    assert.throws(
      () =>
        parseConfig(
          {
            accounts: [
              account({
                imap: { host: 'imap.other.org', tls: 'none', user: 'me', password: { env: 'X' } },
              }),
            ],
          },
          configPath,
          { policy },
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.message.split('\n'), [
          `${configPath}: accounts[0].imap.host: "imap.other.org" is not allowed by the policy ${policyPath} (imap.allowedHosts); allowed: imap.example.com, *.corp.example.net`,
          `${configPath}: accounts[0].imap.tls: "none" is not allowed: the policy ${policyPath} (imap.requireTls) requires TLS; use "implicit" or "starttls"`,
        ]);
        return true;
      },
    );
  });

  it('forbids remote access: the flag is forced off, and a non-loopback host says why', () => {
    const policy = writePolicy({ server: { allowRemote: false } });
    const config = parseConfig({ server: { allowRemote: true } }, configPath, { policy });
    assert.equal(config.server.allowRemote, false);
    assert.match(config.sources!.warnings[0]!, /server\.allowRemote: true is locked to false/);
    assert.throws(
      () => parseConfig({ server: { host: '0.0.0.0', allowRemote: true } }, configPath, { policy }),
      new RegExp(`server.host: "0.0.0.0" is not a loopback address.*forbidden by the policy`),
    );
  });

  it('applies to every config loaded from a file, found through STORESYNC_POLICY_FILE', () => {
    writePolicy({ log: { level: 'error' }, sync: { minIntervalSeconds: 600 } });
    fs.writeFileSync(
      configPath,
      JSON.stringify({ log: { level: 'info' }, accounts: [account({ syncIntervalSeconds: 30 })] }),
    );
    const saved = process.env[POLICY_FILE_ENV];
    process.env[POLICY_FILE_ENV] = policyPath;
    const warnings: string[] = [];
    try {
      const config = loadConfigFile(configPath, { warn: (w) => warnings.push(w) });
      assert.equal(config.log?.level, 'error');
      assert.equal(config.accounts[0]!.syncIntervalSeconds, 600);
      assert.equal(warnings.length, 2);
      assert.ok(warnings.every((w) => w.includes(policyPath)));
    } finally {
      if (saved === undefined) delete process.env[POLICY_FILE_ENV];
      else process.env[POLICY_FILE_ENV] = saved;
    }
  });

  it('matches host patterns by whole labels', () => {
    assert.ok(hostMatches('imap.example.com', 'imap.example.com'));
    assert.ok(hostMatches('IMAP.example.com.', 'imap.example.com'));
    assert.ok(hostMatches('a.b.example.com', '*.example.com'));
    assert.ok(!hostMatches('example.com', '*.example.com'));
    assert.ok(!hostMatches('badexample.com', '*.example.com'));
    assert.ok(!hostMatches('imap.example.com.evil.org', 'imap.example.com'));
  });
});

describe('renamed config keys', () => {
  const renames = [
    { from: 'accounts[].syncInterval', to: 'accounts[].syncIntervalSeconds', since: '0.2.0' },
    { from: 'logLevel', to: 'log.level', since: '0.2.0' },
  ];

  it('reads the old name as the new one, with a warning saying what to write', () => {
    const config = parseConfig(
      {
        logLevel: 'debug',
        accounts: [account({ syncInterval: 600 }), account({ id: 'home' })],
      },
      '/etc/storesync/config.json',
      { renames, policy: null },
    );
    assert.equal(config.accounts[0]!.syncIntervalSeconds, 600);
    assert.equal(config.accounts[1]!.syncIntervalSeconds, 300);
    assert.equal(config.log?.level, 'debug');
    assert.deepEqual(config.sources?.warnings, [
      '/etc/storesync/config.json: accounts[0].syncInterval is deprecated: it was renamed to accounts[0].syncIntervalSeconds in StoreSync 0.2.0; it still works, but write accounts[0].syncIntervalSeconds',
      '/etc/storesync/config.json: logLevel is deprecated: it was renamed to log.level in StoreSync 0.2.0; it still works, but write log.level',
    ]);
    // The value is the user's, under its new name.
    const row = describeConfig(config).find((r) => r.key === 'accounts[0].syncIntervalSeconds');
    assert.deepEqual(row, {
      key: 'accounts[0].syncIntervalSeconds',
      value: '600',
      origin: 'user file',
    });
  });

  it('refuses a file that sets both names', () => {
    assert.throws(
      () =>
        parseConfig(
          { accounts: [account({ syncInterval: 600, syncIntervalSeconds: 900 })] },
          'config.json',
          { renames, policy: null },
        ),
      /config\.json: accounts\[0\]\.syncInterval: renamed to accounts\[0\]\.syncIntervalSeconds, which is also set; remove accounts\[0\]\.syncInterval/,
    );
  });

  it('without renames an old name is still an unknown key, and the input is never changed', () => {
    const json = { logLevel: 'debug' };
    assert.throws(() => parseConfig(json, 'c.json', { renames: [], policy: null }), /logLevel/);
    applyRenamedKeys(json, renames, 'c.json');
    assert.deepEqual(json, { logLevel: 'debug' });
  });
});

describe('effective config with origins', () => {
  it('names each value default, user file or policy, and never shows a secret source', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-origins-'));
    try {
      const policyPath = path.join(dir, 'policy.json');
      fs.writeFileSync(policyPath, JSON.stringify({ log: { maxSizeMB: 50 } }));
      const config = parseConfig(
        {
          server: { port: 5443 },
          accounts: [
            account({
              imap: {
                host: 'imap.example.com',
                user: 'me',
                accessToken: { command: 'echo hunter2-token' },
              },
            }),
          ],
        },
        path.join(dir, 'config.json'),
        { policy: loadPolicy(policyPath) },
      );
      const rows = describeConfig(config);
      const origin = Object.fromEntries(rows.map((r) => [r.key, r.origin]));
      assert.equal(origin['server.port'], 'user file');
      assert.equal(origin['server.host'], 'default');
      assert.equal(origin['log.maxSizeMB'], 'policy');
      assert.equal(origin['accounts[0].imap.host'], 'user file');
      assert.equal(origin['accounts[0].imap.port'], 'default');
      assert.equal(origin['accounts[0].imap.accessToken'], 'user file');
      assert.equal(origin['accounts[0].maildir'], 'user file');
      assert.equal(origin['accounts[0].headersOnly'], 'default');
      const token = rows.find((r) => r.key === 'accounts[0].imap.accessToken');
      assert.equal(token?.value, '"(from command)"');
      assert.ok(!JSON.stringify(rows).includes('hunter2'), 'the token command was shown');
      assert.equal(
        rows.find((r) => r.key === 'accounts[0].maildir')?.value,
        JSON.stringify(path.join(dir, 'mail/work')),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
