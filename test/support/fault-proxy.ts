/**
 * A TCP proxy between the agent and Dovecot that misbehaves on request, as networks do: it
 * cuts a connection after so many bytes or when the server says something, stalls one
 * direction for a while, or delays every chunk. Faults are armed for the next connection that
 * meets them and then disarmed, so the engine's retry meets a healthy network.
 */
import net from 'node:net';

export type Fault =
  /** Cut once the server has sent this many bytes on the connection (mid-FETCH). */
  | { kind: 'cut-after-server-bytes'; bytes: number }
  /** Cut once the client has sent this many bytes on the connection (mid-APPEND). */
  | { kind: 'cut-after-client-bytes'; bytes: number }
  /**
   * Cut when the client's output matches, before that chunk reaches the server (a command
   * sent into a connection that has just dropped: the server never runs it).
   */
  | { kind: 'cut-when-client-says'; pattern: RegExp }
  /** Cut when the server's output matches (e.g. /\+ idling/ for mid-IDLE). */
  | { kind: 'cut-when-server-says'; pattern: RegExp }
  /** Hold the server's bytes for `ms` once it has sent `afterBytes`, then let them through. */
  | { kind: 'stall-server'; afterBytes: number; ms: number }
  /**
   * Hold the client's bytes from the chunk that matches until `meanwhile` has run (another
   * client changes the mailbox between two commands of this one, e.g. SEARCH and FETCH).
   */
  | { kind: 'hold-client-when-says'; pattern: RegExp; meanwhile: () => Promise<void> }
  /**
   * Leave out the first whole line of the server's that matches, as a broken server does
   * (one response of a FETCH missing, say); the rest passes unchanged.
   */
  | { kind: 'drop-server-line'; pattern: RegExp }
  /** Rewrite the first whole line of the server's that matches (say it twice, garble it). */
  | { kind: 'edit-server-line'; pattern: RegExp; edit: (line: string) => string };

export interface FaultProxy {
  host: string;
  port: number;
  /** Arms a fault for the next connection that meets it. */
  arm(fault: Fault): void;
  /** Faults that have fired so far, in order. */
  readonly fired: Fault[];
  /** Every connection ever made through the proxy. */
  readonly connections: number;
  /** Connections open now. */
  readonly openConnections: number;
  /** Cuts every open connection now (a network drop). */
  cutAll(): void;
  /**
   * Nothing passes any more, either way, on the connections open now, and none is closed: a
   * laptop woken from sleep whose router forgot them sends into the void and hears nothing.
   */
  silenceAll(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const armed: Fault[] = [];
  const fired: Fault[] = [];
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  const silenced = new WeakSet<net.Socket>();
  let connections = 0;

  const server = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    clients.add(client);
    let fromServer = 0;
    let fromClient = 0;
    let serverText = '';
    let stalled: Buffer[] | null = null;
    let held: Buffer[] | null = null;
    const cut = (fault: Fault) => {
      armed.splice(armed.indexOf(fault), 1);
      fired.push(fault);
      client.destroy();
      upstream.destroy();
    };
    const forget = () => {
      clients.delete(client);
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', () => {
      upstream.destroy();
      forget();
    });
    upstream.on('close', () => {
      client.destroy();
      forget();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());

    client.on('data', (chunk: Buffer) => {
      if (silenced.has(client)) return;
      fromClient += chunk.length;
      if (held) {
        held.push(chunk);
        return;
      }
      const hold = armed.find(
        (f) => f.kind === 'hold-client-when-says' && f.pattern.test(chunk.toString('latin1')),
      );
      if (hold && hold.kind === 'hold-client-when-says') {
        armed.splice(armed.indexOf(hold), 1);
        fired.push(hold);
        const queue: Buffer[] = [chunk];
        held = queue;
        void hold.meanwhile().finally(() => {
          held = null;
          for (const b of queue) upstream.write(b);
        });
        return;
      }
      const unsent = armed.find(
        (f) => f.kind === 'cut-when-client-says' && f.pattern.test(chunk.toString('latin1')),
      );
      if (unsent) return cut(unsent);
      const fault = armed.find((f) => f.kind === 'cut-after-client-bytes' && fromClient >= f.bytes);
      if (fault) {
        // Let the part before the limit through: the server sees a truncated command.
        const keep = chunk.length - (fromClient - (fault as { bytes: number }).bytes);
        if (keep > 0) upstream.write(chunk.subarray(0, keep));
        return cut(fault);
      }
      upstream.write(chunk);
    });
    /** Server bytes kept back until a whole line can be told apart (a drop is armed). */
    let partialLine: Buffer | null = null;
    upstream.on('data', (chunk: Buffer) => {
      if (silenced.has(client)) return;
      // Every armed line fault looks at every line: each fires on the first it matches.
      const lineFaults = () =>
        armed.filter(
          (f): f is Extract<Fault, { kind: 'drop-server-line' | 'edit-server-line' }> =>
            f.kind === 'drop-server-line' || f.kind === 'edit-server-line',
        );
      if (lineFaults().length > 0) {
        let text = Buffer.concat([partialLine ?? Buffer.alloc(0), chunk]);
        partialLine = null;
        const out: Buffer[] = [];
        for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n')) {
          const line = text.subarray(0, end + 2);
          text = text.subarray(end + 2);
          const fault = lineFaults().find((f) => f.pattern.test(line.toString('latin1')));
          if (fault) {
            armed.splice(armed.indexOf(fault), 1);
            fired.push(fault);
            if (fault.kind === 'edit-server-line')
              out.push(Buffer.from(fault.edit(line.toString('latin1')), 'latin1'));
            continue;
          }
          out.push(line);
        }
        if (lineFaults().length > 0) partialLine = text;
        else out.push(text);
        chunk = Buffer.concat(out);
        if (chunk.length === 0) return;
      }
      fromServer += chunk.length;
      if (stalled) {
        stalled.push(chunk);
        return;
      }
      serverText = (serverText + chunk.toString('latin1')).slice(-4096);
      for (const fault of armed) {
        if (
          (fault.kind === 'cut-after-server-bytes' && fromServer >= fault.bytes) ||
          (fault.kind === 'cut-when-server-says' && fault.pattern.test(serverText))
        ) {
          if (fault.kind === 'cut-after-server-bytes') {
            const keep = chunk.length - (fromServer - fault.bytes);
            if (keep > 0) client.write(chunk.subarray(0, keep));
          }
          return cut(fault);
        }
        if (fault.kind === 'stall-server' && fromServer >= fault.afterBytes) {
          armed.splice(armed.indexOf(fault), 1);
          fired.push(fault);
          client.write(chunk);
          const held: Buffer[] = [];
          stalled = held;
          setTimeout(() => {
            stalled = null;
            for (const b of held) client.write(b);
          }, fault.ms);
          return;
        }
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    arm: (fault) => armed.push(fault),
    fired,
    get connections() {
      return connections;
    },
    get openConnections() {
      return clients.size;
    },
    cutAll: () => sockets.forEach((s) => s.destroy()),
    silenceAll: () => clients.forEach((c) => silenced.add(c)),
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
