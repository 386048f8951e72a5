/**
 * `storesync sync --once` beside a running agent asks the agent for the pass (agent-sync.ts):
 * in-process here, against an agent whose server never greets, so that a run lasts as long as
 * the test needs. What the command prints and returns when the run fails, is cancelled, or
 * the agent goes away mid-run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { type AgentEndpoint, findRunningAgent } from '../../agent/src/commands/agent-client.js';
import { AgentSyncError, runSyncThroughAgent } from '../../agent/src/commands/agent-sync.js';
import { parseConfig } from '../../agent/src/config/load.js';
import { FULL_SYNC, type SyncEvent } from '../../agent/src/protocol/index.js';
import { startAgent, type RunningAgent } from '../../agent/src/server/agent-server.js';
import { silentLogger } from '../../agent/src/sync/logger.js';
import { connectPane, isType } from '../support/pane-socket.js';

/** What the command wrote, as one string. */
function capture(): { out: NodeJS.WriteStream; text(): string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { out: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('sync --once through the running agent', () => {
  let dir: string;
  let agent: RunningAgent | null = null;
  /** Accepts connections and never says a word: an IMAP login that waits. */
  let mute: net.Server;
  const sockets = new Set<net.Socket>();
  const PASSWORD_ENV = 'STORESYNC_CLI_AGENT_TEST_PASSWORD';

  const start = async (accounts: Array<{ id: string; port: number }>) => {
    const config = parseConfig(
      {
        dataDir: dir,
        server: { host: '127.0.0.1', port: 0 },
        accounts: accounts.map(({ id, port }) => ({
          id,
          imap: {
            host: '127.0.0.1',
            port,
            tls: 'none',
            user: 'u',
            password: { env: PASSWORD_ENV },
          },
          maildir: path.join(dir, `Maildir-${id}`),
          syncIntervalSeconds: 0,
          idleFolders: [],
        })),
      },
      null,
    );
    agent = await startAgent(config, silentLogger);
    const endpoint = findRunningAgent(dir);
    assert.ok(endpoint, 'the agent is found from its dataDir, as the command line finds it');
    assert.equal(endpoint.socket, path.join(dir, 'agent.sock'), 'by its local socket');
    return endpoint;
  };

  before(async () => {
    process.env[PASSWORD_ENV] = 'secret';
    mute = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-cli-agent-'));
  });

  afterEach(async () => {
    await agent?.close();
    agent = null;
    sockets.forEach((s) => s.destroy());
    await fs.rm(dir, { recursive: true, force: true });
  });

  after(async () => {
    delete process.env[PASSWORD_ENV];
    await new Promise((r) => mute.close(r));
  });

  it("prints a failed run's error and exits 1", async () => {
    // Nothing listens on port 1: the account fails at once.
    const endpoint = await start([{ id: 'work', port: 1 }]);
    const { out, text } = capture();
    const code = await runSyncThroughAgent(
      endpoint,
      { folders: [], flags: FULL_SYNC, json: true },
      out,
    );
    assert.equal(code, 1);
    const summary = JSON.parse(text()) as {
      ok: boolean;
      result: string;
      errors: Array<{ account: string; code: string; severity: string }>;
    };
    assert.deepEqual([summary.ok, summary.result], [false, 'error']);
    // Retried first (notices), then the failure itself.
    assert.ok(summary.errors.length >= 1);
    for (const error of summary.errors)
      assert.deepEqual([error.account, error.code], ['work', 'CONNECTION_FAILED']);
    assert.equal(summary.errors.at(-1)!.severity, 'error');
  });

  it("cancels the run on the command line's signal (Ctrl-C), and the agent says so to panes", async function () {
    // Well before imapflow would give up on the silent server's greeting (16 s): a cancel
    // does not wait for a login to time out.
    this.timeout(8000);
    const endpoint = await start([{ id: 'work', port: (mute.address() as net.AddressInfo).port }]);
    const pane = await connectPane(endpoint.port);
    pane.send({ type: 'auth', requestId: 'a', token: endpoint.token });
    await pane.reply('a');
    const interrupt = new AbortController();
    const { out, text } = capture();
    const running = runSyncThroughAgent(
      endpoint,
      { folders: [], flags: FULL_SYNC, json: false, events: true, cancelSignal: interrupt.signal },
      out,
    );
    // The run is under way (its login waits on the mute server) when the user interrupts.
    const started = await pane.waitFor(isType('syncStarted'));
    assert.equal(started.trigger, 'cli');
    while (sockets.size === 0) await new Promise((r) => setTimeout(r, 10));
    interrupt.abort();
    assert.equal(await running, 1);
    const events = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SyncEvent);
    assert.equal(events[0]!.type, 'syncStarted');
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    assert.equal(done.type === 'done' && done.result, 'cancelled');
    assert.equal(done.syncId, started.syncId);
    const seen = await pane.waitFor(isType('done'));
    assert.equal(seen.result, 'cancelled');
    pane.ws.close();
  });

  for (const [way, reach] of [
    [
      'over its local socket, with no need of its HTTPS port',
      (endpoint: AgentEndpoint) => ({ ...endpoint, port: 1, url: 'https://localhost:1/' }),
    ],
    [
      'over its WebSocket when it has no local socket (an agent of an earlier version)',
      ({ socket: _, ...endpoint }: AgentEndpoint) => endpoint,
    ],
    [
      'over its WebSocket when its local socket cannot be reached',
      (endpoint: AgentEndpoint) => ({ ...endpoint, socket: path.join(dir, 'gone.sock') }),
    ],
  ] as const) {
    it(`cancels the run also when interrupted before the agent named it (${way})`, async () => {
      const endpoint = reach(
        await start([{ id: 'work', port: (mute.address() as net.AddressInfo).port }]),
      );
      const interrupt = new AbortController();
      const { out, text } = capture();
      const running = runSyncThroughAgent(
        endpoint,
        { folders: [], flags: FULL_SYNC, json: true, cancelSignal: interrupt.signal },
        out,
      );
      // Ctrl-C at once: the connection to the agent is not even open yet.
      interrupt.abort();
      assert.equal(await running, 1);
      assert.equal((JSON.parse(text()) as { result: string }).result, 'cancelled');
    });
  }

  it('ends with the run, cancelled, when the agent stops during it', async () => {
    const endpoint = await start([{ id: 'work', port: (mute.address() as net.AddressInfo).port }]);
    const { out, text } = capture();
    const running = runSyncThroughAgent(
      endpoint,
      { folders: [], flags: FULL_SYNC, json: true },
      out,
    );
    while (sockets.size === 0) await new Promise((r) => setTimeout(r, 10));
    const stopped = agent!.close();
    agent = null;
    assert.equal(await running, 1);
    assert.equal((JSON.parse(text()) as { result: string }).result, 'cancelled');
    await stopped;
    // Gone now: the next command runs the pass itself.
    assert.equal(findRunningAgent(dir), null);
    await assert.rejects(fs.stat(path.join(dir, 'agent.sock')), { code: 'ENOENT' });
  });

  it('refuses an account the agent does not have with the exit code of a bad command line', async () => {
    const endpoint = await start([{ id: 'work', port: 1 }]);
    await assert.rejects(
      runSyncThroughAgent(
        endpoint,
        { accountId: 'home', folders: [], flags: FULL_SYNC, json: true },
        capture().out,
      ),
      (err: unknown) =>
        err instanceof AgentSyncError && err.exitCode === 2 && /home/.test(err.message),
    );
  });
});
