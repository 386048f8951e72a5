/**
 * The WebSocket hub: fans the engine's events out to every paired pane and turns the panes'
 * commands into engine calls. Every frame in is validated against the protocol; a bad one
 * gets an error reply and the connection lives on. Until a connection shows a token (`auth`)
 * or trades a one-time code for one (`pair`), it gets nothing but its hello.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { AGENT_VERSION } from '../package-info.js';
import {
  ClientMessageSchema,
  MAX_FRAME_BYTES,
  parseFrame,
  PROTOCOL_VERSION,
  type ClientMessage,
  type ReplyMessage,
  type ServerMessage,
  SNAPSHOT_HISTORY,
  type SnapshotMessage,
  type SyncEvent,
  type SyncTrigger,
  WS_PATH,
} from '../protocol/index.js';
import { type SyncEngine, NotInStateError, UnknownAccountError } from '../sync/engine.js';
import { SyncFailure } from '../sync/errors.js';
import type { SyncLogger } from '../sync/logger.js';
import { EventJournal } from './event-journal.js';
import type { LoopbackPolicy } from './loopback-policy.js';
import { LocalConnection } from './local-socket.js';
import { MAX_AUTH_FAILURES, PaneClient, type PaneConnection } from './pane-client.js';
import type { PairingStore } from './pairing.js';
import { ProgressCoalescer } from './progress-coalescer.js';

/** Frames above MAX_FRAME_BYTES get an error reply; above this the socket is closed. */
const HARD_FRAME_LIMIT = 16 * MAX_FRAME_BYTES;
const HEARTBEAT_MS = 30_000;
const DRAIN_CHECK_MS = 250;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Wrong tokens and codes, over all connections, before guesses get no answer for a while. */
const MAX_GUESSES_PER_MINUTE = 30;

/** Counts failures in a sliding window; `limited` once there are too many. */
class FailureWindow {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  record(): void {
    this.times.push(Date.now());
  }
  limited(): boolean {
    const since = Date.now() - this.windowMs;
    this.times = this.times.filter((t) => t > since);
    return this.times.length >= this.max;
  }
}

type Reply = Omit<ReplyMessage, 'type' | 'requestId'>;

