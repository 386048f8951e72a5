/**
 * TLS to the IMAP server: implicit TLS and STARTTLS both work, and a certificate no trusted CA
 * signed is refused (TLS_ERROR, with what to do) unless the account says allowSelfSigned; the
 * same on a connection the one-shot CLI dialled and logged in on early (EarlySessions).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../agent/src/config/load.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type DoneEvent, type ErrorEvent } from '../../agent/src/protocol/index.js';
import { EarlyDials } from '../../agent/src/sync/early-dial.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
import { EarlySessions } from '../../agent/src/sync/session-pool.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';

const PASSWORD_ENV = 'STORESYNC_TLS_PASSWORD';

describe('TLS to the IMAP server', function () {
  let dovecot: TestDovecot;
  let dir: string;

  before(async () => {
    dovecot = await startTestDovecot({ tls: true });
    await dovecot.appendMessages(generateMailbox({ count: 5, folders: ['INBOX'], seed: 95 }));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-tls-'));
    process.env[PASSWORD_ENV] = dovecot.password;
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function syncWith(
    name: string,
    imap: { tls: 'implicit' | 'starttls'; port: number; allowSelfSigned: boolean },
    early: boolean,
  ): Promise<{ done: DoneEvent; errors: ErrorEvent[] }> {
    const base = path.join(dir, name);
    const { accounts } = parseConfig(
      {
        dataDir: base,
        accounts: [
          {
            id: 'a',
            imap: {
              host: '127.0.0.1',
              user: dovecot.user,
              password: { env: PASSWORD_ENV },
              ...imap,
            },
            maildir: path.join(base, 'Maildir'),
          },
        ],
      },
      null,
    );
    // As `storesync sync` does: connect and log in before the engine exists.
    let sessions: EarlySessions | undefined;
    if (early) {
      sessions = new EarlySessions(EarlyDials.start(accounts));
      sessions.login(accounts);
    }
    const state = new StateDb(path.join(base, 'state.db'));
    const engine = new SyncEngine(accounts, state, undefined, sessions ? { sessions } : {});
    const errors: ErrorEvent[] = [];
    engine.onEvent((e) => e.type === 'error' && errors.push(e));
    try {
      return { done: await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done, errors };
    } finally {
      await sessions?.close();
      state.close();
    }
  }

  for (const [mode, early] of [
    ['implicit', false],
    ['starttls', false],
    ['implicit', true],
    ['starttls', true],
  ] as const) {
    const port = () => (mode === 'implicit' ? dovecot.tlsPort! : dovecot.port);
    const name = `${mode}${early ? ', connected early' : ''}`;

    it(`${name}: syncs with allowSelfSigned`, async () => {
      const { done } = await syncWith(
        `${mode}-${early}-allowed`,
        { tls: mode, port: port(), allowSelfSigned: true },
        early,
      );
      assert.equal(done.result, 'ok');
      assert.equal(done.stats.downloaded, 5);
    });

    it(`${name}: refuses the self-signed certificate by default, saying what to do`, async () => {
      const { done, errors } = await syncWith(
        `${mode}-${early}-refused`,
        { tls: mode, port: port(), allowSelfSigned: false },
        early,
      );
      assert.equal(done.result, 'error');
      assert.equal(errors[0]?.code, 'TLS_ERROR', JSON.stringify(errors));
      assert.match(errors[0]!.hint, /allowSelfSigned/);
      assert.equal(done.stats.downloaded, 0);
    });
  }
});
