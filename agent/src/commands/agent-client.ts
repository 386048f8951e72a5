/**
 * The CLI's way to the running agent: where it listens comes from the dataDir's lock, the
 * token from <dataDir>/agent.token, and its certificate is checked against the agent's own CA
 * (no "insecure" shortcut, even on loopback). HTTPS is loaded only for an API call: `sync`
 * through the agent finds it here and talks to it over its local socket (agent-sync.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readLockHolder } from '../server/lock-holder.js';
import { readCliToken } from '../server/cli-token.js';

export interface AgentEndpoint {
  url: string;
  port: number;
  pid: number;
  token: string;
  ca: string;
  /** Its local socket (local-socket.ts), where it has one. */
  socket?: string;
}

export class AgentNotRunningError extends Error {
  override readonly name = 'AgentNotRunningError';
}

/** The agent running for this dataDir, or null. */
export function findRunningAgent(dataDir: string): AgentEndpoint | null {
  const holder = readLockHolder(dataDir);
  if (!holder || holder.role !== 'agent' || !holder.url || !holder.port) return null;
  const token = readCliToken(dataDir);
  if (!token) return null;
  let ca: string;
  try {
    ca = readFileSync(path.join(dataDir, 'tls', 'ca.pem'), 'utf8');
  } catch {
    return null;
  }
  return {
    url: holder.url,
    port: holder.port,
    pid: holder.pid,
    token,
    ca,
    ...(holder.socket ? { socket: holder.socket } : {}),
  };
}

export function requireRunningAgent(dataDir: string): AgentEndpoint {
  const agent = findRunningAgent(dataDir);
  if (!agent) {
    throw new AgentNotRunningError(
      `no StoreSync agent is running for ${dataDir}: start it with \`storesync start\``,
    );
  }
  return agent;
}

/** One API call; resolves with the status and parsed JSON body. */
export async function callAgent(
  agent: AgentEndpoint,
  method: 'GET' | 'POST' | 'DELETE',
  apiPath: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: agent.port,
        method,
        path: `/api${apiPath}`,
        ca: agent.ca,
        timeout: 10_000,
        headers: {
          host: `localhost:${agent.port}`,
          authorization: `Bearer ${agent.token}`,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null });
          } catch {
            reject(new Error(`the agent answered ${res.statusCode} with something not JSON`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('the agent did not answer within 10 s')));
    req.on('error', reject);
    req.end(payload);
  });
}