export class WsHub {
  /** Changes at every start: a pane's last event id is only good with the same agent. */
  readonly instanceId = randomUUID();
  // UTF-8 is checked here rather than by ws, which would close the connection on a bad text
  // frame: a pane's mistake gets an error reply, like any other bad frame.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: HARD_FRAME_LIMIT,
    skipUTF8Validation: true,
  });
  private readonly clients = new Set<PaneClient>();
  private readonly journal = new EventJournal();
  private readonly guessing = new FailureWindow(MAX_GUESSES_PER_MINUTE, 60_000);
  private readonly coalescer: ProgressCoalescer;
  /** Accounts of each run in progress, to announce their new counts when it is done. */
  private readonly runAccounts = new Map<string, string[]>();
  private readonly timers: NodeJS.Timeout[];
  private readonly unsubscribe: () => void;

  constructor(
    private readonly engine: SyncEngine,
    private readonly policy: LoopbackPolicy,
    private readonly pairing: PairingStore,
    private readonly log: SyncLogger,
  ) {
    this.coalescer = new ProgressCoalescer((event) => this.publish(event));
    this.unsubscribe = engine.onEvent((event) => this.onEngineEvent(event));
    // "Unpair every pane" (a lost laptop) must not leave one connected now still in: its
    // connection closes, and its token, shown again on reconnecting, is refused.
    pairing.onRevokeAll(() => {
      for (const client of this.clients) {
        if (!client.authenticated || client.cli) continue;
        client.authenticated = false;
        client.connection.close(4001, 'unpaired');
      }
    });
    this.wss.on('connection', (ws) => {
      // One pane's trouble must never take the agent (and every other pane) down.
      try {
        this.onWebSocket(ws);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'websocket connection setup failed');
        ws.close(1011, 'internal error');
      }
    });
    this.timers = [
      setInterval(() => this.checkHeartbeats(), HEARTBEAT_MS),
      setInterval(() => this.clients.forEach((c) => c.drain()), DRAIN_CHECK_MS),
    ];
    this.timers.forEach((t) => t.unref());
  }

  /** Called for every HTTP upgrade; refuses with 403 before the handshake when not allowed. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const refusal =
      url.pathname !== WS_PATH
        ? '404 Not Found'
        : !this.policy.hostAllowed(req.headers.host)
          ? '403 Forbidden'
          : !this.policy.originAllowed(req.headers.origin)
            ? '403 Forbidden'
            : null;
    if (refusal) {
      this.log.warn(
        { path: url.pathname, host: req.headers.host, origin: req.headers.origin },
        'websocket refused',
      );
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /**
   * A connection to the local socket (local-socket.ts): the same protocol as a WebSocket, a
   * JSON message per line. It reaches the agent only through the dataDir, so it needs no Host
   * or Origin check, and like any connection it gets nothing but its hello until it shows a
   * token.
   */
  acceptLocal(socket: Socket): void {
    try {
      const connection = new LocalConnection(socket, HARD_FRAME_LIMIT);
      const client = this.attach(connection);
      connection.on('line', (line) => this.receive(client, line, false));
      connection.on('close', () => this.clients.delete(client));
      connection.on('error', (err) => this.log.debug({ err: err.message }, 'local socket error'));
      connection.on('overlong', () => {
        this.log.warn({ limit: HARD_FRAME_LIMIT }, 'local socket sent an overlong line; closed');
      });
      this.hello(client);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'local connection setup failed');
      socket.destroy();
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The state a pane (or `storesync status`) needs before events make sense. */
  snapshot(): SnapshotMessage {
    return {
      type: 'snapshot',
      accounts: this.engine.accountSummaries(),
      running: this.engine.running().map((run) => ({
        syncId: run.syncId,
        accountIds: run.accountIds,
        startedAt: run.startedAt,
        progress: [...run.progress.values()],
      })),
      history: this.engine.history(SNAPSHOT_HISTORY),
      lastEventId: this.journal.lastId,
    };
  }

  /** Sends every paired pane a fresh snapshot (after a config reload). */
  refresh(): void {
    const snapshot = this.snapshot();
    for (const client of this.clients) if (client.authenticated) client.send(snapshot);
  }

  /** Tells every pane the agent is going away, then closes their sockets. */
  async close(reason = 'the agent is stopping'): Promise<void> {
    this.timers.forEach((t) => clearInterval(t));
    this.unsubscribe();
    this.coalescer.close();
    for (const client of this.clients) {
      client.send({ type: 'agentStopping', reason });
      client.connection.close(1001, 'agent stopping');
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onWebSocket(ws: WebSocket): void {
    const client = this.attach(new WebSocketConnection(ws));
    ws.on('close', () => this.clients.delete(client));
    ws.on('pong', () => (client.alive = true));
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'websocket error'));
    ws.on('message', (data, isBinary) => this.receive(client, data, isBinary));
    this.hello(client);
  }

  private attach(connection: PaneConnection): PaneClient {
    const client = new PaneClient(connection);
    this.clients.add(client);
    return client;
  }

  private receive(client: PaneClient, data: RawData, isBinary: boolean): void {
    this.onFrame(client, data, isBinary).catch((err: Error) => {
      this.log.error({ err: err.message }, 'command failed');
      client.send({
        type: 'protocolError',
        code: 'BAD_FRAME',
        message: 'the agent could not handle this frame',
      });
    });
  }

  private hello(client: PaneClient): void {
    client.send({
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      agentVersion: AGENT_VERSION,
      instanceId: this.instanceId,
    });
  }

  private async onFrame(client: PaneClient, data: RawData, isBinary: boolean): Promise<void> {
    const size = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : (data as Buffer).byteLength;
    if (size > MAX_FRAME_BYTES) {
      client.send({
        type: 'protocolError',
        code: 'FRAME_TOO_LARGE',
        message: `frames are limited to ${MAX_FRAME_BYTES} bytes`,
      });
      return;
    }
    if (isBinary) {
      client.send({
        type: 'protocolError',
        code: 'BAD_FRAME',
        message: 'binary frames are not part of the protocol',
      });
      return;
    }
    let text: string;
    try {
      text = UTF8.decode(Array.isArray(data) ? Buffer.concat(data) : (data as Buffer));
    } catch {
      client.send({
        type: 'protocolError',
        code: 'BAD_FRAME',
        message: 'text frames must be valid UTF-8',
      });
      return;
    }
    const parsed = parseFrame(ClientMessageSchema, text);
    if (!parsed.ok) {
      const requestId = extractRequestId(text);
      if (requestId)
        client.send({
          type: 'reply',
          requestId,
          ok: false,
          error: { code: 'BAD_REQUEST', message: parsed.error },
        });
      else client.send({ type: 'protocolError', code: 'BAD_FRAME', message: parsed.error });
      return;
    }
    const command = parsed.value;
    const reply = await this.execute(client, command);
    client.send({ type: 'reply', requestId: command.requestId, ...reply });
    if (command.type === 'auth' || command.type === 'pair') {
      if (reply.ok) this.welcome(client, command.type === 'auth' ? command.resume : undefined);
      else if (client.authFailures >= MAX_AUTH_FAILURES) {
        client.connection.close(1008, 'not paired');
      }
    }
  }

  /** A newly authenticated pane: the current state, then what it missed since it last heard. */
  private welcome(
    client: PaneClient,
    resume: { instanceId: string; lastEventId: number } | undefined,
  ): void {
    client.send(this.snapshot());
    if (resume && resume.instanceId === this.instanceId) {
      for (const event of this.journal.since(resume.lastEventId)) client.send(event);
    }
  }

  private async execute(client: PaneClient, command: ClientMessage): Promise<Reply> {
    if ((command.type === 'auth' || command.type === 'pair') && this.guessing.limited()) {
      // Someone is guessing across connections: stop answering guesses for a while.
      client.authFailures += 1;
      return failed(
        'RATE_LIMITED',
        'too many wrong tokens or codes just now; wait a minute and try again',
      );
    }
    if (command.type === 'auth') {
      if (this.pairing.verify(command.token)) {
        client.authenticated = true;
        client.cli = this.pairing.isCliToken(command.token);
        return { ok: true };
      }
      client.authFailures += 1;
      this.guessing.record();
      this.log.warn({ failures: client.authFailures }, 'websocket presented an unknown token');
      return failed(
        'UNAUTHORIZED',
        'this pane is not paired with the agent (or was unpaired): pair it again with `storesync pair`',
      );
    }
    if (command.type === 'pair') {
      const token = this.pairing.redeem(command.code, command.clientName);
      if (token) {
        client.authenticated = true;
        this.log.info({ client: command.clientName ?? null }, 'pane paired');
        return { ok: true, token };
      }
      client.authFailures += 1;
      this.guessing.record();
      this.log.warn({ failures: client.authFailures }, 'pairing code refused');
      return failed(
        'PAIRING_FAILED',
        'that code is wrong, used or expired: run `storesync pair` for a new one',
      );
    }
    if (!client.authenticated) {
      return failed('UNAUTHORIZED', 'pair this pane with the agent first (`storesync pair`)');
    }
    try {
      return await this.executeCommand(command, client.cli ? 'cli' : 'user');
    } catch (err) {
      if (err instanceof UnknownAccountError) return failed('UNKNOWN_ACCOUNT', err.message);
      if (err instanceof NotInStateError) return failed('NOT_FOUND', err.message);
      if (err instanceof SyncFailure) return failed(err.code, err.message);
      this.log.error({ err: (err as Error).message, command: command.type }, 'command failed');
      return failed('INTERNAL', (err as Error).message);
    }
  }

  private async executeCommand(
    command: Exclude<ClientMessage, { type: 'auth' | 'pair' }>,
    trigger: SyncTrigger,
  ): Promise<Reply> {
    switch (command.type) {
      case 'sync': {
        const run = this.engine.start({
          accountIds: command.accountId ? [command.accountId] : undefined,
          folders: command.folders,
          flags: command.flags,
          trigger,
        });
        return { ok: true, syncId: run.syncId };
      }
      case 'cancel':
        return this.engine.cancel(command.syncId)
          ? { ok: true, syncId: command.syncId }
          : failed('NOT_RUNNING', 'no such sync is running');
      case 'fetchBody': {
        const { fetched, size, path } = await this.engine.fetchMessage(
          command.accountId,
          command.folder,
          command.uid,
        );
        // Where the file is, for `storesync fetch` (it prints it); a pane is not told.
        return { ok: true, body: { size, fetched, ...(trigger === 'cli' ? { path } : {}) } };
      }
      case 'lookupMessage':
        return { ok: true, locations: await this.engine.lookupMessage(command.internetMessageId) };
      case 'getHistory':
        return { ok: true, history: this.engine.history(command.limit ?? 50, command.before) };
    }
  }

  private onEngineEvent(event: SyncEvent): void {
    switch (event.type) {
      case 'progress':
        this.coalescer.push(event);
        return;
      case 'syncStarted':
        this.runAccounts.set(event.syncId, event.accountIds);
        this.publish(event);
        return;
      case 'error':
        this.coalescer.flush(event.syncId);
        this.publish(event);
        return;
      case 'done': {
        this.coalescer.forget(event.syncId);
        this.publish(event);
        // The run changed the counts and last-sync times the panes show.
        const accounts = this.runAccounts.get(event.syncId) ?? [];
        this.runAccounts.delete(event.syncId);
        for (const id of accounts) {
          const account = this.engine.accountSummary(id);
          if (account) this.sendToPaired({ type: 'accountState', account });
        }
      }
    }
  }

  private publish(event: SyncEvent): void {
    const numbered = this.journal.record(event);
    for (const client of this.clients) {
      if (!client.authenticated) continue;
      if (event.type === 'error' || event.type === 'done') client.flushProgressOf(event.syncId);
      client.send(numbered);
    }
  }

  private sendToPaired(message: ServerMessage): void {
    for (const client of this.clients) if (client.authenticated) client.send(message);
  }

  private checkHeartbeats(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.connection.terminate();
        continue;
      }
      client.alive = !client.connection.ping();
    }
  }
}

function failed(code: string, message: string): Reply {
  return { ok: false, error: { code, message } };
}

/** Best effort: a frame that is JSON with a string requestId deserves a reply to it. */
function extractRequestId(text: string): string | null {
  try {
    const value = JSON.parse(text) as { requestId?: unknown };
    return typeof value?.requestId === 'string' &&
      value.requestId.length > 0 &&
      value.requestId.length <= 200
      ? value.requestId
      : null;
  } catch {
    return null;
  }
}

/** A pane's WebSocket as the hub sees a connection. */
class WebSocketConnection implements PaneConnection {
  constructor(private readonly ws: WebSocket) {}
  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  send(text: string): void {
    this.ws.send(text);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
  ping(): boolean {
    this.ws.ping();
    return true;
  }
}
