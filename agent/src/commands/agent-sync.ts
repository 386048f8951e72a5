/**
 * `storesync sync --once` while the agent runs for the same dataDir: two processes must never
 * sync one Maildir and state at once, so the command asks the agent for the pass instead, in
 * the protocol the task pane speaks (authenticated with the CLI's token from the dataDir), and
 * prints the run as it would print its own (sync-report.ts). The agent's sessions are already
 * logged in and its folders' marks known, so such a pass is also the quickest a command line
 * can get. The way in is the agent's local socket (local-socket.ts); where it has none, its
 * WebSocket over HTTPS, as a pane's (agent-websocket.ts, loaded only then).
 */
import net from 'node:net';
import {
  type ClientMessage,
  type DoneEvent,
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  ServerMessageSchema,
  type SyncEvent,
  type SyncFlags,
} from '../protocol/index.js';
import { LocalConnection } from '../server/local-socket.js';
import type { AgentEndpoint } from './agent-client.js';
import { syncFlagsOf, type SyncCliOptions } from './sync-options.js';
import { SyncReport } from './sync-report.js';

export interface AgentSyncOptions {
  accountId?: string;
  folders: string[];
  flags: SyncFlags;
  json: boolean;
  events?: boolean;
  /** IMAP connections per account, for the progress display (as the config says). */
  connections?: ReadonlyMap<string, number>;
  /** Cancels the agent's run (Ctrl-C); default: SIGINT and SIGTERM of this process. */
  cancelSignal?: AbortSignal;
}

