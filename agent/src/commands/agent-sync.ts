/**
 * `storesync sync --once` while the agent runs for the same dataDir: two processes must never
 * sync one Maildir and state at once, so the command asks the agent for the pass instead, over
 * the WebSocket the task pane uses (the same protocol, authenticated with the CLI's token from
 * the dataDir), and prints the run as it would print its own (sync-report.ts). The agent's
 * sessions are already logged in and its folders' marks known, so such a pass is also the
 * quickest a command line can get.
 */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import {
  type ClientMessage,
  type DoneEvent,
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  ServerMessageSchema,
  type SyncEvent,
  type SyncFlags,
  WS_PATH,
} from '../protocol/index.js';
import type { AgentEndpoint } from './agent-client.js';
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
 * Asks the agent for a run and hands every event of it to `onEvent` until its `done`. A run
 * already busy with the same accounts is joined (as the pane's "Sync now" does): its events
 * from before the command are not repeated, its `done` is this command's.
 */
export function followAgentRun(
  agent: AgentEndpoint,
  options: Omit<AgentSyncOptions, 'json' | 'events' | 'connections'>,
  onEvent: (event: SyncEvent) => void,
): Promise<DoneEvent> {
  // The agent's own origin: the WebSocket refuses any other (loopback-policy.ts).
  const origin = `https://127.0.0.1:${agent.port}`;
  const ws = new WebSocket(`wss://127.0.0.1:${agent.port}${WS_PATH}`, {
    ca: agent.ca,
    origin,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  const send = (message: ClientMessage) => ws.send(JSON.stringify(message));
  const authId = randomUUID();
  const syncRequestId = randomUUID();

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
      if (syncId !== null && ws.readyState === WebSocket.OPEN)
        send({ type: 'cancel', requestId: randomUUID(), syncId });
    };
    const signals = options.cancelSignal ? null : (['SIGINT', 'SIGTERM'] as const);
    signals?.forEach((s) => process.on(s, cancel));
    options.cancelSignal?.addEventListener('abort', cancel, { once: true });
    const finish = () => {
      settled = true;
      clearTimeout(handshake);
      signals?.forEach((s) => process.off(s, cancel));
      options.cancelSignal?.removeEventListener('abort', cancel);
      ws.close();
    };
    const fail = (err: AgentSyncError) => {
      if (settled) return;
      finish();
      ws.terminate();
      reject(err);
    };
    const deliver = (event: SyncEvent) => {
      onEvent(event);
      if (event.type === 'done') {
        finish();
        resolve(event);
      }
    };

    ws.on('message', (data, isBinary) => {
      if (settled || isBinary) return;
      const parsed = parseFrame(ServerMessageSchema, data.toString('utf8'));
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
          send({ type: 'auth', requestId: authId, token: agent.token });
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
            send({
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
    });
    ws.on('error', (err) =>
      fail(new AgentSyncError(`could not reach the agent at ${origin}: ${err.message}`, 1)),
    );
    ws.on('close', () =>
      fail(
        new AgentSyncError(
          stopping
            ? `the agent stopped before the sync finished (${stopping}); what it stored is kept`
            : 'the connection to the agent closed before the sync finished; what it stored is kept',
          1,
        ),
      ),
    );
  });
}
