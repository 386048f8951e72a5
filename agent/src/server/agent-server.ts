/**
 * The running agent: the engine and its scheduler, the HTTPS server with the pane and the
 * API, and the WebSocket hub on the same origin; one per dataDir.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { AgentConfig } from '../config/load.js';
import { AGENT_VERSION } from '../package-info.js';
import { SyncEngine } from '../sync/engine.js';
import type { ImapProtocolLog } from '../sync/imap-session.js';
import type { SyncLogger } from '../sync/logger.js';
import { SyncScheduler } from '../sync/scheduler.js';
import { StateDb } from '../sync/state-db.js';
import { DataDirLock } from './agent-lock.js';
import { recordRunningAgent, type AgentRecordHandle } from './agent-record.js';
import { ensureTlsIdentity } from './certificate.js';
import { createHttpApp } from './http-app.js';
import { listenLocalSocket, type LocalSocketServer } from './local-socket.js';
import { LoopbackPolicy } from './loopback-policy.js';
import { PairingStore } from './pairing.js';
import { WsHub } from './ws-hub.js';

export interface RunningAgent {
  url: string;
  port: number;
  engine: SyncEngine;
  caFile: string;
  /** The token the CLI uses; tests use it too. */
  cliToken: string;
  pairing: PairingStore;
  /**
   * Applies a new config's accounts (added, removed, changed) without a restart. Server
   * settings and the dataDir need a restart; the returned list names what was not applied.
   */
  reload(config: AgentConfig): string[];
  /** Tells panes why, lets the current message finish, commits, and closes everything. */
  close(reason?: string): Promise<void>;
}

export interface AgentOptions {
  /** Every IMAP command and response, redacted, when the config's log asks for it. */
  protocolLog?: ImapProtocolLog;
}

export async function startAgent(
  config: AgentConfig,
  log: SyncLogger,
  options: AgentOptions = {},
): Promise<RunningAgent> {
  const lock = DataDirLock.acquire(config.dataDir, 'agent');
  let state: StateDb | undefined;
  let local: LocalSocketServer | null = null;
  let record: AgentRecordHandle | null = null;
  try {
    const identity = await ensureTlsIdentity(config.dataDir);
    const pairing = new PairingStore(config.dataDir);
    state = new StateDb(path.join(config.dataDir, 'state.db'));
    if (state.recovered)
      log.warn(
        state.recovered,
        'state database was damaged; set aside, rebuilding from Maildir and server',
      );
    // The dataDir's lock is ours: a run the state says is going is a dead process's.
    const ended = state.endRunsLeftRunning();
    if (ended > 0) log.warn({ runs: ended }, 'runs a process that died left unfinished ended');
    const engine = new SyncEngine(config.accounts, state, log, {
      protocolLog: options.protocolLog,
      keepSessions: true,
    });

    const server = https.createServer({ key: identity.key, cert: identity.cert });
    await listen(server, config.server.host, config.server.port).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          throw new Error(
            `port ${config.server.port} on ${config.server.host} is in use by another program; set server.port in the config (and in the manifest)`,
          );
        }
        throw err;
      },
    );
    const port = (server.address() as AddressInfo).port;
    const url = `https://localhost:${port}/`;
    const startedAt = Date.now();
    const policy = new LoopbackPolicy(port);
    const hub = new WsHub(engine, policy, pairing, log);
    server.on(
      'request',
      createHttpApp({
        policy,
        pairing,
        status: () => ({
          agentVersion: AGENT_VERSION,
          instanceId: hub.instanceId,
          pid: process.pid,
          url,
          startedAt,
          dataDir: config.dataDir,
          panesConnected: hub.clientCount,
          pairedClients: pairing.list().length,
          ...hub.snapshot(),
        }),
      }),
    );
    let scheduler = new SyncScheduler(engine, config.accounts, log);
    scheduler.start();
    server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    const localSocket = await listenLocalSocket(config.dataDir, (socket) =>
      hub.acceptLocal(socket),
    ).catch((err: Error) => ({ unavailable: err.message }));
    if ('unavailable' in localSocket) {
      // The command line then comes over HTTPS, as a pane does: slower to start, that is all.
      log.info({ reason: localSocket.unavailable }, 'no local socket for the command line');
    } else {
      local = localSocket;
    }
    lock.update({ url, port, ...(local ? { socket: local.path } : {}) });
    // Lets `storesync sync` find this agent from its config file's path alone, but only by
    // the local socket: a command that would need the WebSocket takes the usual way.
    record = local ? recordRunningAgent(config) : null;
    log.info({ url, pid: process.pid, socket: local?.path }, 'agent listening');

    let current = config;
    let schedulerSwap = Promise.resolve();
    let closing: Promise<void> | null = null;
    const stateDb = state;
    return {
      url,
      port,
      engine,
      caFile: identity.caFile,
      cliToken: pairing.cliToken,
      pairing,
      reload: (next) => {
        const notApplied = [
          next.dataDir !== current.dataDir ? 'dataDir' : null,
          next.server.host !== current.server.host ? 'server.host' : null,
          next.server.port !== current.server.port ? 'server.port' : null,
          next.server.allowRemote !== current.server.allowRemote ? 'server.allowRemote' : null,
        ].filter((f): f is string => f !== null);
        const previous = scheduler;
        const replacement = new SyncScheduler(engine, next.accounts, log);
        scheduler = replacement;
        // Runs in flight keep the account settings they started with.
        engine.setAccounts(next.accounts);
        // The old watchers log out before the new ones log in; of several quick reloads only
        // the last one's scheduler ever starts.
        schedulerSwap = schedulerSwap
          .then(() => previous.stop())
          .then(() => {
            if (scheduler === replacement && !closing) replacement.start();
          });
        current = { ...next, dataDir: current.dataDir, server: current.server };
        // A record naming the new config would send commands to where it says no longer.
        record?.update(next, notApplied.length === 0);
        hub.refresh();
        log.info(
          { accounts: next.accounts.map((a) => a.id), notApplied },
          'configuration reloaded',
        );
        return notApplied;
      },
      close: (reason) =>
        (closing ??= (async () => {
          await schedulerSwap;
          await scheduler.stop();
          await engine.stop();
          await hub.close(reason);
          await local?.close();
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
          stateDb.close();
          record?.remove();
          lock.release();
        })()),
    };
  } catch (err) {
    record?.remove();
    await local?.close();
    state?.close();
    lock.release();
    throw err;
  }
}

function listen(server: https.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
