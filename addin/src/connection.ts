/**
 * The pane's link to the agent: one WebSocket on the pane's own origin, reconnected with
 * exponential backoff. Every frame is validated against the shared protocol before it reaches
 * the view model; the pane never trusts a frame's shape on faith. After each hello it shows
 * its token (or trades a one-time code for one) and asks for the errors and dones it missed
 * while away.
 */
import {
  type ClientMessage,
  parseFrame,
  type ServerMessage,
  ServerMessageSchema,
  WS_PATH,
} from '../../agent/src/protocol/index.js';
import type { PaneCredentials } from './pane-credentials.js';
import type { ConnectionState } from './view-model.js';

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** Failed attempts in a row before the pane says the agent is not running. */
const ATTEMPTS_BEFORE_NOT_RUNNING = 3;
/** A handshake that has not finished by then will not: give up on it and try again. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long to wait before showing the token again when the agent said "not now". */
export const AUTH_RETRY_MS = 30_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command as the pane writes it; `send` adds the requestId. */
export type Command = DistributiveOmit<ClientMessage, 'requestId'>;

export interface ConnectionHandlers {
  onMessage(message: ServerMessage): void;
  onState(state: Exclude<ConnectionState, 'connected' | 'incompatible'>): void;
  /**
   * The agent accepted the pane, or the pane must be paired (with why, if it tried), or the
   * agent is not taking tokens just now (`later`: why; the pane keeps its token and tries
   * again by itself).
   */
  onPairing(
    result:
      | { paired: true }
      | { paired: false; error: string | null }
      | { paired: 'later'; reason: string },
  ): void;
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
  private reauthTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  /** The requestId of the auth or pair in flight, whose reply decides the pairing. */
  private authRequest: { requestId: string; kind: 'auth' | 'pair' } | null = null;
  /** Which agent instance the event ids below belong to. */
  private instanceId: string | null = null;
  private lastEventId = 0;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
    private readonly credentials: PaneCredentials,
  ) {}

  static forThisPage(handlers: ConnectionHandlers, credentials: PaneCredentials): AgentConnection {
    return new AgentConnection(agentSocketUrl(), handlers, credentials);
  }

  /** Trades the code `storesync pair` showed for a token; false when not connected. */
  pair(code: string): boolean {
    const requestId = this.send({ type: 'pair', code, clientName: clientName() });
    if (requestId) this.authRequest = { requestId, kind: 'pair' };
    return requestId !== null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.reauthTimer);
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
      const message = parsed.value;
      if (message.type === 'hello') {
        // Only an agent that speaks counts as up; a socket that opens and drops does not.
        this.failures = 0;
        this.everConnected = true;
        this.handlers.onMessage(message);
        this.authenticate(message.instanceId);
        return;
      }
      if (message.type === 'reply' && message.requestId === this.authRequest?.requestId) {
        this.settleAuth(this.authRequest.kind, message.ok, message.token, message.error);
        return;
      }
      if ('eventId' in message && typeof message.eventId === 'number')
        this.lastEventId = Math.max(this.lastEventId, message.eventId);
      if (message.type === 'snapshot')
        this.lastEventId = Math.max(this.lastEventId, message.lastEventId);
      this.handlers.onMessage(message);
    });
    socket.addEventListener('close', () => {
      clearTimeout(handshake);
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.stopped) this.scheduleRetry();
    });
  }

  /** Shows the link's one-time secret, else the kept token, else asks the user to pair. */
  private authenticate(instanceId: string): void {
    if (instanceId !== this.instanceId) {
      // A restarted agent numbers its events afresh: nothing to resume from.
      this.instanceId = instanceId;
      this.lastEventId = 0;
    }
    const linkSecret = this.credentials.takeLinkSecret();
    if (linkSecret) {
      this.pair(linkSecret);
      return;
    }
    const token = this.credentials.token();
    if (!token) {
      this.handlers.onPairing({ paired: false, error: null });
      return;
    }
    const requestId = this.send({
      type: 'auth',
      token,
      ...(this.lastEventId > 0 ? { resume: { instanceId, lastEventId: this.lastEventId } } : {}),
    });
    if (requestId) this.authRequest = { requestId, kind: 'auth' };
  }

  private settleAuth(
    kind: 'auth' | 'pair',
    ok: boolean,
    token: string | undefined,
    error: { code: string; message: string } | undefined,
  ): void {
    this.authRequest = null;
    if (ok) {
      if (kind === 'pair' && token) this.credentials.remember(token);
      this.handlers.onPairing({ paired: true });
      return;
    }
    if (kind === 'auth' && error?.code !== 'UNAUTHORIZED') {
      // Not a verdict on the token (the agent is holding off guesses from somewhere on this
      // machine, say): keeping it, show it again in a while. Forgetting it would let anyone
      // who can reach the port unpair every pane.
      this.handlers.onPairing({
        paired: 'later',
        reason: error?.message ?? 'the agent did not take the token just now',
      });
      this.scheduleReauth();
      return;
    }
    if (kind === 'auth') {
      // The agent forgot this pane (unpaired, or a new dataDir): a new code is needed.
      this.credentials.forget();
      this.handlers.onPairing({ paired: false, error: null });
      return;
    }
    this.handlers.onPairing({
      paired: false,
      error: error?.message ?? 'The code was not accepted.',
    });
  }

  private scheduleReauth(): void {
    const socket = this.socket;
    clearTimeout(this.reauthTimer);
    this.reauthTimer = setTimeout(() => {
      if (this.socket !== socket || !socket || socket.readyState !== WebSocket.OPEN) return;
      if (this.instanceId) this.authenticate(this.instanceId);
    }, AUTH_RETRY_MS);
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

/** How the agent lists this pane among the paired ones. */
function clientName(): string {
  const office = (globalThis as { Office?: { context?: { mailbox?: unknown } } }).Office;
  const inOutlook = Boolean(office?.context?.mailbox);
  const browser = /Edg\//.test(navigator.userAgent)
    ? 'Edge'
    : /Chrome\//.test(navigator.userAgent)
      ? 'Chromium'
      : /Firefox\//.test(navigator.userAgent)
        ? 'Firefox'
        : /Safari\//.test(navigator.userAgent)
          ? 'Safari'
          : 'a browser';
  return inOutlook ? `Outlook (${browser})` : `${browser} on this computer`;
}
