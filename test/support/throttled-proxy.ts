/**
 * A TCP relay in front of a test server that passes the server's bytes on at a set rate, as a
 * slow link would. End-to-end tests use it so that a sync lasts long enough for a person (or
 * a test) to watch its progress, cancel it, or pull the server away in the middle.
 */
import net from 'node:net';

export interface ThrottledProxy {
  host: string;
  port: number;
  /** Drops every open connection at once, as a server that goes away does to its clients. */
  cutConnections(): void;
  close(): Promise<void>;
}

export async function startThrottledProxy(
  target: { host: string; port: number },
  bytesPerSecond: number,
): Promise<ThrottledProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // Either side going away (the server stopped, the client hung up) ends both.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      upstream.pause();
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    cutConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
