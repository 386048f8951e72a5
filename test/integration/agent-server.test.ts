/**
 * The agent's HTTPS + WebSocket surface, in-process: who may connect and command it, what a
 * pane receives, how bad frames are answered without dropping the connection, and how a
 * reconnecting pane gets what it missed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { parseConfig } from '../../agent/src/config/load.js';
import {
  FULL_SYNC,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type ServerMessage,
} from '../../agent/src/protocol/index.js';
import { startAgent, type RunningAgent } from '../../agent/src/server/agent-server.js';
import { DataDirLockedError, readLockHolder } from '../../agent/src/server/agent-lock.js';
import { silentLogger } from '../../agent/src/sync/logger.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { connectLocal, connectPane, isType } from '../support/pane-socket.js';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function request(
  port: number,
  pathname: string,
  options: { host?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `localhost:${port}`, ...options.headers },
        rejectUnauthorized: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A small deterministic PRNG (mulberry32): the fuzz run is the same every time. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('agent server', () => {
  let dir: string;
  let agent: RunningAgent;
  let config: ReturnType<typeof parseConfig>;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-server-'));
    // Never synced for real: its password source is unset, so a sync fails at once with
    // SECRET_UNAVAILABLE, which is just what the replay test needs.
    const account = {
      id: 'work',
      imap: {
        host: '127.0.0.1',
        port: 1,
        tls: 'none',
        user: 'u',
        password: { env: 'STORESYNC_UNSET_FOR_TESTS' },
      },
      maildir: path.join(dir, 'Maildir'),
      syncIntervalSeconds: 0,
      idleFolders: [],
    };
    config = parseConfig(
      { dataDir: dir, server: { host: '127.0.0.1', port: 0 }, accounts: [account] },
      null,
    );
    // A leftover of an agent that did not stop cleanly, where the local socket goes.
    await fs.writeFile(path.join(dir, 'agent.sock'), 'stale');
    // …and a run that agent never ended (killed in the middle of it).
    const state = new StateDb(path.join(dir, 'state.db'));
    state.startRun('killed-run', 'schedule', FULL_SYNC, 1000, ['work']);
    state.close();
    agent = await startAgent(config, silentLogger);
  });

  after(async () => {
    await agent?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  describe('HTTP', () => {
    it('answers /healthz and serves the pane with a strict CSP', async () => {
      const health = await request(agent.port, '/healthz');
      assert.equal(health.status, 200);
      assert.equal(JSON.parse(health.body).ok, true);
      const pane = await request(agent.port, '/taskpane.html', {
        host: `127.0.0.1:${agent.port}`,
      });
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
        assert.equal((await request(agent.port, '/healthz', { host })).status, 403, host);
      }
    });

    it('keeps its private keys and tokens readable by the user only', async () => {
      for (const name of ['tls/ca-key.pem', 'tls/localhost-key.pem', 'agent.token']) {
        const stat = await fs.stat(path.join(dir, name));
        assert.equal(stat.mode & 0o077, 0, name);
      }
    });

    it('serves /api/status with the token only', async () => {
      assert.equal((await request(agent.port, '/api/status')).status, 401);
      const wrong = await request(agent.port, '/api/status', {
        headers: { authorization: 'Bearer not-the-token' },
      });
      assert.equal(wrong.status, 401);
      const right = await request(agent.port, '/api/status', {
        headers: { authorization: `Bearer ${agent.cliToken}` },
      });
      assert.equal(right.status, 200);
      const status = JSON.parse(right.body) as { accounts: Array<{ id: string }>; pid: number };
      assert.deepEqual(
        status.accounts.map((a) => a.id),
        ['work'],
      );
      assert.equal(status.pid, process.pid);
      assert.doesNotMatch(right.body, /STORESYNC_UNSET_FOR_TESTS|password/);
      const crossOrigin = await request(agent.port, '/api/status', {
        headers: { authorization: `Bearer ${agent.cliToken}`, origin: 'https://evil.example' },
      });
      assert.equal(crossOrigin.status, 403);
    });

    it('mints pairing codes for the CLI token only', async () => {
      const asPane = await request(agent.port, '/api/pairing', {
        method: 'POST',
        headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
        body: '{"kind":"code"}',
      });
      assert.equal(asPane.status, 401);
      const asCli = await request(agent.port, '/api/pairing', {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.cliToken}`, 'content-type': 'application/json' },
        body: '{"kind":"code"}',
      });
      assert.equal(asCli.status, 200);
      assert.match(JSON.parse(asCli.body).secret, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    });

    it("answers Private Network Access preflights for the pane's files from Outlook only", async () => {
      const preflight = (pathname: string, origin: string) =>
        request(agent.port, pathname, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'GET',
            'access-control-request-private-network': 'true',
          },
        });
      const ok = await preflight('/taskpane.html', 'https://outlook.office.com');
      assert.equal(ok.status, 204);
      assert.equal(ok.headers['access-control-allow-private-network'], 'true');
      assert.equal(ok.headers['access-control-allow-origin'], 'https://outlook.office.com');
      assert.equal((await preflight('/taskpane.html', 'https://evil.example')).status, 403);
      assert.equal((await preflight('/api/status', 'https://outlook.office.com')).status, 403);
      assert.equal((await preflight('/ws', 'https://outlook.office.com')).status, 403);
    });
  });

  describe('WebSocket', () => {
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

    it('says hello, then serves nothing until the pane shows a valid token', async () => {
      const pane = await connectPane(agent.port);
      const hello = pane.received[0]!;
      assert.ok(hello.type === 'hello' && hello.protocolVersion === PROTOCOL_VERSION);
      pane.send({ type: 'sync', requestId: 'r0', flags: FULL_SYNC });
      assert.equal((await pane.reply('r0')).error?.code, 'UNAUTHORIZED');
      pane.send({ type: 'auth', requestId: 'r1', token: 'forged' });
      assert.equal((await pane.reply('r1')).error?.code, 'UNAUTHORIZED');
      assert.ok(!pane.received.some((m) => m.type === 'snapshot'), 'no snapshot without a token');
      pane.send({ type: 'auth', requestId: 'r2', token: agent.cliToken });
      assert.equal((await pane.reply('r2')).ok, true);
      const snapshot = await pane.waitFor(isType('snapshot'));
      assert.deepEqual(snapshot.accounts, [
        {
          id: 'work',
          host: '127.0.0.1',
          folderCount: 0,
          messageCount: 0,
          lastSyncAt: null,
          lastResult: null,
          folders: [],
        },
      ]);
      assert.deepEqual(snapshot.running, []);
      pane.ws.close();
    });

    it('shows no run of an agent that was killed as running', async () => {
      const pane = await connectPane(agent.port);
      pane.send({ type: 'auth', requestId: 'a', token: agent.cliToken });
      const snapshot = await pane.waitFor(isType('snapshot'));
      assert.deepEqual(snapshot.running, []);
      const killed = snapshot.history.find((h) => h.syncId === 'killed-run');
      assert.deepEqual(
        [killed?.result, killed?.finishedAt, killed?.stats],
        ['error', 1000, null],
        'ended as an error, at its start (when it stopped is not known)',
      );
      pane.ws.close();
    });

    it('serves the command line on a local socket in the dataDir: same protocol, same token', async () => {
      const holder = readLockHolder(dir);
      assert.equal(holder?.socket, path.join(dir, 'agent.sock'));
      const stat = await fs.stat(holder.socket);
      assert.ok(stat.isSocket(), 'the stale file gave way to the socket');
      assert.equal(stat.mode & 0o777, 0o600);
      const cli = await connectLocal(holder.socket);
      const hello = cli.received[0]!;
      assert.ok(hello.type === 'hello' && hello.protocolVersion === PROTOCOL_VERSION);
      cli.send({ type: 'sync', requestId: 'r0', flags: FULL_SYNC });
      assert.equal((await cli.reply('r0')).error?.code, 'UNAUTHORIZED');
      cli.send('not json');
      assert.equal((await cli.waitFor(isType('protocolError'))).code, 'BAD_FRAME');
      cli.send({ type: 'auth', requestId: 'r1', token: 'forged' });
      assert.equal((await cli.reply('r1')).error?.code, 'UNAUTHORIZED');
      assert.ok(!cli.received.some((m) => m.type === 'snapshot'), 'no snapshot without a token');
      cli.send({ type: 'auth', requestId: 'r2', token: agent.cliToken });
      assert.equal((await cli.reply('r2')).ok, true);
      await cli.waitFor(isType('snapshot'));
      // A run asked this way is the command line's, and its events come back the same way.
      cli.send({ type: 'sync', requestId: 'r3', flags: FULL_SYNC });
      const { syncId } = await cli.reply('r3');
      assert.ok(syncId);
      const started = await cli.waitFor(
        (m): m is Extract<ServerMessage, { type: 'syncStarted' }> =>
          m.type === 'syncStarted' && m.syncId === syncId,
      );
      assert.equal(started.trigger, 'cli');
      const done = await cli.waitFor(
        (m): m is Extract<ServerMessage, { type: 'done' }> =>
          m.type === 'done' && m.syncId === syncId,
      );
      assert.equal(done.result, 'error');
      cli.socket.destroy();
    });

    it('closes a connection that keeps guessing tokens', async () => {
      const pane = await connectPane(agent.port);
      const closed = new Promise<number>((resolve) => pane.ws.once('close', resolve));
      for (let i = 0; i < 5; i++) pane.send({ type: 'auth', requestId: `g${i}`, token: `g${i}` });
      assert.equal(await closed, 1008);
    });

    it('pairs a pane with a one-time code, and the token it gets works again', async () => {
      const code = agent.pairing.issue('code').secret;
      const first = await connectPane(agent.port);
      // Typed by a person: lower case and without the dash still count.
      first.send({ type: 'pair', requestId: 'p1', code: code.replace('-', '').toLowerCase() });
      const paired = await first.reply('p1');
      assert.ok(paired.ok && typeof paired.token === 'string');
      await first.waitFor(isType('snapshot'));
      first.ws.close();

      const reused = await connectPane(agent.port);
      reused.send({ type: 'pair', requestId: 'p2', code });
      assert.equal((await reused.reply('p2')).error?.code, 'PAIRING_FAILED', 'one use only');
      reused.send({ type: 'auth', requestId: 'a1', token: paired.token });
      assert.equal((await reused.reply('a1')).ok, true);
      reused.ws.close();
      assert.ok(agent.pairing.list().length >= 1);
    });

    it('answers 10,000 hostile frames with errors and stays up', async function () {
      const pane = await connectPane(agent.port);
      pane.send({ type: 'auth', requestId: 'auth', token: agent.cliToken });
      await pane.waitFor(isType('snapshot'));
      const before = pane.received.length;
      const random = prng(20261125);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const randomValue = (depth = 0): unknown =>
        pick([
          () => null,
          () => random() * 1e9 - 5e8,
          () => random() < 0.5,
          () => 'x'.repeat(Math.floor(random() * 300)),
          () => '\u0000\ud800' + String.fromCharCode(Math.floor(random() * 65536)),
          () => (depth > 2 ? [] : [randomValue(depth + 1), randomValue(depth + 1)]),
          () =>
            depth > 2
              ? {}
              : { [pick(['type', 'requestId', 'flags', '__proto__'])]: randomValue(depth + 1) },
        ])();
      const types = [
        'sync',
        'cancel',
        'auth',
        'pair',
        'fetchBody',
        'lookupMessage',
        'getHistory',
        'nope',
        42,
      ];
      const frames = 10_000;
      let expectedReplies = 0;
      for (let i = 0; i < frames; i++) {
        const kind = i % 5;
        if (kind === 0) {
          const bytes = Buffer.alloc(Math.floor(random() * 200) + 1);
          for (let b = 0; b < bytes.length; b++) bytes[b] = Math.floor(random() * 256);
          pane.ws.send(bytes, { binary: random() < 0.5 });
        } else if (kind === 1) {
          pane.ws.send('{"type":"sync","requestId":' + '['.repeat(Math.floor(random() * 50)));
        } else if (kind === 2) {
          // Right type, wrong fields: each deserves a reply to its requestId.
          pane.send({
            type: pick(types),
            requestId: `f${i}`,
            flags: randomValue(),
            syncId: randomValue(),
            uid: randomValue(),
            limit: randomValue(),
          });
        } else if (kind === 3) {
          pane.send(randomValue());
        } else if (i % 500 === 3) {
          pane.ws.send('"' + 'y'.repeat(MAX_FRAME_BYTES) + '"');
        } else {
          pane.send({
            type: 'getHistory',
            requestId: `h${i}`,
            limit: Math.floor(random() * 1000) - 100,
          });
        }
        expectedReplies += 1;
      }
      // Every frame gets exactly one answer (a reply or a protocolError), in order.
      await pane.untilCount(before + expectedReplies);
      const answers = pane.received.slice(before);
      assert.ok(answers.every((m) => m.type === 'reply' || m.type === 'protocolError'));
      assert.equal(pane.ws.readyState, WebSocket.OPEN, 'the connection lives');
      pane.send({ type: 'getHistory', requestId: 'after-fuzz' });
      assert.equal((await pane.reply('after-fuzz')).ok, true, 'and still works');
      assert.equal((await request(agent.port, '/healthz')).status, 200);
      pane.ws.close();
    });

    it('answers bad frames with errors and keeps the connection', async () => {
      const pane = await connectPane(agent.port);
      pane.send({ type: 'auth', requestId: 'auth', token: agent.cliToken });
      await pane.waitFor(isType('snapshot'));
      let from = pane.received.length;
      pane.ws.send('not json');
      assert.deepEqual(await pane.waitFor(isType('protocolError'), from), {
        type: 'protocolError',
        code: 'BAD_FRAME',
        message: 'frame is not valid JSON',
      });
      pane.send({ type: 'sync', requestId: 'r1', flags: { uploadHierarchy: 'yes' } });
      assert.equal((await pane.reply('r1')).error?.code, 'BAD_REQUEST');
      from = pane.received.length;
      pane.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
      const tooLarge = await pane.waitFor(isType('protocolError'), from);
      assert.equal(tooLarge.code, 'FRAME_TOO_LARGE');
      pane.send({ type: 'cancel', requestId: 'r2', syncId: 'nope' });
      assert.equal((await pane.reply('r2')).error?.code, 'NOT_RUNNING');
      pane.send({ type: 'fetchBody', requestId: 'r3', accountId: 'work', folder: 'INBOX', uid: 1 });
      assert.equal((await pane.reply('r3')).error?.code, 'NOT_FOUND');
      pane.send({ type: 'lookupMessage', requestId: 'r4', internetMessageId: '<none@x>' });
      assert.deepEqual((await pane.reply('r4')).locations, []);
      assert.equal(pane.ws.readyState, WebSocket.OPEN);
      pane.ws.close();
    });

    it('replays the errors and dones a reconnecting pane missed', async () => {
      const first = await connectPane(agent.port);
      first.send({ type: 'auth', requestId: 'auth', token: agent.cliToken });
      const snapshot = await first.waitFor(isType('snapshot'));
      const hello = first.received[0] as Extract<ServerMessage, { type: 'hello' }>;
      first.ws.close();

      // While no pane listens, a run fails (its password is unavailable) and ends.
      const run = agent.engine.start({ flags: FULL_SYNC, trigger: 'user' });
      const done = await run.done;
      assert.equal(done.result, 'error');

      const back = await connectPane(agent.port);
      back.send({
        type: 'auth',
        requestId: 'auth',
        token: agent.cliToken,
        resume: { instanceId: hello.instanceId, lastEventId: snapshot.lastEventId },
      });
      const missedError = await back.waitFor(isType('error'));
      const missedDone = await back.waitFor(isType('done'));
      assert.equal(missedError.syncId, run.syncId);
      assert.equal(missedError.code, 'SECRET_UNAVAILABLE');
      assert.equal(missedDone.syncId, run.syncId);
      assert.ok(missedError.eventId! < missedDone.eventId!);
      // The snapshot came first, and it already lists the run in its history.
      const snapshotIndex = back.received.findIndex((m) => m.type === 'snapshot');
      assert.ok(snapshotIndex >= 0 && snapshotIndex < back.received.indexOf(missedError));
      const fresh = back.received[snapshotIndex] as Extract<ServerMessage, { type: 'snapshot' }>;
      assert.equal(fresh.history[0]?.syncId, run.syncId);
      back.ws.close();

      // A pane that resumes from another agent instance gets no replay (ids would not match).
      const other = await connectPane(agent.port);
      other.send({
        type: 'auth',
        requestId: 'auth',
        token: agent.cliToken,
        resume: { instanceId: 'another-agent', lastEventId: 0 },
      });
      await other.waitFor(isType('snapshot'));
      other.send({ type: 'getHistory', requestId: 'h' });
      await other.reply('h');
      assert.ok(!other.received.some((m) => m.type === 'error' || m.type === 'done'));
      other.ws.close();
    });

    it('refuses a second agent on the same dataDir, naming the one running', async () => {
      await assert.rejects(
        startAgent(config, silentLogger),
        (err: Error) =>
          err instanceof DataDirLockedError && err.message.includes(`pid ${process.pid}`),
      );
    });

    it('survives 1,000 connections opened and dropped at once, with memory flat', async () => {
      const heapBefore = process.memoryUsage().heapUsed;
      const url = `wss://localhost:${agent.port}/ws`;
      const origin = `https://localhost:${agent.port}`;
      for (let wave = 0; wave < 10; wave++) {
        await Promise.all(
          Array.from(
            { length: 100 },
            (_, i) =>
              new Promise<void>((resolve) => {
                const ws = new WebSocket(url, { origin, rejectUnauthorized: false });
                ws.on('error', () => resolve());
                ws.on('close', () => resolve());
                // Half drop before the hello, half right after it; some without a close frame.
                if (i % 2) ws.on('open', () => ws.terminate());
                else ws.on('message', () => ws.close());
              }),
          ),
        );
      }
      const status = await request(agent.port, '/api/status', {
        headers: { authorization: `Bearer ${agent.cliToken}` },
      });
      const panes = (JSON.parse(status.body) as { panesConnected: number }).panesConnected;
      for (let i = 0; i < 50 && panes > 0; i++) await new Promise((r) => setTimeout(r, 100));
      const after = JSON.parse(
        (
          await request(agent.port, '/api/status', {
            headers: { authorization: `Bearer ${agent.cliToken}` },
          })
        ).body,
      ) as { panesConnected: number };
      assert.equal(after.panesConnected, 0, 'every connection was let go');
      // Generous: the point is that 1,000 sockets do not stay behind in memory.
      assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024);
      const pane = await connectPane(agent.port);
      pane.send({ type: 'auth', requestId: 'ok', token: agent.cliToken });
      assert.equal((await pane.reply('ok')).ok, true, 'and new panes are served');
      pane.ws.close();
    });

    it('never serves files outside the pane (path traversal)', async () => {
      for (const attempt of [
        '/../../../../etc/passwd',
        '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        '/assets/..%2f..%2f..%2fpackage.json',
        '/office/..%2f..%2f..%2fpackage.json',
        '/..%5c..%5cpackage.json',
        '/agent.token',
        '/state.db',
      ]) {
        const answer = await request(agent.port, attempt);
        assert.ok([400, 403, 404].includes(answer.status), `${attempt}: ${answer.status}`);
        assert.doesNotMatch(answer.body, /root:|"name": "storesync"|SQLite/, attempt);
      }
    });

    // Last: it leaves the agent refusing guesses for a minute.
    it('drops the panes connected now when every pane is unpaired, and refuses their tokens', async () => {
      const code = agent.pairing.issue('code').secret;
      const pane = await connectPane(agent.port);
      pane.send({ type: 'pair', requestId: 'p1', code });
      const paired = await pane.reply('p1');
      assert.ok(paired.ok && paired.token);
      await pane.waitFor(isType('snapshot'));
      const cli = await connectPane(agent.port);
      cli.send({ type: 'auth', requestId: 'c1', token: agent.cliToken });
      assert.equal((await cli.reply('c1')).ok, true);

      const closed = new Promise<number>((resolve) =>
        pane.ws.once('close', (c: number) => resolve(c)),
      );
      const revoke = await request(agent.port, '/api/pairing/clients', {
        method: 'DELETE',
        headers: { authorization: `Bearer ${agent.cliToken}` },
      });
      assert.equal(revoke.status, 200);
      assert.equal(await closed, 4001);
      // The command line's own connection is not a pane's: it stays in.
      cli.send({ type: 'getHistory', requestId: 'c2', limit: 1 });
      assert.equal((await cli.reply('c2')).ok, true);
      cli.ws.close();

      const again = await connectPane(agent.port);
      again.send({ type: 'auth', requestId: 'a1', token: paired.token });
      assert.equal((await again.reply('a1')).error?.code, 'UNAUTHORIZED');
      again.ws.close();
    });

    it('stops answering token and code guesses made across many connections', async () => {
      const answers: string[] = [];
      for (let c = 0; c < 10; c++) {
        const pane = await connectPane(agent.port);
        for (let i = 0; i < 4; i++) {
          const kind = i % 2 ? 'auth' : 'pair';
          pane.send(
            kind === 'auth'
              ? { type: 'auth', requestId: `b${c}-${i}`, token: `guess-${c}-${i}` }
              : { type: 'pair', requestId: `b${c}-${i}`, code: `GUES-S${c}${i}X` },
          );
          answers.push((await pane.reply(`b${c}-${i}`)).error?.code ?? 'OK');
        }
        pane.ws.close();
      }
      assert.ok(!answers.includes('OK'));
      assert.ok(answers.includes('RATE_LIMITED'), answers.join(','));
      // Once limited, even a right token gets no answer but that: guessing stops paying.
      const pane = await connectPane(agent.port);
      pane.send({ type: 'auth', requestId: 'right', token: agent.cliToken });
      assert.equal((await pane.reply('right')).error?.code, 'RATE_LIMITED');
      pane.ws.close();
    });
  });
});
