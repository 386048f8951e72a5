/**
 * The framing of the agent's local socket (local-socket.ts): one JSON message per line, over a
 * real Unix socket, whatever the chunks the kernel delivers; a peer that never ends a line is
 * cut off instead of growing the agent's memory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  listenLocalSocket,
  LocalConnection,
  type LocalSocketServer,
} from '../../agent/src/server/local-socket.js';

describe('local socket', () => {
  let dir: string;
  let server: LocalSocketServer;
  let accepted: Promise<LocalConnection>;
  let peer: net.Socket;
  const LIMIT = 64;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-sock-'));
    let accept!: (c: LocalConnection) => void;
    accepted = new Promise((resolve) => (accept = resolve));
    const listening = await listenLocalSocket(dir, (socket) =>
      accept(new LocalConnection(socket, LIMIT)),
    );
    assert.ok(!('unavailable' in listening), 'a short dataDir on Linux has its socket');
    server = listening;
    peer = net.connect(server.path);
    await new Promise((resolve) => peer.once('connect', resolve));
  });

  afterEach(async () => {
    peer.destroy();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const linesOf = (connection: LocalConnection, count: number) =>
    new Promise<string[]>((resolve) => {
      const lines: string[] = [];
      connection.on('line', (line: Buffer) => {
        lines.push(line.toString('utf8'));
        if (lines.length === count) resolve(lines);
      });
    });

  it("is the owner's alone, and gone once closed", async () => {
    const stat = await fs.stat(server.path);
    assert.ok(stat.isSocket());
    assert.equal(stat.mode & 0o777, 0o600);
    assert.equal(server.path, path.join(dir, 'agent.sock'));
    peer.destroy();
    await server.close();
    await assert.rejects(fs.stat(server.path), { code: 'ENOENT' });
    // afterEach closes it again: a second close must do no harm.
    server = { path: server.path, close: async () => {} };
  });

  it('closes, when the agent stops, even with a connection whose command never hangs up', async () => {
    const connection = await accepted;
    const lingering = net.connect({ path: server.path, allowHalfOpen: true });
    lingering.on('error', () => {});
    await new Promise((resolve) => lingering.once('connect', resolve));
    const ended = new Promise((resolve) => lingering.once('end', resolve));
    connection.close();
    // Resolves although `lingering` never ends its side: the agent cut it.
    await server.close();
    await ended;
    lingering.destroy();
    server = { path: server.path, close: async () => {} };
  });

  it('takes the place of a file left by an agent that did not stop cleanly', async () => {
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-sock-'));
    await fs.writeFile(path.join(other, 'agent.sock'), 'left behind');
    const listening = await listenLocalSocket(other, (socket) => socket.end());
    try {
      assert.ok(!('unavailable' in listening));
      assert.ok((await fs.stat(listening.path)).isSocket());
    } finally {
      if (!('unavailable' in listening)) await listening.close();
      await fs.rm(other, { recursive: true, force: true });
    }
  });

  it('names why there is none for a dataDir whose path is too long for a socket', async () => {
    const deep = path.join(dir, 'd'.repeat(120));
    const result = await listenLocalSocket(deep, () => {});
    assert.ok('unavailable' in result);
    assert.match(result.unavailable, /too long/);
  });

  it('splits messages at line ends, however the bytes arrive', async () => {
    const connection = await accepted;
    const got = linesOf(connection, 4);
    // Two messages in one write, one cut in three, one ending in CRLF (as `nc` sends).
    peer.write('{"a":1}\n{"b":2}\n{"c"');
    await new Promise((r) => setTimeout(r, 20));
    peer.write(':');
    await new Promise((r) => setTimeout(r, 20));
    peer.write('3}\n{"d":"é"}\r\n');
    assert.deepEqual(await got, ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":"é"}\r']);
  });

  it('sends each message as one line', async () => {
    const connection = await accepted;
    let received = '';
    peer.on('data', (d: Buffer) => (received += d.toString()));
    connection.send(JSON.stringify({ text: 'two\nlines' }));
    connection.send('{}');
    while (!received.endsWith('{}\n')) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(received.split('\n'), ['{"text":"two\\nlines"}', '{}', '']);
  });

  for (const [name, writes] of [
    ['in one piece', ['x'.repeat(LIMIT + 1) + '\n']],
    ['without ever ending it', ['x'.repeat(40), 'x'.repeat(40)]],
  ] as const) {
    it(`cuts off a peer that sends a line over the limit ${name}`, async () => {
      const connection = await accepted;
      const lines: string[] = [];
      connection.on('line', (line: Buffer) => lines.push(line.toString()));
      const overlong = new Promise((resolve) => connection.once('overlong', resolve));
      const closed = new Promise((resolve) => peer.once('close', resolve));
      peer.write('{"ok":1}\n');
      for (const chunk of writes) {
        await new Promise((r) => setTimeout(r, 10));
        peer.write(chunk);
      }
      await overlong;
      await closed;
      assert.deepEqual(lines, ['{"ok":1}']);
      assert.equal(connection.open, false);
    });
  }
});
