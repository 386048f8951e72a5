/**
 * The agent's local socket, `<dataDir>/agent.sock`: the way `storesync sync --once` reaches the
 * running agent. The same protocol as the pane's WebSocket (protocol/index.ts), one JSON
 * message per line in each direction, with no TLS or HTTP between: a command beside the agent
 * then loads neither (33 of ~250 ms at 20k, BENCHMARKS.md change 31).
 *
 * Who may connect is settled by the file system: the socket is the owner's alone (0600) in a
 * dataDir that is (0700), and browsers cannot open Unix sockets at all. A connection still
 * shows the dataDir's CLI token before it may do anything. Not on Windows (its named pipes
 * live elsewhere): there the command uses the WebSocket, as it does wherever the socket is
 * missing.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { PaneConnection } from './pane-client.js';

/**
 * Longest socket path that binds everywhere: sun_path holds 108 bytes on Linux and 104 on the
 * BSDs and macOS, with the terminating NUL.
 */
const MAX_SOCKET_PATH_BYTES = 103;
/** How long connections still open may finish when the agent stops, before they are cut. */
const LINGER_MS = 1000;

export interface LocalSocketServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on the dataDir's socket, or resolves to null (with the reason) where there can be
 * none: Windows, or a dataDir whose path is too long for a socket.
 */
export async function listenLocalSocket(
  dataDir: string,
  onConnection: (socket: net.Socket) => void,
): Promise<LocalSocketServer | { unavailable: string }> {
  if (process.platform === 'win32') return { unavailable: 'not on Windows' };
  const file = path.join(dataDir, 'agent.sock');
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH_BYTES) {
    return { unavailable: `the dataDir's path is too long for a socket (${file})` };
  }
  // One left by an agent that did not stop cleanly: this one holds the dataDir's lock now.
  fs.rmSync(file, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(file, 0o600);
  return {
    path: file,
    close: () =>
      new Promise<void>((resolve) => {
        // A command that stopped reading must not hold up the agent's exit: what the hub
        // queued (agentStopping) has had its moment when this runs out.
        const linger = setTimeout(() => sockets.forEach((socket) => socket.destroy()), LINGER_MS);
        server.close(() => {
          clearTimeout(linger);
          fs.rmSync(file, { force: true });
          resolve();
        });
      }),
  };
}

/**
 * A connection to the local socket as the hub sees one. Emits 'line' (a Buffer without its
 * LF) for every message, 'close', 'error', and 'overlong' before it closes a connection that
 * sends more than `maxLineBytes` without a line end.
 */
export class LocalConnection extends EventEmitter implements PaneConnection {
  private parts: Buffer[] = [];
  private partBytes = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxLineBytes: number,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('close', () => this.emit('close'));
    socket.on('error', (err) => this.emit('error', err));
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  send(text: string): void {
    // JSON.stringify escapes line breaks inside strings: a message is always one line.
    this.socket.write(`${text}\n`);
  }

  close(): void {
    this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }

  ping(): boolean {
    return false;
  }

  private take(chunk: Buffer): void {
    let at = 0;
    for (let lf = chunk.indexOf(0x0a, at); lf >= 0; lf = chunk.indexOf(0x0a, at)) {
      const tail = chunk.subarray(at, lf);
      const line = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]);
      this.parts = [];
      this.partBytes = 0;
      at = lf + 1;
      if (line.length > this.maxLineBytes) return this.overlong();
      this.emit('line', line);
      if (this.socket.destroyed) return;
    }
    if (at < chunk.length) {
      this.parts.push(chunk.subarray(at));
      this.partBytes += chunk.length - at;
      if (this.partBytes > this.maxLineBytes) this.overlong();
    }
  }

  private overlong(): void {
    this.parts = [];
    this.partBytes = 0;
    this.emit('overlong');
    this.socket.destroy();
  }
}