/** How the command ended when the agent did not report a `done`. */
export class AgentSyncError extends Error {
  override readonly name = 'AgentSyncError';
  constructor(
    message: string,
    /** Exit code: 2 when the request itself was wrong (an unknown account), else 1. */
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** How long the agent may take to greet and accept the command before it is given up. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Replies that mean the command line asked for something that cannot be. */
const USAGE_CODES = new Set(['UNKNOWN_ACCOUNT', 'BAD_REQUEST']);

/** Runs one pass in the agent and prints it; resolves to the exit code (0: everything synced). */
export async function runSyncThroughAgent(
  agent: AgentEndpoint,
  options: AgentSyncOptions,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const report = new SyncReport(
    {
      json: options.json,
      events: options.events === true,
      ...(options.connections ? { connections: options.connections } : {}),
    },
    out,
  );
  const done = await followAgentRun(agent, options, (event) => report.handle(event));
  return report.finish(done);
}

/**
 * `storesync sync --once` as the command line asked for it, done by the agent: prints the run
 * (or why it could not run) and resolves to the exit code. `connections`: each account's, as
 * its config says, for the progress display.
 */
export async function syncCommandThroughAgent(
  agent: AgentEndpoint,
  opts: SyncCliOptions,
  connections: ReadonlyMap<string, number>,
): Promise<number> {
  try {
    return await runSyncThroughAgent(agent, {
      ...(opts.account ? { accountId: opts.account } : {}),
      folders: opts.folder ?? [],
      // Asked for now, as the pane's "Sync now": background work of the agent's on the same
      // accounts gives way to it.
      flags: { ...syncFlagsOf(opts), onDemand: true },
      json: opts.json === true,
      events: opts.events === true,
      connections,
    });
  } catch (err) {
    if (!(err instanceof AgentSyncError)) throw err;
    process.stderr.write(`storesync: ${err.message}\n`);
    return err.exitCode;
  }
}

/**
 * Asks the agent for a run and hands every event of it to `onEvent` until its `done`. A run
 * already busy with the same accounts is joined (as the pane's "Sync now" does): its events
 * from before the command are not repeated, its `done` is this command's.
 */
export function followAgentRun(
  agent: AgentEndpoint,
  options: Omit<AgentSyncOptions, 'json' | 'events' | 'connections'>,
  onEvent: (event: SyncEvent) => void,
): Promise<DoneEvent> {
  const authId = nextRequestId();
  const syncRequestId = nextRequestId();
  return new Promise<DoneEvent>((resolve, reject) => {
    let syncId: string | null = null;
    /** Events that came before the reply named the run (its syncStarted always does). */
    let early: SyncEvent[] = [];
    let stopping: string | null = null;
    let settled = false;
    const handshake = setTimeout(
      () => fail(new AgentSyncError('the agent did not accept the sync within 10 s', 1)),
      HANDSHAKE_TIMEOUT_MS,
    );
    /** Ctrl-C before the agent named the run: sent once it has. */
    let cancelAsked = false;
    const cancel = () => {
      cancelAsked = true;
      if (syncId !== null && channel.open) {
        channel.send({ type: 'cancel', requestId: nextRequestId(), syncId });
      }
    };
    const signals = options.cancelSignal ? null : (['SIGINT', 'SIGTERM'] as const);
    signals?.forEach((s) => process.on(s, cancel));
    options.cancelSignal?.addEventListener('abort', cancel, { once: true });
    const finish = () => {
      settled = true;
      clearTimeout(handshake);
      signals?.forEach((s) => process.off(s, cancel));
      options.cancelSignal?.removeEventListener('abort', cancel);
      channel.close();
    };
    const fail = (err: AgentSyncError) => {
      if (settled) return;
      finish();
      channel.terminate();
      reject(err);
    };
    const deliver = (event: SyncEvent) => {
      onEvent(event);
      if (event.type === 'done') {
        finish();
        resolve(event);
      }
    };

    const onMessage = (text: string) => {
      if (settled) return;
      const parsed = parseFrame(ServerMessageSchema, text);
      if (!parsed.ok) {
        fail(
          new AgentSyncError(
            `the agent sent a message this version cannot read (${parsed.error})`,
            1,
          ),
        );
        return;
      }
      const message: ServerMessage = parsed.value;
      switch (message.type) {
        case 'hello':
          if (message.protocolVersion !== PROTOCOL_VERSION) {
            fail(
              new AgentSyncError(
                `the running agent (${message.agentVersion}) speaks protocol ${message.protocolVersion}, this command ${PROTOCOL_VERSION}: restart the agent after an update`,
                1,
              ),
            );
            return;
          }
          channel.send({ type: 'auth', requestId: authId, token: agent.token });
          return;
        case 'reply':
          if (message.requestId === authId) {
            if (!message.ok) {
              fail(
                new AgentSyncError(
                  `the agent refused this command's token (${message.error?.message ?? 'no reason given'}); restart the agent`,
                  1,
                ),
              );
              return;
            }
            channel.send({
              type: 'sync',
              requestId: syncRequestId,
              ...(options.accountId ? { accountId: options.accountId } : {}),
              ...(options.folders.length > 0 ? { folders: options.folders } : {}),
              flags: options.flags,
            });
          } else if (message.requestId === syncRequestId) {
            if (!message.ok || !message.syncId) {
              const code = message.error?.code ?? 'INTERNAL';
              fail(
                new AgentSyncError(
                  message.error?.message ?? 'the agent did not start the sync',
                  USAGE_CODES.has(code) ? 2 : 1,
                ),
              );
              return;
            }
            clearTimeout(handshake);
            syncId = message.syncId;
            if (cancelAsked) cancel();
            const before = early;
            early = [];
            for (const event of before) if (event.syncId === syncId && !settled) deliver(event);
          }
          return;
        case 'agentStopping':
          stopping = message.reason;
          return;
        case 'protocolError':
          fail(new AgentSyncError(`the agent could not read a command: ${message.message}`, 1));
          return;
        case 'syncStarted':
        case 'progress':
        case 'error':
        case 'done':
          if (syncId === null) early.push(message);
          else if (message.syncId === syncId) deliver(message);
          return;
        default:
          // Snapshots and account states are for panes that show every account.
          return;
      }
    };
    const channel = openAgentChannel(agent, {
      message: onMessage,
      error: (err, where) =>
        fail(new AgentSyncError(`could not reach the agent at ${where}: ${err.message}`, 1)),
      close: () =>
        fail(
          new AgentSyncError(
            stopping
              ? `the agent stopped before the sync finished (${stopping}); what it stored is kept`
              : 'the connection to the agent closed before the sync finished; what it stored is kept',
            1,
          ),
        ),
    });
  });
}

/** Request ids only need to differ within the connection. */
let requests = 0;
const nextRequestId = () => `cli-${process.pid}-${++requests}`;

/** One connection to the agent, whichever the way. */
export interface AgentChannel {
  readonly open: boolean;
  send(message: ClientMessage): void;
  /** Closes once what was sent has gone. */
  close(): void;
  /** Closes at once. */
  terminate(): void;
}

export interface AgentChannelEvents {
  /** A message from the agent, as text (one line, or one WebSocket frame). */
  message(text: string): void;
  /** `where`: the socket or origin it failed to reach or lost. */
  error(err: Error, where: string): void;
  close(): void;
}

/** What the agent may send in one message to the command line (snapshots included). */
const MAX_MESSAGE_FROM_AGENT_BYTES = 64 * 1024 * 1024;

/**
 * The agent's local socket where it has one, else (or when the socket cannot be reached: an
 * agent of an earlier version, a dataDir on a file system without sockets) its WebSocket.
 */
export function openAgentChannel(agent: AgentEndpoint, events: AgentChannelEvents): AgentChannel {
  let current: AgentChannel | null = null;
  /** Closed by the command: a fallback still on its way is not opened. */
  let ended = false;
  const viaWebSocket = () => {
    void import('./agent-websocket.js').then(
      ({ openWebSocketChannel }) => {
        if (ended) return;
        current = openWebSocketChannel(agent, events);
      },
      (err: Error) => events.error(err, agent.url),
    );
  };
  if (agent.socket) {
    const where = agent.socket;
    const socket = net.connect(where);
    const connection = new LocalConnection(socket, MAX_MESSAGE_FROM_AGENT_BYTES);
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    connection.on('line', (line: Buffer) => events.message(line.toString('utf8')));
    connection.on('overlong', () =>
      events.error(new Error('the agent sent a message too large to read'), where),
    );
    connection.on('error', (err: Error) => {
      if (connected) events.error(err, where);
      else if (!ended) viaWebSocket();
    });
    connection.on('close', () => {
      if (connected) events.close();
    });
    current = {
      get open() {
        return connected && connection.open;
      },
      send: (message) => connection.send(JSON.stringify(message)),
      close: () => connection.close(),
      terminate: () => connection.terminate(),
    };
  } else {
    viaWebSocket();
  }
  return {
    get open() {
      return current?.open ?? false;
    },
    send: (message) => current?.send(message),
    close: () => {
      ended = true;
      current?.close();
    },
    terminate: () => {
      ended = true;
      current?.terminate();
    },
  };
}
