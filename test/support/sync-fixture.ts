/**
 * What most engine tests stand on: a private Dovecot with some mail, a temp directory with a
 * Maildir and a state database, and one account configured against them.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AccountConfig, parseConfig } from '../../agent/src/config/load.js';
import type { PrivateDovecotOptions } from '../../agent/src/demo/private-dovecot.js';
import type { SampleMessage } from '../../agent/src/demo/sample-mail.js';
import {
  type DoneEvent,
  type ErrorEvent,
  FULL_SYNC,
  type SyncFlags,
} from '../../agent/src/protocol/index.js';
import { type EngineOptions, SyncEngine } from '../../agent/src/sync/engine.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from './dovecot.js';

export interface SyncFixture {
  dovecot: TestDovecot;
  dir: string;
  state: StateDb;
  account: AccountConfig;
  /** The environment variable holding the password (for a config file the CLI reads). */
  passwordEnv: string;
  /** The local directory of a folder ("Archive/2024"). */
  folderDir(name: string): string;
  /** An engine over the fixture's account, with account settings overridden. */
  engine(overrides?: Partial<AccountConfig>, options?: EngineOptions): SyncEngine;
  /** One run to its end, with the error events it reported. */
  sync(
    flags?: SyncFlags,
    overrides?: Partial<AccountConfig>,
  ): Promise<{ done: DoneEvent; errors: ErrorEvent[] }>;
  /** Loses the state database, as a user deleting it would, and starts a new one. */
  discardState(): Promise<void>;
  cleanup(): Promise<void>;
}

let instances = 0;

export async function startSyncFixture(
  options: {
    dovecot?: Pick<
      PrivateDovecotOptions,
      'capabilities' | 'tls' | 'maxMessageSize' | 'mailboxNames' | 'separator'
    >;
    mail?: SampleMessage[];
    /** Extra account settings as in the config file (folders, deletePolicy, …). */
    account?: Record<string, unknown>;
  } = {},
): Promise<SyncFixture> {
  const dovecot = await startTestDovecot(options.dovecot);
  if (options.mail) await dovecot.appendMessages(options.mail);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-test-'));
  // Each fixture its own variable: the password is read at every connection.
  const passwordEnv = `STORESYNC_TEST_PASSWORD_${++instances}`;
  process.env[passwordEnv] = dovecot.password;
  const account = parseConfig(
    {
      dataDir: dir,
      accounts: [
        {
          id: 'a',
          imap: {
            host: dovecot.host,
            port: dovecot.port,
            tls: 'none',
            user: dovecot.user,
            password: { env: passwordEnv },
          },
          maildir: path.join(dir, 'Maildir'),
          ...options.account,
        },
      ],
    },
    null,
  ).accounts[0]!;
  const stateFile = path.join(dir, 'state.db');

  const fixture: SyncFixture = {
    dovecot,
    dir,
    account,
    passwordEnv,
    state: new StateDb(stateFile),
    folderDir: (name) => path.join(account.maildir, ...name.split('/')),
    engine: (overrides = {}, engineOptions = {}) =>
      new SyncEngine([{ ...account, ...overrides }], fixture.state, undefined, engineOptions),
    sync: async (flags = FULL_SYNC, overrides = {}) => {
      const engine = fixture.engine(overrides);
      const errors: ErrorEvent[] = [];
      engine.onEvent((e) => e.type === 'error' && errors.push(e));
      return { done: await engine.start({ flags, trigger: 'cli' }).done, errors };
    },
    discardState: async () => {
      fixture.state.close();
      for (const suffix of ['', '-wal', '-shm']) await fs.rm(stateFile + suffix, { force: true });
      fixture.state = new StateDb(stateFile);
    },
    cleanup: async () => {
      fixture.state.close();
      await dovecot.cleanup();
      await fs.rm(dir, { recursive: true, force: true });
      delete process.env[passwordEnv];
    },
  };
  return fixture;
}
