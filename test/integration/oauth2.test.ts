/**
 * OAuth2 login (SASL XOAUTH2 and OAUTHBEARER) against a Dovecot that validates JWTs itself:
 * the token comes from a command run for every connection, each mechanism works when asked
 * for, and a token the server refuses (expired, signed with another key) is AUTH_FAILED with
 * a hint about tokens, never a leak of the token into output, logs or state.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../agent/src/config/load.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { type DoneEvent, type ErrorEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { mintToken } from '../support/jwt.js';
import { runCli } from '../support/storesync-process.js';

describe('OAuth2 login (XOAUTH2, OAUTHBEARER)', function () {
  const key = randomBytes(32);
  let dovecot: TestDovecot;
  let dir: string;
  let runs = 0;

  before(async () => {
    dovecot = await startTestDovecot({ oauth2: { key } });
    await dovecot.appendMessages(generateMailbox({ count: 4, folders: ['INBOX'], seed: 77 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-oauth2-'));
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const validToken = (expiresIn = 3600) =>
    mintToken(key, { sub: dovecot.user, iss: dovecot.oauth2Issuer!, expiresIn });

  /**
   * An account whose token command prints `token` and counts its runs in a file: what an
   * OAuth helper (oauth2l, a keyring script) would be, minus the provider.
   */
  async function writeAccount(
    name: string,
    token: string,
    imap: Record<string, unknown> = {},
    server: { port: number } = dovecot,
  ) {
    const base = path.join(dir, `${name}-${++runs}`);
    await fs.mkdir(base, { recursive: true });
    await fs.writeFile(path.join(base, 'token'), token + '\n', { mode: 0o600 });
    const command = `echo run >> '${base}/runs' && cat '${base}/token'`;
    const config = {
      dataDir: path.join(base, 'data'),
      server: { host: '127.0.0.1', port: 0 },
      accounts: [
        {
          id: 'oauth',
          imap: {
            host: '127.0.0.1',
            port: server.port,
            tls: 'none',
            user: dovecot.user,
            accessToken: { command },
            ...imap,
          },
          maildir: path.join(base, 'Maildir'),
          syncIntervalSeconds: 0,
          idleFolders: [],
        },
      ],
    };
    const file = path.join(base, 'config.json');
    await fs.writeFile(file, JSON.stringify(config));
    const tokenRuns = async () =>
      (await fs.readFile(path.join(base, 'runs'), 'utf8').catch(() => '')).split('\n').length - 1;
    return { base, file, config, tokenRuns };
  }

  async function syncOnce(
    config: unknown,
    dataDir: string,
  ): Promise<{ done: DoneEvent; errors: ErrorEvent[]; protocol: string[] }> {
    const { accounts } = parseConfig(config, null);
    const state = new StateDb(path.join(dataDir, 'state.db'));
    const protocol: string[] = [];
    const engine = new SyncEngine(accounts, state, undefined, {
      protocolLog: (direction, line) => protocol.push(`${direction}: ${line}`),
    });
    const errors: ErrorEvent[] = [];
    engine.onEvent((e) => e.type === 'error' && errors.push(e));
    try {
      return {
        done: await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done,
        errors,
        protocol,
      };
    } finally {
      state.close();
    }
  }

  /** Every file under `root` (logs, state database, Maildir), as bytes. */
  async function everyFile(root: string): Promise<Array<{ file: string; data: Buffer }>> {
    const out: Array<{ file: string; data: Buffer }> = [];
    for (const entry of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      out.push({ file, data: await fs.readFile(file) });
    }
    return out;
  }

  for (const method of ['OAUTHBEARER', 'XOAUTH2'] as const) {
    it(`syncs with a token from a command over ${method}, the token never in the logs`, async () => {
      const token = validToken();
      const account = await writeAccount(method, token, { authMethod: method });
      const { done, errors, protocol } = await syncOnce(account.config, account.config.dataDir);
      assert.equal(done.result, 'ok', JSON.stringify(errors));
      assert.equal(done.stats.downloaded, 4);
      const auth = protocol.filter((l) => / AUTHENTICATE /.test(l));
      assert.ok(
        auth.length > 0 && auth.every((l) => l.includes(`AUTHENTICATE ${method}`)),
        auth.join('\n'),
      );
      assert.ok(!protocol.some((l) => l.includes(token)), 'token in the protocol log');
      // Dovecot agrees about the mechanism.
      assert.match(
        await fs.readFile(dovecot.logFile, 'utf8'),
        new RegExp(`Login: user=<${dovecot.user}>, method=${method}`),
      );
      // Fresh for every connection: a second sync runs the command again.
      const before = await account.tokenRuns();
      assert.ok(before >= 1);
      assert.equal((await syncOnce(account.config, account.config.dataDir)).done.result, 'ok');
      assert.ok((await account.tokenRuns()) > before, 'the token command ran again');
    });
  }

  it('lets the server decide without authMethod (OAUTHBEARER when offered)', async () => {
    const account = await writeAccount('default', validToken());
    const { done, protocol } = await syncOnce(account.config, account.config.dataDir);
    assert.equal(done.result, 'ok');
    assert.ok(
      protocol.some((l) => l.includes('AUTHENTICATE OAUTHBEARER')),
      protocol.join('\n'),
    );
  });

  it('an expired token: exit 1, AUTH_FAILED, and the token nowhere in output or data', async () => {
    const token = validToken(-120);
    const account = await writeAccount('expired', token, { authMethod: 'XOAUTH2' });
    const result = await runCli(['sync', '--config', account.file, '--once', '--json']);
    assert.equal(result.code, 1, result.stderr + result.stdout);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop()!);
    assert.equal(summary.ok, false);
    assert.equal(summary.errors[0].code, 'AUTH_FAILED');
    // With the server's RFC 7628 status: "401" for XOAUTH2, "invalid_token" for OAUTHBEARER.
    assert.match(summary.errors[0].message, /refused by the server: .*\(401\)/);
    assert.ok(!result.stdout.includes(token) && !result.stderr.includes(token));
    const files = await everyFile(account.config.dataDir);
    assert.ok(
      files.some((f) => f.file.endsWith('.log')),
      'the run did write a log to search',
    );
    // The token's signature alone is as good as the token: look for either.
    const signature = token.split('.')[2]!;
    for (const { file, data } of files) {
      assert.ok(!data.includes(token) && !data.includes(signature), `token in ${file}`);
    }
  });

  it('a token signed with another key: AUTH_FAILED with a hint about the token', async () => {
    const forged = mintToken(randomBytes(32), { sub: dovecot.user, iss: dovecot.oauth2Issuer! });
    const account = await writeAccount('forged', forged);
    const { done, errors } = await syncOnce(account.config, account.config.dataDir);
    assert.equal(done.result, 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0]!.code, 'AUTH_FAILED');
    assert.equal(errors[0]!.retryable, false);
    assert.match(errors[0]!.hint, /access token/i);
    assert.ok(!JSON.stringify(errors).includes(forged));
    assert.equal(done.stats.downloaded, 0);
  });

  it('a failing token command: AUTH_FAILED naming the field, no login attempted', async () => {
    const account = await writeAccount('failing', 'unused', {
      accessToken: { command: 'echo "refresh token revoked" >&2; exit 7' },
    });
    const { done, errors, protocol } = await syncOnce(account.config, account.config.dataDir);
    assert.equal(done.result, 'error');
    assert.equal(errors[0]?.code, 'AUTH_FAILED', JSON.stringify(errors));
    assert.match(errors[0]!.message, /accounts\.oauth\.imap\.accessToken: .*exited with code 7/);
    assert.match(errors[0]!.hint, /"accessToken"/);
    assert.ok(!protocol.some((l) => l.includes('AUTHENTICATE')));
  });

  it('a server without OAuth2: AUTH_FAILED saying what it offers instead', async () => {
    const plain = await startTestDovecot();
    try {
      const account = await writeAccount('no-oauth', validToken(), {}, plain);
      const { done, errors } = await syncOnce(account.config, account.config.dataDir);
      assert.equal(done.result, 'error');
      assert.equal(errors[0]?.code, 'AUTH_FAILED', JSON.stringify(errors));
      assert.match(errors[0]!.message, /does not offer OAUTHBEARER or XOAUTH2 .*PLAIN/);
      assert.match(errors[0]!.hint, /authMethod/);
    } finally {
      await plain.cleanup();
    }
  });
});
