/**
 * The agent's HTTPS + WebSocket surface, in-process: who may connect, what a pane receives on
 * connect, and how bad frames are answered without dropping the connection.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { parseConfig } from '../../agent/src/config/load.js';
import { MAX_FRAME_BYTES, type ServerMessage } from '../../agent/src/protocol/index.js';
import { startAgent, type RunningAgent } from '../../agent/src/server/agent-server.js';
import { silentLogger } from '../../agent/src/sync/logger.js';

function get(
  port: number,
  pathname: string,
  host: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: pathname, headers: { host }, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
  });
}

/** Opens a socket and collects every message it receives. */
async function connect(agent: RunningAgent, origin = `https://localhost:${agent.port}`) {
  const ws = new WebSocket(`wss://localhost:${agent.port}/ws`, {
    origin,
    rejectUnauthorized: false,
  });
  const received: ServerMessage[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as ServerMessage);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (count: number) => {
    while (received.length < count) await new Promise<void>((r) => waiters.push(r));
    return received[count - 1]!;
  };
  return { ws, received, next };
}

describe('agent server', () => {
  let dir: string;
  let agent: RunningAgent;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-server-'));
    // The account is never synced here; it is what the snapshot describes.
    const account = {
      id: 'work',
      imap: {
        host: '127.0.0.1',
        port: 1,
        tls: 'none',
        user: 'u',
        password: { env: 'STORESYNC_UNUSED' },
      },
      maildir: path.join(dir, 'Maildir'),
      syncIntervalSeconds: 0,
      idleFolders: [],
    };
    const config = parseConfig(
      { dataDir: dir, server: { host: '127.0.0.1', port: 0 }, accounts: [account] },
      null,
    );
    agent = await startAgent(config, silentLogger);
  });

  after(async () => {
    await agent?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz and serves the pane with a strict CSP', async () => {
    const health = await get(agent.port, '/healthz', `localhost:${agent.port}`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).ok, true);
    const pane = await get(agent.port, '/taskpane.html', `127.0.0.1:${agent.port}`);
    assert.equal(pane.status, 200);
    const csp = String(pane.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'self' https:\/\/outlook\.office\.com/);
    assert.equal(pane.headers['x-frame-options'], undefined);
  });

  it('refuses a request whose Host is not loopback with our port (DNS rebinding)', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${agent.port}`,
      'localhost:1',
      `localhost.evil.example:${agent.port}`,
    ]) {
      assert.equal((await get(agent.port, '/healthz', host)).status, 403, host);
    }
  });

  it('keeps its private keys readable by the user only', async () => {
    for (const name of ['ca-key.pem', 'localhost-key.pem']) {
      const stat = await fs.stat(path.join(dir, 'tls', name));
      assert.equal(stat.mode & 0o077, 0, name);
    }
  });

  it('refuses a WebSocket from another origin with 403 before the upgrade', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`wss://localhost:${agent.port}/ws`, {
        origin: 'https://evil.example',
        rejectUnauthorized: false,
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 403);
  });

  it('greets a pane with hello then snapshot', async () => {
    const { ws, next } = await connect(agent);
    const hello = await next(1);
    assert.equal(hello.type, 'hello');
    const snapshot = await next(2);
    assert.ok(snapshot.type === 'snapshot');
    assert.deepEqual(snapshot.accounts, [
      {
        id: 'work',
        host: '127.0.0.1',
        folderCount: 0,
        messageCount: 0,
        lastSyncAt: null,
        lastResult: null,
      },
    ]);
    assert.deepEqual(snapshot.running, []);
    ws.close();
  });

  it('answers bad frames with errors and keeps the connection', async () => {
    const { ws, next } = await connect(agent);
    await next(2);
    ws.send('not json');
    assert.deepEqual(await next(3), {
      type: 'protocolError',
      code: 'BAD_FRAME',
      message: 'frame is not valid JSON',
    });
    ws.send(JSON.stringify({ type: 'sync', requestId: 'r1', flags: { uploadHierarchy: 'yes' } }));
    const reply = await next(4);
    assert.equal(reply.type, 'reply');
    assert.ok(
      reply.type === 'reply' &&
        reply.requestId === 'r1' &&
        !reply.ok &&
        reply.error?.code === 'BAD_REQUEST',
    );
    ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    const tooLarge = await next(5);
    assert.ok(tooLarge.type === 'protocolError' && tooLarge.code === 'FRAME_TOO_LARGE');
    ws.send(JSON.stringify({ type: 'cancel', requestId: 'r2', syncId: 'nope' }));
    const cancel = await next(6);
    assert.ok(cancel.type === 'reply' && !cancel.ok && cancel.error?.code === 'NOT_RUNNING');
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  });
});
