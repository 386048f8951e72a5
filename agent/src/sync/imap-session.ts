/**
 * Opens an authenticated IMAP connection for an account. The password or access token is
 * resolved right before connecting (a token command runs again for every connection, since
 * tokens expire) and handed to imapflow only.
 */
import { EventEmitter } from 'node:events';
import { ImapFlow, type ImapTransport } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import { resolveSecret, SecretError } from '../config/secrets.js';
import { classifyError, SERVER_SILENCE_MS, SyncFailure } from './errors.js';
import { type OAuthOffer, watchOAuthOffer } from './oauth-mechanism.js';

/** Which connection and sync run a protocol line belongs to, as far as the caller knows. */
export interface ImapLineContext {
  /** imapflow's connection id: lines of parallel connections interleave. */
  connection?: string;
  syncId?: string;
  accountId?: string;
}

/** Receives every IMAP line sent ('C') and received ('S'), secrets masked by imapflow. */
export type ImapProtocolLog = (
  direction: 'C' | 'S',
  line: string,
  context?: ImapLineContext,
) => void;

/** The same log with ids added to every line (the engine binds its run's to each account). */
export function bindProtocolLog(
  log: ImapProtocolLog | undefined,
  bound: ImapLineContext,
): ImapProtocolLog | undefined {
  return log && ((direction, line, context) => log(direction, line, { ...context, ...bound }));
}

const TOKEN_COMMAND_HINT =
  'The access token could not be obtained: run the "accessToken" source yourself to see why (an expired sign-in means signing in again), then sync again.';
const TOKEN_REFUSED_HINT =
  'The server refused the access token: it may have expired, been revoked, or be for another user or scope. Make sure the "accessToken" source prints a fresh token for this user, then sync again.';

const alerts = new EventEmitter();
// Every engine of the process listens (tests run several): more listeners are no leak.
alerts.setMaxListeners(0);

/**
 * Calls `listener` with each ALERT a server sends on any session (RFC 9051 7.1: its text must
 * be shown to the user), with the account's id. Returns the way to stop listening.
 */
export function onServerAlert(listener: (accountId: string, text: string) => void): () => void {
  alerts.on('alert', listener);
  return () => alerts.off('alert', listener);
}

/** `transport`: a connection dialled ahead (early-dial.ts) instead of a new one. */
export async function openImapSession(
  account: AccountConfig,
  protocolLog?: ImapProtocolLog,
  transport?: ImapTransport | null,
): Promise<ImapFlow> {
  const { imap } = account;
  const { credentials } = imap;
  const field = `accounts.${account.id}.imap.${credentials.kind}`;
  let secret: string;
  try {
    secret = await resolveSecret(
      credentials.source,
      field,
      credentials.kind === 'password' ? 'password' : 'access token',
    );
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    // No token is a login that cannot happen: say so as such, with what to do about it.
    if (credentials.kind === 'accessToken') {
      throw new SyncFailure('AUTH_FAILED', err.message, null, TOKEN_COMMAND_HINT);
    }
    throw new SyncFailure('SECRET_UNAVAILABLE', err.message);
  }
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: imap.tls === 'implicit',
    doSTARTTLS: imap.tls === 'starttls' ? true : imap.tls === 'none' ? false : undefined,
    // With an access token imapflow authenticates with OAUTHBEARER or XOAUTH2, never PLAIN.
    auth:
      credentials.kind === 'password'
        ? { user: imap.user, pass: secret }
        : { user: imap.user, accessToken: secret },
    tls: { rejectUnauthorized: !imap.allowSelfSigned },
    // QRESYNC is enabled when offered; the engine reads what the server has in capabilities.
    qresync: true,
    // Logging every line costs a compile of each response: only when someone reads it.
    logger: protocolLog ? protocolLogger(protocolLog) : false,
    connectionTimeout: 30_000,
    greetingTimeout: 16_000,
    socketTimeout: SERVER_SILENCE_MS,
    ...(transport ? { transport } : {}),
  });
  const offer =
    credentials.kind === 'accessToken' ? watchOAuthOffer(client, credentials.method) : null;
  // imapflow reports socket errors as events too; without a listener Node would throw them.
  client.on('error', () => undefined);
  client.on('alert', (alert: { message?: string }) => {
    if (alert.message) alerts.emit('alert', account.id, alert.message);
  });
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw offer ? oauthFailure(err, offer) : classifyError(err);
  }
  return client;
}

/** A token login that failed: the server's verdict, or the mechanism it does not offer. */
function oauthFailure(err: unknown, offer: OAuthOffer): SyncFailure {
  const failure = classifyError(err);
  if (failure.code === 'AUTH_FAILED') {
    // RFC 7628's error JSON ({"status":"invalid_token"}) says more than "Authentication failed".
    const status = (err as { oauthError?: { status?: unknown } }).oauthError?.status;
    const message = typeof status === 'string' ? `${failure.message} (${status})` : failure.message;
    return new SyncFailure('AUTH_FAILED', message, null, TOKEN_REFUSED_HINT);
  }
  // imapflow found no mechanism to use: it throws a plain error, seen here as INTERNAL.
  const missing = offer.missing();
  if (failure.code === 'INTERNAL' && missing) {
    return new SyncFailure(
      'AUTH_FAILED',
      `The server does not offer ${missing.wanted} (it offers: ${missing.offered.join(' ') || 'nothing'})`,
      null,
      'Use a mechanism the server offers in "authMethod" (or remove it to let the server decide), or log in with "password".',
    );
  }
  return failure;
}

function protocolLogger(sink: ImapProtocolLog) {
  const ignore = () => undefined;
  return {
    isLevelEnabled: (level: string) => level === 'debug',
    debug: (entry: { src?: string; msg?: string; cid?: string }) => {
      if ((entry.src === 'c' || entry.src === 's') && entry.msg)
        sink(entry.src === 'c' ? 'C' : 'S', entry.msg, { connection: entry.cid });
    },
    trace: ignore,
    info: ignore,
    warn: ignore,
    error: ignore,
    fatal: ignore,
  };
}
