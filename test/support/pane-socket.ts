/**
 * A pane as the tests see it: a WebSocket to the agent that collects every message, with
 * helpers to wait for one and to send commands.
 */
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
  /** The first message after index `from` that matches. */
  const waitFor = async <T extends ServerMessage>(
    match: (m: ServerMessage) => m is T,
    from = 0,
  ): Promise<T> => {
    for (;;) {
      const found = received.slice(from).find(match);
      if (found) return found;
      if (ws.readyState !== WebSocket.OPEN) throw new Error('socket closed while waiting');
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const reply = (requestId: string) =>
    waitFor((m): m is Extract<ServerMessage, { type: 'reply' }> => {
      return m.type === 'reply' && m.requestId === requestId;
    });
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

export const isType =
  <K extends ServerMessage['type']>(type: K) =>
  (m: ServerMessage): m is Extract<ServerMessage, { type: K }> =>
    m.type === type;
