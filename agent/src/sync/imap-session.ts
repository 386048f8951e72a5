/**
 * Opens an authenticated IMAP connection for an account. The password is resolved right
 * before connecting and handed to imapflow only.
 */
import { ImapFlow } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import { resolveSecret, SecretError } from '../config/secrets.js';
import { classifyError, SyncFailure } from './errors.js';

/** Receives every IMAP line sent ('C') and received ('S'), secrets masked by imapflow. */
export type ImapProtocolLog = (direction: 'C' | 'S', line: string) => void;

export async function openImapSession(
  account: AccountConfig,
  protocolLog?: ImapProtocolLog,
): Promise<ImapFlow> {
  let password: string;
  try {
    password = await resolveSecret(account.imap.password, `accounts.${account.id}.imap.password`);
  } catch (err) {
    if (err instanceof SecretError) throw new SyncFailure('SECRET_UNAVAILABLE', err.message);
    throw err;
  }
  const { imap } = account;
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: imap.tls === 'implicit',
    doSTARTTLS: imap.tls === 'starttls' ? true : imap.tls === 'none' ? false : undefined,
    auth: { user: imap.user, pass: password },
    tls: { rejectUnauthorized: !imap.allowSelfSigned },
    // QRESYNC is enabled when offered; the engine reads what the server has in capabilities.
    qresync: true,
    // Logging every line costs a compile of each response: only when someone reads it.
    logger: protocolLog ? protocolLogger(protocolLog) : false,
    connectionTimeout: 30_000,
    greetingTimeout: 16_000,
    socketTimeout: 5 * 60_000,
  });
  // imapflow reports socket errors as events too; without a listener Node would throw them.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw classifyError(err);
  }
  return client;
}

function protocolLogger(sink: ImapProtocolLog) {
  const ignore = () => undefined;
  return {
    isLevelEnabled: (level: string) => level === 'debug',
    debug: (entry: { src?: string; msg?: string }) => {
      if ((entry.src === 'c' || entry.src === 's') && entry.msg)
        sink(entry.src === 'c' ? 'C' : 'S', entry.msg);
    },
    trace: ignore,
    info: ignore,
    warn: ignore,
    error: ignore,
    fatal: ignore,
  };
}
