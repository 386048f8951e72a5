/**
 * Connections dialled while the one-shot CLI is still loading. Between reading its config and
 * its first IMAP command, `storesync sync` loads the engine and opens the sync state (about a
 * tenth of a second); meanwhile the server can accept the TCP connection and send its greeting,
 * which on a remote server is one or two round trips and on a local one the start of a login
 * process. The first session of each account takes its dialled socket through imapflow's
 * `transport` option; TLS (implicit or STARTTLS) is started on it with exactly the options
 * imapflow would use itself, so certificate checks are unchanged. A socket that failed or
 * closed before it was taken is replaced by a new connection made as imapflow would make it.
 *
 * This module is loaded before the engine (cli.ts), so it keeps to `node:net`; TLS is loaded
 * when a connection needs it.
 */
import type {
  ImapTransport,
  ImapTransportConnectOptions,
  ImapTransportOptions,
  ImapTransportSocket,
} from 'imapflow';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { AccountConfig } from '../config/load.js';

interface Dialled {
  socket: net.Socket;
  /** The listeners this module added, removed when the socket is taken. */
  listeners: Array<[event: string, listener: (chunk: Buffer) => void]>;
  /** What the server sent before the socket was taken (its greeting). */
  received: Buffer[];
}

const loadTls = () => createRequire(import.meta.url)('node:tls') as typeof import('node:tls');

/** The same options imapflow gives tls.connect (host kept: it verifies IP-address servers). */
function tlsOptions(
  options: ImapTransportOptions,
  socket?: ImapTransportSocket,
): ConnectionOptions {
  return {
    ...(socket ? { socket } : {}),
    host: options.host,
    port: options.port,
    ...(options.servername ? { servername: options.servername } : {}),
    ...options.tls,
  };
}

/** A connection made as imapflow makes it without a transport. */
function dialAsImapflow(
  options: ImapTransportConnectOptions,
  onConnect: () => void,
): ImapTransportSocket {
  return options.secure
    ? loadTls().connect(tlsOptions(options), onConnect)
    : net.connect({ host: options.host, port: options.port }, onConnect);
}

export class EarlyDials {
  private readonly dialled = new Map<string, Dialled>();

  /** Starts one TCP connection for each account (its first session's). */
  static start(accounts: readonly AccountConfig[]): EarlyDials {
    const dials = new EarlyDials();
    for (const account of accounts) dials.dial(account);
    return dials;
  }

  private dial(account: AccountConfig): void {
    const socket = net.connect({ host: account.imap.host, port: account.imap.port });
    const dialled: Dialled = { socket, listeners: [], received: [] };
    // Read as it comes, so that a server closing the connection is seen (a paused socket
    // would hold its end behind the unread greeting); handed back to the stream when taken.
    // A failure is reported, if it matters, by the connection that replaces this one.
    dialled.listeners = [
      ['data', (chunk: Buffer) => dialled.received.push(chunk)],
      ['error', () => undefined],
    ];
    for (const [event, listener] of dialled.listeners) socket.on(event, listener);
    // Never what keeps the process alive: a run that does not take it still ends.
    socket.unref();
    this.dialled.set(keyOf(account), dialled);
  }

  /** The transport that hands this account's dialled socket to imapflow; null once taken. */
  take(account: AccountConfig): Required<Pick<ImapTransport, 'connect' | 'upgrade'>> | null {
    const key = keyOf(account);
    const dialled = this.dialled.get(key);
    if (!dialled) return null;
    this.dialled.delete(key);
    return {
      connect(options, onConnect) {
        const { socket } = dialled;
        // A socket that failed or that the server closed, or another host or port: dial anew.
        const usable =
          !socket.destroyed &&
          !socket.readableEnded &&
          options.host === account.imap.host &&
          options.port === account.imap.port;
        if (!usable) {
          socket.destroy();
          return dialAsImapflow(options, onConnect);
        }
        for (const [event, listener] of dialled.listeners) socket.off(event, listener);
        socket.pause();
        if (dialled.received.length > 0) socket.unshift(Buffer.concat(dialled.received));
        socket.ref();
        if (options.secure) return loadTls().connect(tlsOptions(options, socket), onConnect);
        // imapflow installs its handlers after connect() returns: report the connection then.
        if (socket.connecting) socket.once('connect', onConnect);
        else setImmediate(onConnect);
        return socket;
      },
      upgrade(socket, options, onSecure) {
        return loadTls().connect(tlsOptions(options, socket), onSecure);
      },
    };
  }

  /** Closes the sockets no session took (an account that failed before connecting). */
  close(): void {
    for (const { socket } of this.dialled.values()) socket.destroy();
    this.dialled.clear();
  }
}

/** An account's dialled socket serves only its own config's server. */
function keyOf(account: AccountConfig): string {
  return `${account.id}\0${account.imap.host}\0${account.imap.port}`;
}
