/**
 * The command line's way to an agent that has no local socket: its WebSocket over HTTPS, as
 * a pane's, with its certificate checked against the agent's own CA. Loaded only when needed:
 * it brings TLS, HTTP and the WebSocket library with it.
 */
import { WebSocket } from 'ws';
import { WS_PATH } from '../protocol/index.js';
import type { AgentEndpoint } from './agent-client.js';
import type { AgentChannel, AgentChannelEvents } from './agent-sync.js';

/** How long the agent may take to accept the connection. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export function openWebSocketChannel(
  agent: AgentEndpoint,
  events: AgentChannelEvents,
): AgentChannel {
  // The agent's own origin: the WebSocket refuses any other (loopback-policy.ts).
  const origin = `https://127.0.0.1:${agent.port}`;
  const ws = new WebSocket(`wss://127.0.0.1:${agent.port}${WS_PATH}`, {
    ca: agent.ca,
    origin,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) events.message(data.toString('utf8'));
  });
  ws.on('error', (err) => events.error(err, origin));
  ws.on('close', () => events.close());
  return {
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
    send: (message) => ws.send(JSON.stringify(message)),
    close: () => ws.close(),
    terminate: () => ws.terminate(),
  };
}
