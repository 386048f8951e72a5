/**
 * `storesync start` as users and scripts meet it: status with and without a running agent,
 * one agent per dataDir, commands from a paired pane, config reload on SIGHUP, a slow pane
 * that must not hold the sync back, and a clean stop on SIGTERM that tells the panes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type SyncEvent } from '../../agent/src/protocol/index.js';
import { lockFileOf } from '../../agent/src/server/agent-lock.js';
import { messageIdOf } from '../../agent/src/sync/message-id.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { connectPane, isType } from '../support/pane-socket.js';
import {
  runCli,
  startAgentProcess,
  writeTestConfig,
  type AgentProcess,
} from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_SERVICE_TEST_PASSWORD';

describe('agent service', () => {
  let dovecot: TestDovecot;
  let dir: string;
  let configFile: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let agent: AgentProcess | undefined;

  const port = () => Number(new URL(agent!.url).port);
  const token = () => fs.readFile(path.join(dataDir, 'agent.token'), 'utf8').then((t) => t.trim());
  /** Every pane of the file: what they were sent is checked for secrets at the end. */
  const panes: Array<Awaited<ReturnType<typeof connectPane>>> = [];
  /** A pane that has shown the CLI's token (a paired pane's is checked the same way). */
  const pairedPane = async () => {
    const pane = await connectPane(port());
    panes.push(pane);
    pane.send({ type: 'auth', requestId: 'auth', token: await token() });
    assert.equal((await pane.reply('auth')).ok, true);
    await pane.waitFor(isType('snapshot'));
    return pane;
  };

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(
      generateMailbox({ count: 300, folders: ['INBOX', 'Archive'], seed: 5 }),
    );
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-service-'));
    configFile = await writeTestConfig(dir, dovecot, {
      passwordEnv: PASSWORD_ENV,
      accountId: 'work',
    });
    dataDir = path.join(dir, 'data');
    // Everything logged, the IMAP conversation included: the secrets test below reads it all.
    const config = JSON.parse(await fs.readFile(configFile, 'utf8')) as Record<string, unknown>;
    config.log = { level: 'debug', imapProtocol: true };
    await fs.writeFile(configFile, JSON.stringify(config, null, 2));
    // The agent's record for the command line (agent-record.ts) and the code cache: here.
    env = { [PASSWORD_ENV]: dovecot.password, XDG_CACHE_HOME: path.join(dir, 'cache') };
  });

  after(async () => {
    await agent?.stop();
    await dovecot?.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reports status from the state when no agent runs', async () => {
    const status = await runCli(['status', '--config', configFile]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Agent: not running/);
    assert.match(status.stdout, /work \(127\.0\.0\.1\): 0 messages in 0 folders; never synced/);
  });

  it('runs one agent per dataDir', async () => {
    agent = await startAgentProcess(['--config', configFile], env);
    const second = await runCli(['start', '--config', configFile], env);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`pid ${agent.child.pid}.*already running`));
    const status = await runCli(['status', '--json', '--config', configFile]);
    const parsed = JSON.parse(status.stdout) as { agent: { running: boolean; pid: number } };
    assert.deepEqual([parsed.agent.running, parsed.agent.pid], [true, agent.child.pid]);
  });

  it('syncs for a paired pane, then finds a message by Message-ID and fetches its body', async () => {
    const pane = await pairedPane();
    pane.send({ type: 'sync', requestId: 's', flags: FULL_SYNC });
    const started = await pane.reply('s');
    const done = await pane.waitFor(
      (m): m is Extract<typeof m, { type: 'done' }> =>
        m.type === 'done' && m.syncId === started.syncId,
    );
    assert.equal(done.result, 'ok');
    assert.equal(done.stats.downloaded, 300);
    // The new counts come as accountState, with the folder list.
    const state = await pane.waitFor(isType('accountState'));
    assert.equal(state.account.messageCount, 300);
    assert.deepEqual(state.account.folders.map((f) => f.path).sort(), ['Archive', 'INBOX']);

    const [message] = await dovecot.listMessages('Archive');
    const messageId = messageIdOf(message!.raw);
    assert.ok(messageId);
    pane.send({ type: 'lookupMessage', requestId: 'l', internetMessageId: messageId });
    const found = await pane.reply('l');
    assert.deepEqual(
      found.locations?.map((l) => [l.accountId, l.folder, l.uid]),
      [['work', 'Archive', message!.uid]],
    );
    assert.ok(found.locations![0]!.syncedAt);
    pane.send({
      type: 'fetchBody',
      requestId: 'f',
      accountId: 'work',
      folder: 'Archive',
      uid: message!.uid,
    });
    const body = await pane.reply('f');
    // This pane shows the CLI's token, so it is told where the file is, as `storesync fetch`.
    const stored = path.join(dir, 'Maildir', 'Archive', 'cur');
    assert.deepEqual(
      { ...body.body, path: path.dirname(body.body?.path ?? '') },
      { size: found.locations![0]!.size, fetched: false, path: stored },
    );
    // A pane paired with a code is not: it has no use for the machine's paths.
    const pair = await runCli(['pair', '--config', configFile]);
    const code = /Pairing code: (\S+)/.exec(pair.stdout)?.[1];
    assert.ok(code, pair.stdout);
    const paired = await connectPane(port());
    paired.send({ type: 'pair', requestId: 'p', code });
    assert.equal((await paired.reply('p')).ok, true);
    paired.send({
      type: 'fetchBody',
      requestId: 'f2',
      accountId: 'work',
      folder: 'Archive',
      uid: message!.uid,
    });
    assert.deepEqual((await paired.reply('f2')).body, {
      size: found.locations![0]!.size,
      fetched: false,
    });
    paired.ws.close();
    pane.send({ type: 'getHistory', requestId: 'h', limit: 5 });
    assert.equal((await pane.reply('h')).history?.[0]?.syncId, started.syncId);
    pane.ws.close();

    const status = await runCli(['status', '--config', configFile]);
    assert.match(status.stdout, /Agent: running/);
    assert.match(status.stdout, /300 messages in 2 folders; last sync .* ago: ok/);
  });

  it('keeps syncing while a pane reads nothing, which still gets the done', async () => {
    const slow = await pairedPane();
    const watcher = await pairedPane();
    // A pane that stops reading (a frozen Outlook): its socket buffer fills, the agent's must not.
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    await dovecot.appendMessages(generateMailbox({ count: 100, folders: ['INBOX'], seed: 6 }));
    watcher.send({ type: 'sync', requestId: 's2', flags: FULL_SYNC });
    const { syncId } = await watcher.reply('s2');
    const done = await watcher.waitFor(
      (m): m is Extract<typeof m, { type: 'done' }> => m.type === 'done' && m.syncId === syncId,
    );
    assert.equal(done.stats.downloaded, 100);
    const before = slow.received.length;
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const late = await slow.waitFor(
      (m): m is Extract<typeof m, { type: 'done' }> => m.type === 'done' && m.syncId === syncId,
      before,
    );
    assert.equal(late.result, 'ok');
    slow.ws.close();
    watcher.ws.close();
  });

  it('has the agent do the pass a `sync --once` asks for, and prints it as its own', async () => {
    const watcher = await pairedPane();
    // Two new messages in each folder.
    await dovecot.appendMessages(
      ['INBOX', 'Archive'].flatMap((folder, i) =>
        generateMailbox({ count: 2, folders: [folder], seed: 80 + i }),
      ),
    );
    // Only Archive: the agent's run takes the folder list of the command line.
    const json = await runCli(
      ['sync', '--once', '--json', '--folder', 'Archive', '--config', configFile],
      env,
    );
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout) as {
      ok: boolean;
      downloaded: number;
      foldersSynced: number;
    };
    assert.deepEqual([summary.ok, summary.foldersSynced, summary.downloaded], [true, 1, 2]);
    // The pane saw the same run, started by the command line.
    const started = await watcher.waitFor(
      (m): m is Extract<typeof m, { type: 'syncStarted' }> =>
        m.type === 'syncStarted' && m.trigger === 'cli',
    );
    await watcher.waitFor(
      (m): m is Extract<typeof m, { type: 'done' }> =>
        m.type === 'done' && m.syncId === started.syncId,
    );

    // Every event of the run as NDJSON, from its start to its done: the rest of INBOX's.
    const events = await runCli(['sync', '--once', '--events', '--config', configFile], env);
    assert.equal(events.code, 0, events.stderr);
    const lines = events.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as SyncEvent);
    assert.equal(lines[0]!.type, 'syncStarted');
    assert.equal(lines.at(-1)!.type, 'done');
    assert.equal(new Set(lines.map((e) => e.syncId)).size, 1, 'one run only');
    const done = lines.at(-1) as Extract<SyncEvent, { type: 'done' }>;
    assert.equal(done.stats.downloaded, 2, "INBOX's two");
    assert.ok(lines.some((e) => e.type === 'progress'));

    // What the agent cannot do is said, with the exit code of a bad command line.
    const unknown = await runCli(
      ['sync', '--once', '--account', 'nobody', '--config', configFile],
      env,
    );
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /nobody/);
    watcher.ws.close();
  });

  it('is found by `sync --once` from the config file alone, until that file is edited', async () => {
    const watcher = await pairedPane();
    const reads = path.join(dir, 'bundle-reads.txt');
    const traced = {
      ...env,
      NODE_OPTIONS: `--require ${path.resolve('test/support/record-bundle-reads.cjs')}`,
      STORESYNC_TEST_BUNDLE_READS: reads,
    };
    /** The bundles of dist/cli one command read, and its summary. */
    const sync = async () => {
      await fs.rm(reads, { force: true });
      const run = await runCli(['sync', '--once', '--json', '--config', configFile], traced);
      assert.equal(run.code, 0, run.stderr);
      const summary = JSON.parse(run.stdout) as { ok: boolean };
      assert.equal(summary.ok, true, run.stdout);
      const read = (await fs.readFile(reads, 'utf8')).trim().split('\n');
      return read;
    };
    /** The agent ran a pass for the command line. */
    const passFromCli = async (from: number) => {
      const started = await watcher.waitFor(
        (m): m is Extract<typeof m, { type: 'syncStarted' }> =>
          m.type === 'syncStarted' && m.trigger === 'cli',
        from,
      );
      await watcher.waitFor(
        (m): m is Extract<typeof m, { type: 'done' }> =>
          m.type === 'done' && m.syncId === started.syncId,
        from,
      );
    };

    let from = watcher.received.length;
    assert.deepEqual(
      await sync(),
      ['sync-fast-path.cjs', 'sync-through-recorded-agent.cjs'],
      'neither the CLI nor the engine',
    );
    await passFromCli(from);

    // Edited since the agent read it: the CLI reads and checks it, then still asks the agent.
    const original = await fs.readFile(configFile, 'utf8');
    await fs.writeFile(configFile, original + '\n');
    try {
      from = watcher.received.length;
      const read = await sync();
      assert.deepEqual(read.slice(0, 1), ['sync-fast-path.cjs'], 'the record looked for');
      assert.ok(read.includes('sync.cjs'), read.join(' '));
      assert.ok(!read.includes('sync-through-recorded-agent.cjs'), 'and not found');
      await passFromCli(from);
      // A config that no longer reads is said to be so, as without an agent.
      await fs.writeFile(configFile, original.replace('"tls": "none"', '"tls": "sometimes"'));
      const broken = await runCli(['sync', '--once', '--json', '--config', configFile], env);
      assert.equal(broken.code, 2);
      assert.match(broken.stderr, /accounts\[0\]\.imap\.tls/);
    } finally {
      await fs.writeFile(configFile, original);
    }
    watcher.ws.close();
  });

  it('reloads its config on SIGHUP, and keeps the old one when the new one is broken', async () => {
    const pane = await pairedPane();
    const original = await fs.readFile(configFile, 'utf8');
    const config = JSON.parse(original) as { accounts: Array<{ id: string; maildir: string }> };
    // Each account its own Maildir, beside the first one's.
    const first = config.accounts[0]!;
    config.accounts.push({ ...first, id: 'second', maildir: `${first.maildir}-second` });
    await fs.writeFile(configFile, JSON.stringify(config));
    const from = pane.received.length;
    agent!.child.kill('SIGHUP');
    const snapshot = await pane.waitFor(isType('snapshot'), from);
    assert.deepEqual(
      snapshot.accounts.map((a) => a.id),
      ['work', 'second'],
    );

    await fs.writeFile(configFile, original.replace('"tls": "none"', '"tls": "sometimes"'));
    agent!.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/not reloaded/.test(agent!.output()); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(agent!.output(), /configuration not reloaded: .*accounts\[0\]\.imap\.tls/);
    pane.send({ type: 'getHistory', requestId: 'alive' });
    assert.equal((await pane.reply('alive')).ok, true, 'still serving with the old config');
    await fs.writeFile(configFile, original);
    pane.ws.close();
  });

  it('stops on SIGTERM: panes are told, the lock is released, the next start resumes', async () => {
    const pane = await pairedPane();
    const stopped = agent!.stop();
    const notice = await pane.waitFor(isType('agentStopping'));
    assert.match(notice.reason, /stopping/);
    assert.equal(await stopped, 0);
    agent = undefined;
    await assert.rejects(fs.stat(lockFileOf(dataDir)), { code: 'ENOENT' });

    const again = await runCli(['sync', '--once', '--json', '--config', configFile], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).downloaded, 0, 'nothing was left half done');
  });

  it('lets no password or token reach a log, the support bundle or a pane', async () => {
    // A pane paired the way users do, so that a pane token exists to look for too.
    agent = await startAgentProcess(['--config', configFile], env);
    const pair = await runCli(['pair', '--config', configFile]);
    const code = /Pairing code: (\S+)/.exec(pair.stdout)![1]!;
    const pane = await connectPane(port());
    panes.push(pane);
    pane.send({ type: 'pair', requestId: 'p', code });
    const paneToken = (await pane.reply('p')).token!;
    pane.send({ type: 'sync', requestId: 's', flags: FULL_SYNC });
    const { syncId } = await pane.reply('s');
    await pane.waitFor(
      (m): m is Extract<typeof m, { type: 'done' }> => m.type === 'done' && m.syncId === syncId,
    );
    pane.ws.close();
    await agent.stop();
    agent = undefined;

    const bundle = path.join(dir, 'bundle.tar.gz');
    const made = await runCli(['support-bundle', '--config', configFile, '--out', bundle], env);
    assert.equal(made.code, 0, made.stderr);
    const unpacked = path.join(dir, 'bundle');
    await fs.mkdir(unpacked);
    await new Promise<void>((resolve, reject) =>
      spawn('tar', ['-xzf', bundle, '-C', unpacked]).once('exit', (c) =>
        c === 0 ? resolve() : reject(new Error(`tar exited ${c}`)),
      ),
    );

    const password = dovecot.password;
    const secrets: Record<string, string> = {
      password,
      'AUTHENTICATE PLAIN payload': Buffer.from(`\0${dovecot.user}\0${password}`).toString(
        'base64',
      ),
      'CLI token': await token(),
      'pane token': paneToken,
      'pairing code': code,
    };
    const places: Array<[string, string]> = [];
    const readAll = async (root: string) => {
      for (const entry of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
        if (!entry.isFile()) continue;
        const file = path.join(entry.parentPath, entry.name);
        places.push([path.relative(dir, file), await fs.readFile(file, 'latin1')]);
      }
    };
    await readAll(path.join(dataDir, 'logs'));
    await readAll(unpacked);
    // The one frame meant to carry a secret: the pair reply handing the pane its own token.
    const frames = panes
      .flatMap((p) => p.received)
      .filter((m) => !(m.type === 'reply' && m.token === paneToken));
    places.push(['frames sent to panes', JSON.stringify(frames)]);
    assert.ok(
      places.some(([where, text]) => where.includes('logs') && /LOGIN|AUTHENTICATE/.test(text)),
      'the IMAP conversation, login included, was logged (so its redaction was put to the test)',
    );
    for (const [what, secret] of Object.entries(secrets))
      for (const [where, text] of places)
        assert.ok(!text.includes(secret), `the ${what} appears in ${where}`);
  });
});
