/**
 * The tests' Dovecot: a private instance in a temp dir, plus helpers that act on it the way
 * another mail client would (append, set flags, read back).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { appendSampleMail } from '../../agent/src/demo/append-sample-mail.js';
import {
  ensureDovecotInstalled,
  startPrivateDovecot,
  type PrivateDovecot,
  type PrivateDovecotOptions,
} from '../../agent/src/demo/private-dovecot.js';
import type { SampleMessage } from '../../agent/src/demo/sample-mail.js';

export interface TestDovecot extends PrivateDovecot {
  /** A logged-in client; the caller logs it out. */
  client(): Promise<ImapFlow>;
  /** Creates missing folders (parents first), then APPENDs each with its flags and date. */
  appendMessages(messages: readonly SampleMessage[]): Promise<void>;
  /** Replaces the message's flag set. */
  setFlags(folder: string, uid: number, flags: string[]): Promise<void>;
  /** Every message in UID order, with its bytes exactly as stored. */
  listMessages(folder: string): Promise<Array<{ uid: number; flags: string[]; raw: Buffer }>>;
  /** Drops every IMAP connection of the user at once (doveadm kick), as a network cut would. */
  kick(): Promise<void>;
  /** Stops Dovecot and removes its temp dir. */
  cleanup(): Promise<void>;
}

export async function startTestDovecot(
  options: Pick<
    PrivateDovecotOptions,
    'capabilities' | 'tls' | 'oauth2' | 'maxMessageSize' | 'mailboxNames' | 'separator'
  > = {},
): Promise<TestDovecot> {
  await ensureDovecotInstalled();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-dovecot-'));
  let dovecot: PrivateDovecot;
  try {
    dovecot = await startPrivateDovecot({ dir, user: 'tester', ...options });
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const client = async () => {
    const c = new ImapFlow({
      host: dovecot.host,
      port: dovecot.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user: dovecot.user, pass: dovecot.password },
      logger: false,
    });
    await c.connect();
    return c;
  };
  const withClient = async <T>(work: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = await client();
    try {
      return await work(c);
    } finally {
      await c.logout().catch(() => c.close());
    }
  };

  return Object.assign(dovecot, {
    client,
    appendMessages: (messages: readonly SampleMessage[]) =>
      withClient((c) => appendSampleMail(c, messages)),
    setFlags: (folder: string, uid: number, flags: string[]) =>
      withClient(async (c) => {
        await c.mailboxOpen(folder);
        await c.messageFlagsSet(String(uid), flags, { uid: true });
      }),
    listMessages: (folder: string) =>
      withClient(async (c) => {
        await c.mailboxOpen(folder, { readOnly: true });
        const out: Array<{ uid: number; flags: string[]; raw: Buffer }> = [];
        for await (const m of c.fetch(
          '1:*',
          { uid: true, flags: true, source: true },
          { uid: true },
        )) {
          if (m.source) out.push({ uid: m.uid, flags: [...(m.flags ?? [])], raw: m.source });
        }
        return out;
      }),
    kick: () =>
      new Promise<void>((resolve, reject) => {
        execFile('doveadm', ['-c', path.join(dir, 'dovecot.conf'), 'kick', dovecot.user], (err) =>
          err ? reject(err) : resolve(),
        );
      }),
    cleanup: async () => {
      await dovecot.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  });
}
