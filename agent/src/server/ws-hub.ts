/**
 * The WebSocket hub: fans the engine's events out to every connected pane and turns the
 * panes' commands into engine calls. Every frame in is validated against the protocol; a bad
 * one gets an error reply and the connection lives on.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
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
  type SnapshotMessage,
  type SyncEvent,
  WS_PATH,
} from '../protocol/index.js';
import { type SyncEngine, UnknownAccountError } from '../sync/engine.js';
import type { SyncLogger } from '../sync/logger.js';
import type { LoopbackPolicy } from './loopback-policy.js';

/** Frames above MAX_FRAME_BYTES get an error reply; above this the socket is closed. */
const HARD_FRAME_LIMIT = 16 * MAX_FRAME_BYTES;
/** A pane this far behind gets no more progress until it catches up (error/done still go). */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;
const HEARTBEAT_MS = 30_000;

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: HARD_FRAME_LIMIT });
  private readonly alive = new WeakSet<WebSocket>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly engine: SyncEngine,
    private readonly policy: LoopbackPolicy,
    private readonly log: SyncLogger,
  ) {
    this.unsubscribe = engine.onEvent((event) => this.broadcast(event));
    this.wss.on('connection', (ws) => {
      // One pane's trouble must never take the agent (and every other pane) down.
      try {
        this.onConnection(ws);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'websocket connection setup failed');
        ws.close(1011, 'internal error');
      }
    });
    this.heartbeat = setInterval(() => this.checkHeartbeats(), HEARTBEAT_MS);
    this.heartbeat.unref();
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

  get clientCount(): number {
    return this.wss.clients.size;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.unsubscribe();
    for (const ws of this.wss.clients) ws.close(1001, 'agent stopping');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'websocket error'));
    ws.on('message', (data, isBinary) => {
      try {
        this.onFrame(ws, data, isBinary);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'command failed');
        this.send(ws, {
          type: 'protocolError',
          code: 'BAD_FRAME',
          message: 'the agent could not handle this frame',
        });
      }
    });
    this.send(ws, {
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      agentVersion: AGENT_VERSION,
    });
    this.send(ws, this.snapshot());
  }

  private snapshot(): SnapshotMessage {
    return {
      type: 'snapshot',
      accounts: this.engine.accountSummaries(),
      running: this.engine.running().map((run) => ({
        syncId: run.syncId,
        accountIds: run.accountIds,
        startedAt: run.startedAt,
        progress: [...run.progress.values()],
      })),
    };
  }

  private onFrame(ws: WebSocket, data: RawData, isBinary: boolean): void {
    const size = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : (data as Buffer).byteLength;
    if (size > MAX_FRAME_BYTES) {
      this.send(ws, {
        type: 'protocolError',
        code: 'FRAME_TOO_LARGE',
        message: `frames are limited to ${MAX_FRAME_BYTES} bytes`,
      });
      return;
    }
    if (isBinary) {
      this.send(ws, {
        type: 'protocolError',
        code: 'BAD_FRAME',
        message: 'binary frames are not part of the protocol',
      });
      return;
    }
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as Buffer).toString('utf8');
    const parsed = parseFrame(ClientMessageSchema, text);
    if (!parsed.ok) {
      const requestId = extractRequestId(text);
      if (requestId)
        this.send(ws, {
          type: 'reply',
          requestId,
          ok: false,
          error: { code: 'BAD_REQUEST', message: parsed.error },
        });
      else this.send(ws, { type: 'protocolError', code: 'BAD_FRAME', message: parsed.error });
      return;
    }
    this.send(ws, this.execute(parsed.value));
  }

  private execute(command: ClientMessage): ReplyMessage {
    switch (command.type) {
      case 'sync': {
        try {
          const run = this.engine.start({
            accountIds: command.accountId ? [command.accountId] : undefined,
            flags: command.flags,
            trigger: 'user',
          });
          return { type: 'reply', requestId: command.requestId, ok: true, syncId: run.syncId };
        } catch (err) {
          const code = err instanceof UnknownAccountError ? 'UNKNOWN_ACCOUNT' : 'INTERNAL';
          return {
            type: 'reply',
            requestId: command.requestId,
            ok: false,
            error: { code, message: (err as Error).message },
          };
        }
      }
      case 'cancel': {
        const ok = this.engine.cancel(command.syncId);
        return ok
          ? { type: 'reply', requestId: command.requestId, ok: true, syncId: command.syncId }
          : {
              type: 'reply',
              requestId: command.requestId,
              ok: false,
              error: { code: 'NOT_RUNNING', message: 'no such sync is running' },
            };
      }
    }
  }

  private broadcast(event: SyncEvent): void {
    this.sendToAll(event);
    // A finished run changed the counts and last-sync times every pane shows.
    if (event.type === 'done') this.sendToAll(this.snapshot());
  }

  private sendToAll(message: ServerMessage): void {
    const frame = JSON.stringify(message);
    for (const ws of this.wss.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      // A slow pane skips intermediate progress; the next one it gets is current anyway.
      if (message.type === 'progress' && ws.bufferedAmount > SLOW_CLIENT_BYTES) continue;
      ws.send(frame);
    }
  }

  private send(ws: WebSocket, message: ServerMessage): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  private checkHeartbeats(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
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
