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
/** A handshake that has not finished by then will not: give up on it and try again. */
const CONNECT_TIMEOUT_MS = 5_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command as the pane writes it; `send` adds the requestId. */
export type Command = DistributiveOmit<ClientMessage, 'requestId'>;

export interface ConnectionHandlers {
  onMessage(message: ServerMessage): void;
  onState(state: Exclude<ConnectionState, 'connected' | 'incompatible'>): void;
}

/** `wss://<this host>/ws` for the page as the agent serves it (`ws:` only on plain http). */
export function agentSocketUrl(where: Pick<Location, 'protocol' | 'host'> = location): string {
  const scheme = where.protocol === 'http:' ? 'ws:' : 'wss:';
  return `${scheme}//${where.host}${WS_PATH}`;
}

/** Delay before attempt number `failures + 1`: 0.5 s, 1 s, 2 s, … capped at 10 s. */
export function backoffDelay(failures: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** Math.max(0, failures - 1));
}

export class AgentConnection {
  private socket: WebSocket | null = null;
  /** Attempts in a row that ended before the agent said hello. */
  private failures = 0;
  private everConnected = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
  ) {}

  static forThisPage(handlers: ConnectionHandlers): AgentConnection {
    return new AgentConnection(agentSocketUrl(), handlers);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  /** Skips the rest of the backoff wait (a "Try again" click, the pane becoming visible). */
  retryNow(): void {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sends a command with a fresh requestId and returns it; null when not connected. */
  send(command: Command): string | null {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return null;
    const requestId = crypto.randomUUID();
    socket.send(JSON.stringify({ ...command, requestId }));
    return requestId;
  }

  private open(): void {
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      // Only a malformed URL throws here; treat it like a refused connection.
      console.warn('StoreSync: cannot open the agent connection:', err);
      this.socket = null;
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    const handshake = setTimeout(() => socket.close(), CONNECT_TIMEOUT_MS);
    socket.addEventListener('open', () => clearTimeout(handshake));
    socket.addEventListener('message', (event: MessageEvent) => {
      if (this.socket !== socket) return;
      if (typeof event.data !== 'string') {
        console.warn('StoreSync: ignored a binary frame from the agent');
        return;
      }
      const parsed = parseFrame(ServerMessageSchema, event.data);
      if (!parsed.ok) {
        console.warn('StoreSync: ignored a frame the protocol does not allow:', parsed.error);
        return;
      }
      if (parsed.value.type === 'hello') {
        // Only an agent that speaks counts as up; a socket that opens and drops does not.
        this.failures = 0;
        this.everConnected = true;
      }
      this.handlers.onMessage(parsed.value);
    });
    socket.addEventListener('close', () => {
      clearTimeout(handshake);
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.stopped) this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    this.failures += 1;
    this.handlers.onState(
      this.failures >= ATTEMPTS_BEFORE_NOT_RUNNING
        ? 'not-running'
        : this.everConnected
          ? 'reconnecting'
          : 'connecting',
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.failures));
  }
}
