/**
 * Read-only IMAP probes for the doctor: can we reach the server, does TLS verify, does the
 * login work and what does the server offer. Login goes through the engine's own
 * openImapSession, so the doctor sees exactly what a sync would; nothing is selected or
 * changed on the server.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { AccountConfig } from '../config/load.js';
import { openImapSession } from '../sync/imap-session.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** Opens a TCP connection and closes it again. */
export function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
      socket.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })),
    );
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

export interface TlsProbe {
  protocol: string;
  /** null when the chain and host name verified. */
  authorizationError: string | null;
  subject: string;
  issuer: string;
  validTo: Date;
}

/** Reads lines from a plain socket until one matches (the STARTTLS dance needs two). */
function readUntil(socket: net.Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      const line = text.split('\r\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        cleanup();
        resolve(line);
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`the server closed the connection (it said: ${text.trim() || 'nothing'})`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', reject);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', reject);
  });
}

async function startTls(host: string, port: number): Promise<net.Socket> {
  const socket = net.connect({ host, port });
  socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
    socket.destroy(new Error('no answer from the server')),
  );
  try {
    await readUntil(socket, /^\* (OK|PREAUTH|BYE)/i);
    socket.write('D1 STARTTLS\r\n');
    const answer = await readUntil(socket, /^D1 /);
    if (!/^D1 OK/i.test(answer)) throw new Error(`the server refused STARTTLS: ${answer}`);
    socket.setTimeout(0);
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * A TLS handshake as the account is configured (implicit, or STARTTLS on the plain port).
 * Verification failures are returned, not thrown, so the doctor can say which one it was.
 */
export async function probeTls(account: AccountConfig): Promise<TlsProbe> {
  const { host, port } = account.imap;
  const plain = account.imap.tls === 'starttls' ? await startTls(host, port) : undefined;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(plain ? { socket: plain } : {}),
      servername: net.isIP(host) ? undefined : host,
      rejectUnauthorized: false, // we report the verdict ourselves
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
      socket.destroy(new Error('TLS handshake timed out (is this a TLS port?)')),
    );
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const result: TlsProbe = {
        protocol: socket.getProtocol() ?? 'TLS',
        authorizationError: socket.authorized ? null : String(socket.authorizationError),
        subject: firstOf(cert.subject?.CN),
        issuer: firstOf(cert.issuer?.CN ?? cert.issuer?.O),
        validTo: new Date(cert.valid_to),
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

/** Certificate fields may repeat (string[]); one is enough to name it. */
function firstOf(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Logs in as a sync would and returns the server's capabilities after login. */
export async function probeLogin(account: AccountConfig): Promise<string[]> {
  const client = await openImapSession(account);
  try {
    return [...client.capabilities.keys()].map((c) => c.toUpperCase()).sort();
  } finally {
    await client.logout().catch(() => client.close());
  }
}
