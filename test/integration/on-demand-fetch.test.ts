/**
 * A body fetched on demand (a pane opening a message stored headers-only) while a pass of the
 * same folder changes its files: the pass may rename the message's file for a flag changed on
 * the server, or complete the body itself. Each message must stay one file, with the server's
 * bytes, and nothing may be left in tmp/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type SyncFlags } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { uniqueBaseName } from '../../agent/src/sync/maildir/maildir-folder.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const HEADERS_ONLY: SyncFlags = { ...FULL_SYNC, headersOnly: true };

describe('bodies fetched on demand beside a pass', function () {
  this.timeout(180_000);
  let fixture: SyncFixture;

  const assertIdentical = async () => {
    const server = await fixture.dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(fixture.folderDir('INBOX'));
    assert.deepEqual(
      local.map((m) => m.data.toString('latin1')).sort(),
      server.map((m) => crlfToLf(m.raw).toString('latin1')).sort(),
      'each message once, byte for byte',
    );
    assert.ok(await tmpIsEmpty(fixture.folderDir('INBOX')), 'tmp/ not empty');
  };

  beforeEach(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 4, folders: ['INBOX'], seed: 5 }),
    });
  });
  afterEach(async () => fixture?.cleanup());

  for (const pass of ['headers-only', 'full'] as const) {
    it(`a fetch whose file a ${pass} pass renames meanwhile (a flag changed on the server)`, async () => {
      await fixture.sync(HEADERS_ONLY);
      const [target] = await fixture.dovecot.listMessages('INBOX');
      // The fetch's FETCH is held until the server's flags have changed and a pass has
      // renamed the file the fetch listed.
      const proxy = await startFaultProxy({
        host: fixture.dovecot.host,
        port: fixture.dovecot.port,
      });
      proxy.arm({
        kind: 'hold-client-when-says',
        pattern: /UID FETCH/i,
        meanwhile: async () => {
          await fixture.dovecot.setFlags('INBOX', target!.uid, ['\\Seen', '\\Flagged']);
          const { done } = await fixture.sync(pass === 'full' ? FULL_SYNC : HEADERS_ONLY);
          assert.equal(done.result, 'ok');
        },
      });
      try {
        const engine = fixture.engine({ imap: { ...fixture.account.imap, port: proxy.port } });
        const fetched = await engine.fetchMessage('a', 'INBOX', target!.uid);
        assert.equal(proxy.fired.length, 1);
        assert.deepEqual(await fs.readFile(fetched.path), crlfToLf(target!.raw));
        assert.match(path.basename(fetched.path), /:2,FS$/);
      } finally {
        await proxy.close();
      }
      const files = await readMaildirFolder(fixture.folderDir('INBOX'));
      assert.equal(files.length, 4, files.map((f) => f.name).join(' '));
      // The next full pass has nothing to upload: no second copy reached the server.
      const { done } = await fixture.sync(FULL_SYNC);
      assert.equal(done.result, 'ok');
      assert.equal(done.stats.uploaded, 0);
      await assertIdentical();
    });
  }

  it('bodies fetched on demand cut short (a crash), their copies left in tmp/', async () => {
    await fixture.sync(HEADERS_ONLY);
    const [target] = await fixture.dovecot.listMessages('INBOX');
    const folder = fixture.state.folders('a').find((f) => f.path === 'INBOX')!;
    const row = fixture.state.messages(folder.id).find((r) => r.uid === target!.uid)!;
    const before = await readMaildirFolder(fixture.folderDir('INBOX'));
    const tmp = path.join(fixture.folderDir('INBOX'), 'tmp');
    // Under the message's own name (as earlier versions wrote it), and under a name of its
    // own written by a process since gone.
    await fs.writeFile(path.join(tmp, row.base), crlfToLf(target!.raw));
    const ofAnother = uniqueBaseName(target!.raw.length).replace(/P\d+Q/, `P${process.pid + 1}Q`);
    await fs.writeFile(path.join(tmp, ofAnother), crlfToLf(target!.raw));
    // New mail, so that the folder is passed; headers-only passes complete no body, so the
    // copy is not written over by one of theirs.
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 1, folders: ['INBOX'], seed: 6 }),
    );
    const { done } = await fixture.sync(HEADERS_ONLY);
    assert.equal(done.result, 'ok');
    assert.equal(done.stats.downloaded, 1);
    assert.ok(await tmpIsEmpty(fixture.folderDir('INBOX')), 'tmp/ not empty');
    const after = await readMaildirFolder(fixture.folderDir('INBOX'));
    assert.deepEqual(
      after.filter((m) => before.some((b) => b.name === m.name)),
      before,
      'the files in place are kept as they were',
    );
    await fixture.sync(FULL_SYNC);
    await assertIdentical();
  });
});
