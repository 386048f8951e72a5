/**
 * TLS to the IMAP server: implicit TLS and STARTTLS both work, and a certificate no trusted CA
 * signed is refused (TLS_ERROR, with what to do) unless the account says allowSelfSigned.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../agent/src/config/load.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type DoneEvent, type ErrorEvent } from '../../agent/src/protocol/index.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
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
    const state = new StateDb(path.join(base, 'state.db'));
    const engine = new SyncEngine(accounts, state);
    const errors: ErrorEvent[] = [];
    engine.onEvent((e) => e.type === 'error' && errors.push(e));
    try {
      return { done: await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done, errors };
    } finally {
      state.close();
    }
  }

  for (const mode of ['implicit', 'starttls'] as const) {
    const port = () => (mode === 'implicit' ? dovecot.tlsPort! : dovecot.port);

    it(`${mode}: syncs with allowSelfSigned`, async () => {
      const { done } = await syncWith(`${mode}-allowed`, {
        tls: mode,
        port: port(),
        allowSelfSigned: true,
      });
      assert.equal(done.result, 'ok');
      assert.equal(done.stats.downloaded, 5);
    });

    it(`${mode}: refuses the self-signed certificate by default, saying what to do`, async () => {
      const { done, errors } = await syncWith(`${mode}-refused`, {
        tls: mode,
        port: port(),
        allowSelfSigned: false,
      });
      assert.equal(done.result, 'error');
      assert.equal(errors[0]?.code, 'TLS_ERROR', JSON.stringify(errors));
      assert.match(errors[0]!.hint, /allowSelfSigned/);
      assert.equal(done.stats.downloaded, 0);
    });
  }
});
