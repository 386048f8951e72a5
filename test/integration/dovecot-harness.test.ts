/** The private Dovecot the demo and the tests stand on: it must behave like a real server. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startPrivateDovecot } from '../../agent/src/demo/private-dovecot.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes of one instance: the master names its config, the others its instance name. */
async function processesOf(dovecot: TestDovecot): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await fs.readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dovecot.dir) || cmdline.includes(`storesync-${dovecot.port}/`)) {
      found.push(`${pid} ${cmdline.replace(/\0/g, ' ')}`);
    }
  }
  return found;
}

describe('private Dovecot harness', () => {
  let dovecot: TestDovecot;
  before(async () => {
    dovecot = await startTestDovecot();
  });
  after(async () => dovecot?.cleanup());

  it('stores what is appended, byte for byte, with flags, in nested folders', async () => {
    const messages = generateMailbox({ count: 20, folders: ['INBOX', 'Archive/2024'], seed: 5 });
    assert.ok(new Set(messages.map((m) => m.folder)).size === 2, 'both folders get mail');
    await dovecot.appendMessages(messages);
    for (const folder of ['INBOX', 'Archive/2024']) {
      const expected = messages.filter((m) => m.folder === folder);
      const stored = await dovecot.listMessages(folder);
      assert.equal(stored.length, expected.length, folder);
      stored.forEach((m, i) => {
        assert.ok(m.raw.equals(expected[i]!.raw), `${folder} #${i} bytes`);
        // \Recent is the session's, not the message's.
        const flags = m.flags.filter((f) => f !== '\\Recent').sort();
        assert.deepEqual(flags, [...expected[i]!.flags].sort(), `${folder} #${i} flags`);
      });
    }
  });

  it('replaces a flag set, and lists an empty folder as empty', async () => {
    const [first] = await dovecot.listMessages('INBOX');
    await dovecot.setFlags('INBOX', first!.uid, ['\\Flagged', '$Label1']);
    const [after] = await dovecot.listMessages('INBOX');
    assert.deepEqual(after!.flags.filter((f) => f !== '\\Recent').sort(), ['$Label1', '\\Flagged']);
    const client = await dovecot.client();
    await client.mailboxCreate('Empty');
    await client.logout();
    assert.deepEqual(await dovecot.listMessages('Empty'), []);
  });

  it('advertises IDLE, UIDPLUS, CONDSTORE and QRESYNC, and the special-use folders', async () => {
    const client = await dovecot.client();
    try {
      for (const c of ['IDLE', 'UIDPLUS', 'CONDSTORE', 'QRESYNC']) {
        assert.ok(client.capabilities.has(c), c);
      }
      await client.mailboxCreate('Sent');
      const sent = (await client.list()).find((f) => f.path === 'Sent');
      assert.equal(sent?.specialUse, '\\Sent');
    } finally {
      await client.logout();
    }
  });

  it('runs a second and third instance side by side, without QRESYNC or CONDSTORE', async () => {
    const gmailLike = await startTestDovecot({ capabilities: { qresync: false } });
    const exchangeLike = await startTestDovecot({ capabilities: { condstore: false } });
    try {
      assert.equal(new Set([dovecot.port, gmailLike.port, exchangeLike.port]).size, 3);
      const a = await gmailLike.client();
      const b = await exchangeLike.client();
      assert.ok(a.capabilities.has('CONDSTORE') && !a.capabilities.has('QRESYNC'));
      assert.ok(!b.capabilities.has('CONDSTORE') && !b.capabilities.has('QRESYNC'));
      await Promise.all([a.logout(), b.logout()]);
      // The first instance is untouched by the others.
      assert.equal((await dovecot.listMessages('Archive/2024')).length > 0, true);
      assert.deepEqual(await gmailLike.listMessages('INBOX'), []);
    } finally {
      await Promise.all([gmailLike.cleanup(), exchangeLike.cleanup()]);
    }
  });

  it('refuses a second start on the same dir, and leaves the running one alone', async () => {
    await assert.rejects(startPrivateDovecot({ dir: dovecot.dir }), /already runs on/);
    const client = await dovecot.client();
    await client.logout();
  });

  it('keeps its mail and LOGIN across a restart', async () => {
    const before = await dovecot.listMessages('Archive/2024');
    await dovecot.restart();
    const client = await dovecot.client();
    assert.ok(client.authenticated);
    await client.logout();
    assert.equal((await dovecot.listMessages('Archive/2024')).length, before.length);
  });

  it('closes its port and leaves no process on stop; stopping twice is fine', async () => {
    assert.notDeepEqual(await processesOf(dovecot), []);
    await dovecot.stop();
    assert.equal(await portOpen(dovecot.port), false);
    assert.deepEqual(await processesOf(dovecot), []);
    await dovecot.stop();
  });

  it('fails fast, with Dovecot’s log, when the port is taken', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    const port = (squatter.address() as net.AddressInfo).port;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-dovecot-'));
    const started = Date.now();
    try {
      await assert.rejects(startPrivateDovecot({ dir, port }), /did not come up[\s\S]*in use/);
      assert.ok(Date.now() - started < 10_000, 'well before the 20 s timeout');
    } finally {
      squatter.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
