/**
 * The one-shot CLI connects and logs in while the engine still loads (early-dial.ts,
 * EarlySessions): the run then uses that very connection, a connection the server closed
 * before it was used is replaced without an error, a login that fails early fails the run as
 * any login would, and sessions no run took are closed. (TLS on the early connection:
 * tls.test.ts.)
 */
import assert from 'node:assert/strict';
import type { AccountConfig } from '../../agent/src/config/load.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import {
  type DoneEvent,
  type ErrorEvent,
  FULL_SYNC,
  type SyncEvent,
} from '../../agent/src/protocol/index.js';
import { EarlyDials } from '../../agent/src/sync/early-dial.js';
import { EarlySessions } from '../../agent/src/sync/session-pool.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('sessions opened while the one-shot CLI loads', function () {
  this.timeout(60_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 8, folders: ['INBOX', 'Archive'], seed: 41 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
  });
  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  /** The fixture's account through the counting proxy, on one connection. */
  function accountViaProxy(overrides: Partial<AccountConfig['imap']> = {}): AccountConfig {
    return {
      ...fixture.account,
      maxConnections: 1,
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port, ...overrides },
    };
  }

  async function until(condition: () => boolean, what: string): Promise<void> {
    for (let waited = 0; !condition(); waited += 10) {
      if (waited > 5000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function run(
    account: AccountConfig,
    sessions: EarlySessions,
  ): Promise<{ done: DoneEvent; errors: ErrorEvent[] }> {
    const engine = fixture.engine(account, { sessions });
    const errors: ErrorEvent[] = [];
    engine.onEvent((e: SyncEvent) => e.type === 'error' && errors.push(e));
    try {
      return { done: await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done, errors };
    } finally {
      await sessions.close();
    }
  }

  it('runs on the connection dialled before the run, logged in before the run', async () => {
    await fixture.discardState();
    const account = accountViaProxy();
    const before = proxy.connections;
    const dials = EarlyDials.start([account]);
    await until(() => proxy.connections === before + 1, 'the dialled connection');
    const sessions = new EarlySessions(dials);
    sessions.login([account]);
    const { done, errors } = await run(account, sessions);
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.equal(done.stats.downloaded, 8);
    // Had the run not used the dialled connection, the proxy would have seen a second one.
    assert.equal(proxy.connections, before + 1);
  });

  it('replaces a dialled connection the server closed before it was used, silently', async () => {
    const account = accountViaProxy();
    const before = proxy.connections;
    const dials = EarlyDials.start([account]);
    await until(() => proxy.connections === before + 1, 'the dialled connection');
    // Give the greeting time to arrive, then drop the connection, as a restarting server would.
    await new Promise((resolve) => setTimeout(resolve, 100));
    proxy.cutAll();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sessions = new EarlySessions(dials);
    sessions.login([account]);
    const { done, errors } = await run(account, sessions);
    assert.equal(done.result, 'ok');
    assert.deepEqual(errors, [], 'no retry, no notice');
    assert.equal(proxy.connections, before + 2);
  });

  it('closes what no run took: the dialled connection and the logged-in session', async () => {
    // A proxy of its own: connections of the tests before may still be closing on the other.
    const own = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    try {
      const imap = { ...fixture.account.imap, host: own.host, port: own.port };
      const account = { ...fixture.account, imap };
      const other = { ...account, id: 'b' };
      const sessions = new EarlySessions(EarlyDials.start([account, other]));
      sessions.login([account]);
      await until(() => own.connections === 2, 'both dialled connections');
      await sessions.close();
      await until(() => own.openConnections === 0, 'every connection closed');
      assert.equal(own.connections, 2);
    } finally {
      await own.close();
    }
  });
  // Last: Dovecot slows down logins from an address after a failed one.
  it('fails the run with the usual error when the early login is refused', async () => {
    const envName = 'STORESYNC_EARLY_WRONG_PASSWORD';
    process.env[envName] = 'not the password';
    try {
      const account = accountViaProxy({
        credentials: { kind: 'password', source: { env: envName } },
      });
      const sessions = new EarlySessions(EarlyDials.start([account]));
      sessions.login([account]);
      const { done, errors } = await run(account, sessions);
      assert.equal(done.result, 'error');
      assert.equal(errors[0]?.code, 'AUTH_FAILED', JSON.stringify(errors));
    } finally {
      delete process.env[envName];
    }
  });
});
