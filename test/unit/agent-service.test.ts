/** The agent's small parts: pairing secrets, the dataDir lock, progress coalescing, replay. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatStatus, readStatus } from '../../agent/src/commands/agent-commands.js';
import { parseConfig } from '../../agent/src/config/load.js';
import { emptyStats, type ProgressEvent } from '../../agent/src/protocol/index.js';
import {
  DataDirLock,
  DataDirLockedError,
  lockFileOf,
  readLockHolder,
} from '../../agent/src/server/agent-lock.js';
import { readCliToken } from '../../agent/src/server/cli-token.js';
import { EventJournal } from '../../agent/src/server/event-journal.js';
import {
  CODE_TTL_MS,
  MAX_FAILED_REDEMPTIONS,
  PairingStore,
} from '../../agent/src/server/pairing.js';
import { ProgressCoalescer } from '../../agent/src/server/progress-coalescer.js';

const LOCK_MODULE = fileURLToPath(new URL('../../agent/src/server/agent-lock.ts', import.meta.url));

describe('agent service parts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-service-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('pairing', () => {
    it('trades a code once for a token that survives a restart, and stores no token', () => {
      let now = 1_000_000;
      const store = new PairingStore(dir, () => now);
      const { secret } = store.issue('code');
      assert.match(secret, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      const token = store.redeem(secret, 'Outlook (Edge)');
      assert.ok(token);
      assert.equal(store.redeem(secret), null, 'a code works once');
      const restarted = new PairingStore(dir, () => now);
      assert.equal(restarted.verify(token), true);
      assert.equal(restarted.verify(token + 'x'), false);
      assert.equal(restarted.list()[0]?.name, 'Outlook (Edge)');
      assert.ok(!fs.readFileSync(path.join(dir, 'paired-clients.json'), 'utf8').includes(token));
      assert.equal(fs.statSync(path.join(dir, 'paired-clients.json')).mode & 0o077, 0);
      assert.equal(readCliToken(dir), store.cliToken);
      assert.equal(restarted.verify(store.cliToken), true);
      // Expired codes are refused.
      const late = restarted.issue('code').secret;
      now += CODE_TTL_MS + 1;
      assert.equal(restarted.redeem(late), null);
      assert.equal(restarted.revokeAll(), 1);
      assert.equal(restarted.verify(token), false);
    });

    it('withdraws outstanding codes after too many wrong guesses', () => {
      const store = new PairingStore(dir);
      const { secret } = store.issue('code');
      for (let i = 0; i < MAX_FAILED_REDEMPTIONS; i++)
        assert.equal(store.redeem('AAAA-AAAA'), null);
      assert.equal(store.redeem(secret), null, 'the real code is void too');
    });

    it('reads codes as people type them', () => {
      const store = new PairingStore(dir);
      const { secret } = store.issue('code');
      const typed = ` ${secret.toLowerCase().replace('-', ' ')} `;
      assert.ok(store.redeem(typed));
    });
  });

  describe('dataDir lock', () => {
    it('admits one holder, names it, and is taken over from a dead one', () => {
      const lock = DataDirLock.acquire(dir, 'agent');
      lock.update({ url: 'https://localhost:4643/', port: 4643 });
      assert.equal(readLockHolder(dir)?.port, 4643);
      assert.throws(
        () => DataDirLock.acquire(dir, 'sync'),
        (err: Error) => err instanceof DataDirLockedError && /already running/.test(err.message),
      );
      lock.release();
      assert.equal(fs.existsSync(lockFileOf(dir)), false);
      // A holder killed with -9 leaves its file behind; its pid is gone.
      fs.writeFileSync(
        lockFileOf(dir),
        JSON.stringify({ pid: 2 ** 22 + 12345, role: 'agent', startedAt: 0 }),
      );
      assert.equal(readLockHolder(dir), null);
      const next = DataDirLock.acquire(dir, 'sync');
      assert.equal(readLockHolder(dir)?.pid, process.pid);
      next.release();
    });

    /** A process that takes the lock (at `goAt`, ms since the epoch) and holds it for a while. */
    function contender(goAt: number) {
      const script =
        `const { DataDirLock } = await import(${JSON.stringify(LOCK_MODULE)});` +
        `while (Date.now() < ${goAt});` +
        `try { DataDirLock.acquire(${JSON.stringify(dir)}, 'sync'); console.log('won'); }` +
        `catch (err) { console.log(err.name); process.exit(0); }` +
        `setTimeout(() => {}, 30_000);`;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const said = once(child.stdout!, 'data').then(([data]) => String(data).trim());
      return { child, said };
    }

    it('lets exactly one of several starters win over a dead holder, and frees it when killed', async () => {
      fs.writeFileSync(
        lockFileOf(dir),
        JSON.stringify({ pid: 2 ** 22 + 12345, role: 'agent', startedAt: 0 }),
      );
      const goAt = Date.now() + 3000;
      const starters = Array.from({ length: 6 }, () => contender(goAt));
      try {
        const said = await Promise.all(starters.map((s) => s.said));
        assert.deepEqual(
          said.filter((s) => s === 'won').length,
          1,
          `one winner: ${said.join(', ')}`,
        );
        assert.deepEqual(new Set(said), new Set(['won', 'DataDirLockedError']));
        const winner = starters[said.indexOf('won')]!.child;
        assert.equal(readLockHolder(dir)?.pid, winner.pid);
        // Killed: its file stays, naming it, but nothing holds the lock any more.
        winner.kill('SIGKILL');
        await once(winner, 'exit');
        assert.equal(JSON.parse(fs.readFileSync(lockFileOf(dir), 'utf8')).pid, winner.pid);
        const next = DataDirLock.acquire(dir, 'agent');
        assert.equal(readLockHolder(dir)?.pid, process.pid);
        next.release();
      } finally {
        for (const s of starters) s.child.kill('SIGKILL');
      }
    });

    it('takes a lock whose pid now belongs to a process started after it for a leftover', async () => {
      const other = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const hourAgo = Date.now() - 3600_000;
        fs.writeFileSync(
          lockFileOf(dir),
          JSON.stringify({ pid: other.pid, role: 'agent', startedAt: hourAgo }),
        );
        assert.equal(readLockHolder(dir), null);
        const lock = DataDirLock.acquire(dir, 'agent');
        assert.equal(readLockHolder(dir)?.pid, process.pid);
        lock.release();
      } finally {
        other.kill('SIGKILL');
      }
    });

    it('knows its holder by its start in clock ticks, whatever the wall clock did since', () => {
      const lock = DataDirLock.acquire(dir, 'agent');
      try {
        const written = JSON.parse(fs.readFileSync(lockFileOf(dir), 'utf8'));
        assert.equal(typeof written.startTicks, 'number');
        // The clock was set forward two hours after the start (no RTC, NTP came later).
        fs.writeFileSync(
          lockFileOf(dir),
          JSON.stringify({ ...written, startedAt: written.startedAt - 2 * 3600_000 }),
        );
        assert.equal(readLockHolder(dir)?.pid, process.pid);
        // Another start than this process's: a pid used again.
        fs.writeFileSync(
          lockFileOf(dir),
          JSON.stringify({ ...written, startTicks: written.startTicks - 1 }),
        );
        assert.equal(readLockHolder(dir), null);
      } finally {
        lock.release();
      }
    });

    it('takes a killed holder its parent has not collected yet (a zombie) for dead', async () => {
      // `sleep 30` becomes the parent of the short sleep and never waits for it.
      const parent = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 30'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      try {
        const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
        const zombie = Number(line.toString().trim());
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.match(fs.readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /, 'a zombie');
        fs.writeFileSync(
          lockFileOf(dir),
          JSON.stringify({ pid: zombie, role: 'agent', startedAt: 0 }),
        );
        assert.equal(readLockHolder(dir), null);
        // A holder that runs is one, of course.
        fs.writeFileSync(
          lockFileOf(dir),
          JSON.stringify({ pid: parent.pid, role: 'agent', startedAt: Date.now() }),
        );
        assert.equal(readLockHolder(dir)?.pid, parent.pid);
      } finally {
        parent.kill('SIGKILL');
      }
    });

    it('gives the status from the state, saying so, when the holder does not answer', async () => {
      const silent = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        fs.writeFileSync(
          lockFileOf(dir),
          // A port nothing listens on (the agent hangs, or is going).
          JSON.stringify({
            pid: silent.pid,
            role: 'agent',
            startedAt: Date.now(),
            url: 'https://localhost:9/',
            port: 9,
          }),
        );
        fs.writeFileSync(path.join(dir, 'agent.token'), 'x'.repeat(43), { mode: 0o600 });
        fs.mkdirSync(path.join(dir, 'tls'));
        fs.writeFileSync(path.join(dir, 'tls', 'ca.pem'), 'not used');
        const config = parseConfig(
          {
            dataDir: dir,
            accounts: [
              {
                id: 'a',
                imap: { host: '127.0.0.1', user: 'u', password: { env: 'X' } },
                maildir: path.join(dir, 'Maildir'),
              },
            ],
          },
          null,
        );
        const status = await readStatus(config);
        assert.equal(status.agent.running, false);
        assert.equal(status.agent.pid, silent.pid);
        assert.match(
          status.agent.unreachable ?? '',
          /does not answer at https:\/\/localhost:9\/ \(ECONNREFUSED\)/,
        );
        assert.deepEqual(
          status.accounts.map((a) => a.id),
          ['a'],
        );
        assert.match(
          formatStatus(status, Date.now()),
          new RegExp(`^Agent: pid ${silent.pid} holds the data directory but it does not answer`),
        );
      } finally {
        silent.kill('SIGKILL');
      }
    });
  });

  describe('progress coalescing', () => {
    const progress = (index: number, accountId = 'a'): ProgressEvent => ({
      type: 'progress',
      syncId: 's',
      accountId,
      folder: 'INBOX',
      step: 'downloading',
      text: `Downloading ${index}`,
      index,
      indexMax: 1000,
      bytes: 0,
      at: 0,
    });

    it('sends at most ten a second per account, and the last one before the done', () => {
      const sent: ProgressEvent[] = [];
      let now = 0;
      const coalescer = new ProgressCoalescer(
        (e) => sent.push(e),
        () => now,
      );
      for (let i = 1; i <= 1000; i++) {
        now = i; // 1000 events over one second
        coalescer.push(progress(i));
      }
      coalescer.push(progress(1, 'b'));
      // Only the first went at once; the rest wait for their slot (timers not run here).
      assert.deepEqual(
        sent.map((e) => [e.accountId, e.index]),
        [
          ['a', 1],
          ['b', 1],
        ],
      );
      coalescer.flush('s');
      assert.deepEqual(sent.at(-1)?.index, 1000, 'the newest value, never a stale one');
      assert.equal(sent.length, 3);
      coalescer.close();
    });

    it('releases the held value on its timer', async () => {
      const sent: number[] = [];
      const coalescer = new ProgressCoalescer((e) => sent.push(e.index));
      coalescer.push(progress(1));
      coalescer.push(progress(2));
      coalescer.push(progress(3));
      await new Promise((r) => setTimeout(r, 250));
      assert.deepEqual(sent, [1, 3]);
      coalescer.close();
    });
  });

  describe('event journal', () => {
    it('numbers every event and keeps the errors and dones for replay', () => {
      const journal = new EventJournal(2);
      const done = (syncId: string) => ({
        type: 'done' as const,
        syncId,
        result: 'ok' as const,
        stats: emptyStats(),
        startedAt: 0,
        finishedAt: 1,
      });
      assert.equal(journal.record({ ...done('s1') }).eventId, 1);
      journal.record({
        type: 'progress',
        syncId: 's2',
        accountId: 'a',
        folder: null,
        step: 'connecting',
        text: '',
        index: 0,
        indexMax: 0,
        bytes: 0,
        at: 0,
      });
      journal.record(done('s2'));
      journal.record(done('s3'));
      assert.equal(journal.lastId, 4);
      // Capacity 2: the oldest done is gone; progress is never kept.
      assert.deepEqual(
        journal.since(0).map((e) => e.eventId),
        [3, 4],
      );
      assert.deepEqual(
        journal.since(3).map((e) => e.eventId),
        [4],
      );
    });
  });
});
