/** The private Dovecot the demo and the tests stand on: it must behave like a real server. */
import assert from 'node:assert/strict';
import net from 'node:net';
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

describe('private Dovecot harness', () => {
  let dovecot: TestDovecot;
  after(async () => dovecot?.cleanup());

  it('stores what is appended, byte for byte, with flags, in nested folders', async () => {
    dovecot = await startTestDovecot();
    const messages = generateMailbox({ count: 20, folders: ['INBOX', 'Archive/2024'], seed: 5 });
    await dovecot.appendMessages(messages);
    for (const folder of ['INBOX', 'Archive/2024']) {
      const expected = messages.filter((m) => m.folder === folder);
      const stored = await dovecot.listMessages(folder);
      assert.equal(stored.length, expected.length, folder);
      stored.forEach((m, i) => {
        assert.deepEqual(m.raw, expected[i]!.raw, `${folder} #${i} bytes`);
        // \Recent is the session's, not the message's.
        const flags = m.flags.filter((f) => f !== '\\Recent').sort();
        assert.deepEqual(flags, [...expected[i]!.flags].sort(), `${folder} #${i} flags`);
      });
    }
  });

  it('advertises CONDSTORE and QRESYNC by default', async () => {
    const client = await dovecot.client();
    assert.ok(client.capabilities.has('CONDSTORE') && client.capabilities.has('QRESYNC'));
    await client.logout();
  });

  it('keeps its mail across a restart and closes its port on stop', async () => {
    await dovecot.restart();
    assert.equal((await dovecot.listMessages('Archive/2024')).length > 0, true);
    await dovecot.stop();
    assert.equal(await portOpen(dovecot.port), false);
  });

  it('can behave like a server without QRESYNC, or without CONDSTORE, side by side', async () => {
    const gmailLike = await startTestDovecot({ capabilities: { qresync: false } });
    const exchangeLike = await startTestDovecot({ capabilities: { condstore: false } });
    try {
      assert.notEqual(gmailLike.port, exchangeLike.port);
      const a = await gmailLike.client();
      const b = await exchangeLike.client();
      assert.ok(a.capabilities.has('CONDSTORE') && !a.capabilities.has('QRESYNC'));
      assert.ok(!b.capabilities.has('CONDSTORE') && !b.capabilities.has('QRESYNC'));
      await Promise.all([a.logout(), b.logout()]);
    } finally {
      await Promise.all([gmailLike.cleanup(), exchangeLike.cleanup()]);
    }
  });
});
