/**
 * The running agent: the engine, the HTTPS server with the pane, and the WebSocket hub on
 * the same origin.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AgentConfig } from '../config/load.js';
import { SyncEngine } from '../sync/engine.js';
import type { SyncLogger } from '../sync/logger.js';
import { SyncScheduler } from '../sync/scheduler.js';
import { StateDb } from '../sync/state-db.js';
import { ensureTlsIdentity } from './certificate.js';
import { createHttpApp } from './http-app.js';
import { LoopbackPolicy } from './loopback-policy.js';
import { WsHub } from './ws-hub.js';
import path from 'node:path';

export interface RunningAgent {
  url: string;
  port: number;
  engine: SyncEngine;
  caFile: string;
  close(): Promise<void>;
}

export async function startAgent(config: AgentConfig, log: SyncLogger): Promise<RunningAgent> {
  const identity = await ensureTlsIdentity(config.dataDir);
  const state = new StateDb(path.join(config.dataDir, 'state.db'));
  const engine = new SyncEngine(config.accounts, state, log);

  const server = https.createServer({ key: identity.key, cert: identity.cert });
  await listen(server, config.server.host, config.server.port).catch(
    (err: NodeJS.ErrnoException) => {
      state.close();
      if (err.code === 'EADDRINUSE') {
        throw new Error(
          `port ${config.server.port} on ${config.server.host} is in use (another agent?); set server.port in the config`,
        );
      }
      throw err;
    },
  );
  const port = (server.address() as AddressInfo).port;
  const policy = new LoopbackPolicy(port);
  server.on('request', createHttpApp(policy));
  const hub = new WsHub(engine, policy, log);
  const scheduler = new SyncScheduler(engine, config.accounts, log);
  scheduler.start();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());

  const url = `https://localhost:${port}/`;
  log.info({ url }, 'agent listening');
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    engine,
    caFile: identity.caFile,
    close: () =>
      (closing ??= (async () => {
        await scheduler.stop();
        await engine.stop();
        await hub.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        state.close();
      })()),
  };
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
