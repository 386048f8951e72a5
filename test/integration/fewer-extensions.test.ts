/**
 * A server without UIDPLUS and MOVE (older Courier, Exchange's IMAP without them): its
 * EXPUNGE removes every message flagged \Deleted, so removing one message must not remove
 * those another client or the user (a Maildir "T") flagged and kept.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('a server without UIDPLUS and MOVE', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 8, folders: ['INBOX', 'Trash'], seed: 61 }),
      dovecot: { capabilities: { uidplus: false, move: false } },
    });
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
  });
  after(async () => fixture?.cleanup());

  const inbox = () => fixture.folderDir('INBOX');
  const flagged = async () =>
    (await fixture.dovecot.listMessages('INBOX')).filter((m) => m.flags.includes('\\Deleted'));

  for (const deletePolicy of ['expunge', 'trash'] as const) {
    it(`removes only the message deleted here, with deletePolicy "${deletePolicy}"`, async () => {
      const files = await readMaildirFolder(inbox());
      // The user marks one deleted (mutt's "d": the T letter) and keeps it for now...
      const marked = files[0]!;
      await fs.rename(
        path.join(inbox(), marked.subdir, marked.name),
        path.join(inbox(), 'cur', `${marked.name.split(':2,')[0]}:2,ST`),
      );
      await fixture.sync(FULL_SYNC, { deletePolicy });
      assert.equal((await flagged()).length, 1);
      // ...and deletes another one for good.
      const gone = files[1]!;
      await fs.rm(path.join(inbox(), gone.subdir, gone.name));
      const before = (await fixture.dovecot.listMessages('INBOX')).length;
      const trashBefore = (await fixture.dovecot.listMessages('Trash')).length;
      const { done, errors } = await fixture.sync(FULL_SYNC, { deletePolicy });
      assert.deepEqual(errors, []);
      assert.equal(done.stats.expungedRemote, 1);
      const server = await fixture.dovecot.listMessages('INBOX');
      assert.equal(server.length, before - 1, 'one message removed');
      assert.ok(!server.some((m) => crlfToLf(m.raw).equals(gone.data)));
      const kept = await flagged();
      assert.equal(kept.length, 1, 'the marked one stays, still marked');
      assert.ok(crlfToLf(kept[0]!.raw).equals(marked.data));
      const trash = await fixture.dovecot.listMessages('Trash');
      assert.equal(trash.length, trashBefore + (deletePolicy === 'trash' ? 1 : 0));
      // The next pass keeps the marked file.
      const again = await fixture.sync(FULL_SYNC, { deletePolicy });
      assert.equal(again.done.stats.expungedLocal, 0);
      assert.ok((await readMaildirFolder(inbox())).some((f) => f.data.equals(marked.data)));
      // Done with it: the user deletes it too.
      const file = (await readMaildirFolder(inbox())).find((f) => f.data.equals(marked.data))!;
      await fs.rm(path.join(inbox(), file.subdir, file.name));
      await fixture.sync(FULL_SYNC, { deletePolicy });
      assert.equal((await flagged()).length, 0);
    });
  }
});
