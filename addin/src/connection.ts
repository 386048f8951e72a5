/**
 * The pane's link to the agent: one WebSocket on the pane's own origin, reconnected with
 * exponential backoff. Every frame is validated against the shared protocol before it reaches
 * the view model; the pane never trusts a frame's shape on faith.
 */
import {
  type ClientMessage,
  parseFrame,
  type ServerMessage,
  ServerMessageSchema,
  WS_PATH,
} from '../../agent/src/protocol/index.js';
import type { ConnectionState } from './view-model.js';

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** Failed attempts in a row before the pane says the agent is not running. */
const ATTEMPTS_BEFORE_NOT_RUNNING = 3;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type Command = DistributiveOmit<ClientMessage, 'requestId'>;

export interface ConnectionHandlers {
  onMessage(message: ServerMessage): void;
  onState(state: ConnectionState): void;
}

export class AgentConnection {
  private socket: WebSocket | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
  ) {}

  static forThisPage(handlers: ConnectionHandlers): AgentConnection {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return new AgentConnection(`${scheme}//${location.host}${WS_PATH}`, handlers);
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
  }

  /** Sends a command; returns its requestId, or null when not connected. */
  send(command: Command): string | null {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return null;
    const requestId = crypto.randomUUID();
    this.socket.send(JSON.stringify({ ...command, requestId }));
    return requestId;
  }

  private open(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.failures = 0;
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      const parsed = parseFrame(ServerMessageSchema, event.data);
      if (!parsed.ok) {
        console.warn('StoreSync: ignored a frame the protocol does not allow:', parsed.error);
        return;
      }
      if (parsed.value.type === 'hello' && this.failures === 0) this.handlers.onState('connected');
      this.handlers.onMessage(parsed.value);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.failures += 1;
      this.handlers.onState(
        this.failures >= ATTEMPTS_BEFORE_NOT_RUNNING ? 'not-running' : 'reconnecting',
      );
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** (this.failures - 1));
      this.timer = setTimeout(() => this.open(), delay);
    });
  }
}
