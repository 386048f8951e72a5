/**
 * A pane as the tests see it: a WebSocket to the agent that collects every message, with
 * helpers to wait for one and to send commands.
 */
import net from 'node:net';
import WebSocket from 'ws';
import type { ServerMessage } from '../../agent/src/protocol/index.js';

/** Opens a socket and collects every message it receives. */
export async function connectPane(port: number, origin = `https://localhost:${port}`) {
  const ws = new WebSocket(`wss://localhost:${port}/ws`, {
    origin,
    rejectUnauthorized: false,
  });
  const received: ServerMessage[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as ServerMessage);
    waiters.splice(0).forEach((w) => w());
  });
  ws.on('close', () => waiters.splice(0).forEach((w) => w()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const { waitFor, reply } = waiting(received, waiters, () => ws.readyState === WebSocket.OPEN);
  const send = (message: unknown) => ws.send(JSON.stringify(message));
  const untilCount = async (count: number) => {
    while (received.length < count) {
      if (ws.readyState !== WebSocket.OPEN) throw new Error('socket closed while waiting');
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  await waitFor((m) => m.type === 'hello');
  return { ws, received, waitFor, reply, send, untilCount };
}

/** Waiting for messages as they come, on either kind of connection. */
function waiting(received: ServerMessage[], waiters: Array<() => void>, open: () => boolean) {
  /** The first message after index `from` that matches. */
  const waitFor = async <T extends ServerMessage>(
    match: (m: ServerMessage) => m is T,
    from = 0,
  ): Promise<T> => {
    for (;;) {
      const found = received.slice(from).find(match);
      if (found) return found;
      if (!open()) throw new Error('socket closed while waiting');
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const reply = (requestId: string) =>
    waitFor((m): m is Extract<ServerMessage, { type: 'reply' }> => {
      return m.type === 'reply' && m.requestId === requestId;
    });
  return { waitFor, reply };
}

export const isType =
  <K extends ServerMessage['type']>(type: K) =>
  (m: ServerMessage): m is Extract<ServerMessage, { type: K }> =>
    m.type === type;

/**
 * A connection to the agent's local socket (local-socket.ts), as the command line makes one:
 * the same messages as a pane's, a JSON message per line.
 */
export async function connectLocal(socketPath: string) {
  const socket = net.connect(socketPath);
  const received: ServerMessage[] = [];
  const waiters: Array<() => void> = [];
  let pending = '';
  socket.on('data', (data: Buffer) => {
    pending += data.toString('utf8');
    for (let lf = pending.indexOf('\n'); lf >= 0; lf = pending.indexOf('\n')) {
      received.push(JSON.parse(pending.slice(0, lf)) as ServerMessage);
      pending = pending.slice(lf + 1);
    }
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('close', () => waiters.splice(0).forEach((w) => w()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const { waitFor, reply } = waiting(received, waiters, () => !socket.destroyed && socket.readable);
  /** A message, or any text as it is (a bad line), with its line end. */
  const send = (message: unknown) =>
    socket.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  await waitFor((m) => m.type === 'hello');
  return { socket, received, waitFor, reply, send };
}
