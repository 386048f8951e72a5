/**
 * A TCP relay in front of the IMAP server that counts the bytes each way, so every tool's
 * traffic is measured the same way, outside the tool. Reset between measurements.
 */
import net from 'node:net';

export interface ByteCounts {
  /** Server → client (what the tool downloaded, protocol overhead included). */
  down: number;
  /** Client → server. */
  up: number;
  connections: number;
}

export interface ByteProxy {
  port: number;
  counts(): ByteCounts;
  reset(): void;
  /** Points new connections at another port (the server restarted with other settings). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startByteProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<ByteProxy> {
  let counts: ByteCounts = { down: 0, up: 0, connections: 0 };
  let target = targetPort;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    counts.connections += 1;
    const upstream = net.connect(target, targetHost);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    // Count on 'data' and forward with backpressure, as a plain relay would.
    upstream.on('data', (chunk: Buffer) => {
      counts.down += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('data', (chunk: Buffer) => {
      counts.up += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    counts: () => ({ ...counts }),
    retarget: (port) => {
      target = port;
    },
    reset: () => {
      counts = { down: 0, up: 0, connections: 0 };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
