/**
 * The agent's port: free (the agent can start), or held by a running StoreSync agent (fine),
 * or held by something else (the agent cannot start; Outlook would talk to a stranger).
 */
import https from 'node:https';
import net from 'node:net';
import type { AgentConfig } from '../config/load.js';
import { errorText, fail, ok, type DoctorCheck } from './types.js';

const HEALTH_TIMEOUT_MS = 5_000;

function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/** The agent's /healthz answer, or null when whatever listens there is not our agent. */
export function fetchHealth(port: number): Promise<{ version: string } | null> {
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: '/healthz',
        // Only identifying who is there: trust is the trust check's business.
        rejectUnauthorized: false,
        timeout: HEALTH_TIMEOUT_MS,
        // A one-off request: no pooled keep-alive socket left to hold the process open.
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d.length < 4096 ? d : ''));
        res.on('end', () => {
          try {
            const json = JSON.parse(body) as { ok?: unknown; version?: unknown };
            resolve(
              json.ok === true && typeof json.version === 'string'
                ? { version: json.version }
                : null,
            );
          } catch {
            resolve(null);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      // Not TLS (someone else's server): close our side too, or the socket lingers half-open.
      req.destroy();
      resolve(null);
    });
  });
}

export async function checkPort(config: AgentConfig): Promise<DoctorCheck> {
  const { host, port } = config.server;
  if (port === 0) {
    return ok('port', 'Port 0: the agent picks a free port at each start (Outlook cannot find it)');
  }
  const err = await tryListen(host, port);
  if (!err) return ok('port', `Port ${port} on ${host} free (the agent is not running)`);
  if (err.code === 'EADDRINUSE') {
    const health = await fetchHealth(port);
    if (health)
      return ok('port', `Port ${port} held by the StoreSync agent (version ${health.version})`);
    return fail(
      'port',
      `Port ${port} on ${host} is held by another program`,
      `Stop that program (\`ss -ltnp 'sport = :${port}'\` shows it), or set server.port in the config and in manifest.xml.`,
    );
  }
  return fail(
    'port',
    `Cannot listen on ${host}:${port}: ${errorText(err)}`,
    'Use a port above 1024 on a loopback address (server.host, server.port in the config).',
  );
}
