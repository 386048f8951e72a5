import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '../../agent/src/config/load.js';
import { resolveSecret, SecretError } from '../../agent/src/config/secrets.js';

const valid = () => ({
  dataDir: 'data',
  server: { host: '127.0.0.1', port: 4643 },
  accounts: [
    {
      id: 'work',
      imap: {
        host: 'imap.example.com',
        port: 993,
        tls: 'implicit',
        user: 'me',
        password: { env: 'WORK_PW' },
      },
      maildir: 'mail/work',
      folders: { include: ['*'], exclude: ['Junk'] },
    },
  ],
});

function errorOf(json: unknown): string {
  try {
    parseConfig(json, '/etc/storesync.json');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.message;
  }
  assert.fail('config was accepted');
}

describe('config', () => {
  it('accepts the documented shape and resolves paths relative to the file', () => {
    const config = parseConfig(valid(), '/etc/storesync/config.json');
    assert.equal(config.dataDir, '/etc/storesync/data');
    assert.equal(config.accounts[0]!.maildir, '/etc/storesync/mail/work');
    assert.deepEqual(config.accounts[0]!.folders.exclude, ['Junk']);
  });

  it('fills defaults: IMAP port from the TLS mode, folders, server', () => {
    const json = valid() as Record<string, unknown>;
    delete json.server;
    const account = (json.accounts as Array<Record<string, Record<string, unknown>>>)[0]!;
    delete account.imap!.port;
    account.imap!.tls = 'starttls';
    delete account.folders;
    const config = parseConfig(json, null);
    assert.equal(config.accounts[0]!.imap.port, 143);
    assert.deepEqual(config.accounts[0]!.folders, { include: ['*'], exclude: [] });
    assert.deepEqual(config.server, { host: '127.0.0.1', port: 4643, allowRemote: false });
  });

  it('names the field of a wrong type', () => {
    const json = valid();
    (json.accounts[0]!.imap as Record<string, unknown>).port = '993';
    assert.match(errorOf(json), /accounts\[0\]\.imap\.port/);
  });

  it('names an unknown key (a typo) instead of ignoring it', () => {
    const json = valid();
    (json.accounts[0]!.imap as Record<string, unknown>).pasword = 'x';
    assert.match(errorOf(json), /accounts\[0\]\.imap.*pasword/);
  });

  it('names a bad tls mode and a bad password source', () => {
    const json = valid();
    (json.accounts[0]!.imap as Record<string, unknown>).tls = 'ssl';
    (json.accounts[0]!.imap as Record<string, unknown>).password = 'hunter2';
    const message = errorOf(json);
    assert.match(message, /accounts\[0\]\.imap\.tls/);
    // What goes there instead of the password, which is not repeated.
    assert.match(message, /accounts\[0\]\.imap\.password: must say where the secret is: \{"env"/);
    assert.doesNotMatch(message, /hunter2/);
  });

  describe('OAuth2 access token instead of a password', () => {
    const withImap = (change: (imap: Record<string, unknown>) => void) => {
      const json = valid();
      change(json.accounts[0]!.imap as Record<string, unknown>);
      return json;
    };
    const tokenLogin = (imap: Record<string, unknown>) => {
      delete imap.password;
      imap.accessToken = { command: 'oauth-helper --print-token' };
    };

    it('accepts accessToken from a command, env or file, resolving a relative file', () => {
      let config = parseConfig(withImap(tokenLogin), '/etc/storesync/config.json');
      assert.deepEqual(config.accounts[0]!.imap.credentials, {
        kind: 'accessToken',
        source: { command: 'oauth-helper --print-token' },
        method: null,
      });
      config = parseConfig(
        withImap((imap) => {
          tokenLogin(imap);
          imap.accessToken = { file: 'tokens/work' };
          imap.authMethod = 'XOAUTH2';
        }),
        '/etc/storesync/config.json',
      );
      assert.deepEqual(config.accounts[0]!.imap.credentials, {
        kind: 'accessToken',
        source: { file: '/etc/storesync/tokens/work' },
        method: 'XOAUTH2',
      });
      config = parseConfig(valid(), null);
      assert.deepEqual(config.accounts[0]!.imap.credentials, {
        kind: 'password',
        source: { env: 'WORK_PW' },
      });
    });

    it('refuses both password and accessToken, naming accessToken', () => {
      const message = errorOf(withImap((imap) => (imap.accessToken = { env: 'WORK_TOKEN' })));
      assert.match(message, /accounts\[0\]\.imap\.accessToken: .*not both/);
    });

    it('refuses neither, naming password and mentioning accessToken', () => {
      const message = errorOf(withImap((imap) => delete imap.password));
      assert.match(message, /accounts\[0\]\.imap\.password: .*accessToken/);
    });

    it('refuses an unknown authMethod and one given with a password', () => {
      assert.match(
        errorOf(
          withImap((imap) => {
            tokenLogin(imap);
            imap.authMethod = 'PLAIN';
          }),
        ),
        /accounts\[0\]\.imap\.authMethod/,
      );
      assert.match(
        errorOf(withImap((imap) => (imap.authMethod = 'OAUTHBEARER'))),
        /accounts\[0\]\.imap\.authMethod: only applies to an "accessToken" login/,
      );
    });

    it('refuses a bad token source the way it refuses a bad password source', () => {
      const message = errorOf(
        withImap((imap) => {
          tokenLogin(imap);
          imap.accessToken = 'eyJhbGciOi...';
        }),
      );
      assert.match(message, /accounts\[0\]\.imap\.accessToken/);
    });
  });

  it('refuses duplicate account ids, naming the second one', () => {
    const json = valid();
    json.accounts.push(structuredClone(json.accounts[0]!));
    assert.match(errorOf(json), /accounts\[1\]\.id: duplicate account id "work"/);
  });

  it('refuses a non-loopback listen address unless allowRemote', () => {
    const json = valid();
    json.server.host = '0.0.0.0';
    assert.match(errorOf(json), /server\.host.*loopback/);
    const allowed = parseConfig({ ...json, server: { ...json.server, allowRemote: true } }, null);
    assert.equal(allowed.server.host, '0.0.0.0');
  });

  it('names a dataDir or maildir that a file stands in the way of', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-config-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(path.join(dir, 'afile'), 'not a directory');
    try {
      const json = valid();
      json.accounts[0]!.maildir = 'afile';
      assert.throws(
        () => parseConfig(json, file),
        (err: Error) =>
          err instanceof ConfigError &&
          err.message ===
            `${file}: accounts[0].maildir: "${path.join(dir, 'afile')}" is a file, not a directory`,
      );
      const beneath = { ...valid(), dataDir: 'afile/sub' };
      assert.throws(
        () => parseConfig(beneath, file),
        (err: Error) =>
          err instanceof ConfigError &&
          err.message.startsWith(`${file}: dataDir: "${path.join(dir, 'afile', 'sub')}"`) &&
          /part of that path is a file/.test(err.message),
      );
      // Directories that do not exist yet are made on first use; existing ones are fine.
      assert.doesNotThrow(() => parseConfig({ ...valid(), dataDir: '.' }, file));
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('refuses two accounts on one Maildir, or one inside the other, naming the second', () => {
    const second = (maildir: string) => {
      const json = valid();
      json.accounts.push({ ...json.accounts[0]!, id: 'home', maildir });
      return json;
    };
    assert.match(
      errorOf(second('mail/work')),
      /accounts\[1\]\.maildir: "\/etc\/mail\/work" is the maildir of accounts\[0\] \("work"\)/,
    );
    assert.match(
      errorOf(second(path.join('mail', 'work', 'home'))),
      /accounts\[1\]\.maildir: .* overlaps/,
    );
    assert.match(errorOf(second('mail')), /accounts\[1\]\.maildir: .* overlaps/);
    // Side by side is what they should be; a shared prefix of the name is not nesting.
    assert.equal(parseConfig(second('mail/home'), '/etc/x.json').accounts.length, 2);
    assert.equal(parseConfig(second('mail/work2'), '/etc/x.json').accounts.length, 2);
  });

  it('reports unreadable files and invalid JSON with the file name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-config-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, '{ "accounts": [ }');
    assert.throws(
      () => loadConfigFile(file),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message.includes(file) &&
        /not valid JSON/.test(err.message),
    );
    assert.throws(
      () => loadConfigFile(path.join(dir, 'missing.json')),
      /cannot read config file \(ENOENT\)/,
    );
    // A typo next to a password command: the message (logged, put in support bundles) says
    // what is wrong, and quotes none of the text.
    fs.writeFileSync(file, `{ "password": { "command": 'echo hunter2' } }`);
    assert.throws(
      () => loadConfigFile(file),
      (err: Error) =>
        /not valid JSON \(Unexpected token '''\)$/.test(err.message) &&
        !/echo|hunt/.test(err.message),
    );
    fs.rmSync(dir, { recursive: true });
  });
});

describe('password sources', () => {
  it('reads env, file (without its final newline) and command', async () => {
    process.env.STORESYNC_TEST_PW = 's3cret';
    assert.equal(await resolveSecret({ env: 'STORESYNC_TEST_PW' }, 'f'), 's3cret');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-secret-'));
    fs.writeFileSync(path.join(dir, 'pw'), 'from file\n');
    assert.equal(await resolveSecret({ file: path.join(dir, 'pw') }, 'f'), 'from file');
    assert.equal(await resolveSecret({ command: 'printf "from command\\n"' }, 'f'), 'from command');
    fs.rmSync(dir, { recursive: true });
  });

  it('fails with the field named and without the secret in the message', async () => {
    delete process.env.STORESYNC_TEST_MISSING;
    await assert.rejects(
      resolveSecret({ env: 'STORESYNC_TEST_MISSING' }, 'accounts.work.imap.password'),
      (err: Error) =>
        err instanceof SecretError &&
        /accounts\.work\.imap\.password: environment variable STORESYNC_TEST_MISSING is not set/.test(
          err.message,
        ),
    );
    await assert.rejects(
      resolveSecret({ command: 'echo topsecret; exit 3' }, 'pw'),
      (err: Error) => /exited with code 3/.test(err.message) && !err.message.includes('topsecret'),
    );
  });
});

describe('password commands that hang', () => {
  it('end with everything they started, and the error names the field', async () => {
    // A pipeline: the shell waits for its two processes, and killing it alone left them.
    const marker = `sleep 60.${process.pid}${Date.now() % 1000}`;
    await assert.rejects(
      resolveSecret({ command: `${marker} | cat` }, 'accounts.work.imap.password', 'password', {
        timeoutMs: 300,
      }),
      /^SecretError: accounts\.work\.imap\.password: password command timed out$/,
    );
    const left = execFileSync('ps', ['-A', '-o', 'args='], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(marker));
    assert.deepEqual(left, []);
  });
});

describe('access token sources', () => {
  it('trims whatever whitespace a token helper prints around the token', async () => {
    const token = await resolveSecret(
      { command: 'printf "  eyJ.tok.en \\r\\n\\n"' },
      'accounts.work.imap.accessToken',
      'access token',
    );
    assert.equal(token, 'eyJ.tok.en');
    // A password keeps its spaces: only a final newline is an artefact.
    assert.equal(await resolveSecret({ command: 'printf " pw \\n"' }, 'f'), ' pw ');
  });

  it('names the access token command when it fails or prints nothing', async () => {
    await assert.rejects(
      resolveSecret({ command: 'exit 4' }, 'accounts.work.imap.accessToken', 'access token'),
      /accounts\.work\.imap\.accessToken: access token command exited with code 4/,
    );
    await assert.rejects(
      resolveSecret({ command: 'printf "\\n"' }, 'f', 'access token'),
      /access token command printed nothing/,
    );
  });
});
