/**
 * The server renumbers a folder while changes made here wait for the next pass: a file
 * deleted, a file moved to another folder, flags changed. The renumbering must not undo
 * them: the deleted message goes on the server too (not downloaded again), the moved one
 * ends up once, in its new folder, on both sides. Where the message a deleted file held
 * cannot be told for sure (two alike), nothing is deleted on the server: it comes back here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AccountConfig } from '../../agent/src/config/load.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { readMaildirFolder, type StoredMessage } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const sorted = (all: Buffer[]) => all.map((b) => b.toString('latin1')).sort();
const message = (id: string, body: string) =>
  bytes(`Message-ID: <${id}@x>\r\nSubject: ${id}\r\n\r\n${body}\r\n`);
const mailIn = (folder: string, raws: Buffer[]) =>
  raws.map((raw, i) => ({
    folder,
    raw,
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2024, 0, 1 + i)),
  }));

describe('changes pending here when the server renumbers a folder', function () {
  this.timeout(120_000);
  let fixture: SyncFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  type Policy = AccountConfig['deletePolicy'];
  async function sync(policy: Policy = 'expunge', headersOnly = false) {
    const { done, errors } = await fixture!.sync(
      { ...FULL_SYNC, headersOnly },
      { deletePolicy: policy },
    );
    assert.deepEqual(
      errors.filter((e) => e.severity !== 'info'),
      [],
    );
    assert.equal(done.result, 'ok');
    return done.stats;
  }

  /** INBOX and Archive filled, a Trash on the server (not synced), and a first pass. */
  async function start(inbox: Buffer[], archive: Buffer[] = [], headersOnly = false) {
    fixture = await startSyncFixture({
      mail: [...mailIn('INBOX', inbox), ...mailIn('Archive', archive)],
      account: { folders: { include: ['*'], exclude: ['Trash'] } },
    });
    const client = await fixture.dovecot.client();
    await client.mailboxCreate('Trash');
    await client.logout();
    await sync('expunge', headersOnly);
  }

  /** What a server restored from a backup does: INBOX's messages under a new UIDVALIDITY. */
  async function renumberInbox() {
    const { dovecot } = fixture!;
    await dovecot.stop();
    for (const name of await fs.readdir(dovecot.maildirRoot))
      if (name === 'dovecot-uidlist' || name.startsWith('dovecot.index'))
        await fs.rm(path.join(dovecot.maildirRoot, name));
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a UIDVALIDITY of another second
    await dovecot.restart();
  }

  async function fileOf(folder: string, raw: Buffer): Promise<StoredMessage> {
    const files = await readMaildirFolder(fixture!.folderDir(folder));
    const file = files.find((f) => f.data.equals(crlfToLf(raw)));
    assert.ok(file, `a file of ${folder} holds the message`);
    return file;
  }

  /** The folder's messages on the server, as stored here, and its files. */
  async function bothSides(folder: string) {
    return {
      server: sorted((await fixture!.dovecot.listMessages(folder)).map((m) => crlfToLf(m.raw))),
      local: sorted((await readMaildirFolder(fixture!.folderDir(folder))).map((f) => f.data)),
    };
  }

  async function assertHolds(folder: string, raws: Buffer[]) {
    const expected = sorted(raws.map((raw) => crlfToLf(raw)));
    assert.deepEqual(await bothSides(folder), { server: expected, local: expected }, folder);
  }

  const [a, b, c] = ['a', 'b', 'c'].map((id) => message(id, `body of ${id}`));

  for (const policy of ['expunge', 'trash'] as const) {
    it(`a file deleted here: the message goes on the server too, not downloaded again (deletePolicy "${policy}")`, async () => {
      await start([a!, b!, c!]);
      const gone = await fileOf('INBOX', b!);
      await fs.rm(path.join(fixture!.folderDir('INBOX'), gone.subdir, gone.name));
      await renumberInbox();

      const stats = await sync(policy);
      assert.deepEqual(
        [stats.downloaded, stats.uploaded, stats.expungedRemote],
        [0, 0, 1],
        JSON.stringify(stats),
      );
      await assertHolds('INBOX', [a!, c!]);
      const trash = (await fixture!.dovecot.listMessages('Trash')).map((m) => m.raw);
      assert.deepEqual(sorted(trash), policy === 'trash' ? sorted([b!]) : []);
      const again = await sync(policy);
      assert.deepEqual([again.downloaded, again.uploaded, again.expungedRemote], [0, 0, 0]);
    });

    it(`a file moved here to another folder: one copy, in that folder, on both sides (deletePolicy "${policy}")`, async () => {
      const kept = message('kept', 'in the archive already');
      await start([a!, b!, c!], [kept]);
      const moved = await fileOf('INBOX', b!);
      await fs.rename(
        path.join(fixture!.folderDir('INBOX'), moved.subdir, moved.name),
        path.join(fixture!.folderDir('Archive'), 'cur', moved.name),
      );
      await renumberInbox();

      await sync(policy);
      await sync(policy);
      await assertHolds('INBOX', [a!, c!]);
      await assertHolds('Archive', [kept, b!]);
      assert.deepEqual(await fixture!.dovecot.listMessages('Trash'), []);
    });
  }

  it('a header block deleted here (headers-only): the message goes on the server too', async () => {
    await start([a!, b!, c!], [], true);
    const files = await readMaildirFolder(fixture!.folderDir('INBOX'));
    const gone = files.find((f) => f.data.toString('latin1').includes('Subject: b\n'));
    assert.ok(gone);
    await fs.rm(path.join(fixture!.folderDir('INBOX'), gone.subdir, gone.name));
    await renumberInbox();

    const stats = await sync('expunge', true);
    assert.deepEqual([stats.downloaded, stats.uploaded, stats.expungedRemote], [0, 0, 1]);
    await sync();
    await assertHolds('INBOX', [a!, c!]);
  });

  it('flags changed on both sides before the renumbering: each change reaches the other side', async () => {
    await start([a!, b!, c!]);
    // Here: A read no more. There: B flagged by another client.
    const unread = await fileOf('INBOX', a!);
    await fs.rename(
      path.join(fixture!.folderDir('INBOX'), unread.subdir, unread.name),
      path.join(fixture!.folderDir('INBOX'), 'cur', unread.name.replace(/:2,.*$/, ':2,')),
    );
    const onServer = await fixture!.dovecot.listMessages('INBOX');
    const flagged = onServer.find((m) => m.raw.equals(b!))!;
    await fixture!.dovecot.setFlags('INBOX', flagged.uid, ['\\Seen', '\\Flagged']);
    await renumberInbox();

    const stats = await sync();
    assert.deepEqual(
      [stats.downloaded, stats.uploaded, stats.flagsPushed, stats.flagsPulled],
      [0, 0, 1, 1],
    );
    await assertHolds('INBOX', [a!, b!, c!]);
    const server = await fixture!.dovecot.listMessages('INBOX');
    assert.ok(!server.find((m) => m.raw.equals(a!))!.flags.includes('\\Seen'));
    assert.match((await fileOf('INBOX', b!)).name, /:2,FS$/);
  });

  it('two messages alike in Message-ID and size, the one held deleted here: none deleted on the server', async () => {
    // B arrives on the server (a second delivery, say) with A's Message-ID and size.
    const twin = message('a', 'body of A');
    assert.equal(twin.length, a!.length);
    await start([a!, c!]);
    const gone = await fileOf('INBOX', a!);
    await fs.rm(path.join(fixture!.folderDir('INBOX'), gone.subdir, gone.name));
    await fixture!.dovecot.appendMessages(mailIn('INBOX', [twin]));
    await renumberInbox();

    const stats = await sync();
    assert.equal(stats.expungedRemote, 0, 'which one was deleted here cannot be told');
    await assertHolds('INBOX', [a!, twin, c!]);
  });

  it('the same Message-ID, another size: the message deleted here goes, the other one comes', async () => {
    const other = message('a', 'another, longer body of a');
    await start([a!, c!]);
    const gone = await fileOf('INBOX', a!);
    await fs.rm(path.join(fixture!.folderDir('INBOX'), gone.subdir, gone.name));
    await fixture!.dovecot.appendMessages(mailIn('INBOX', [other]));
    await renumberInbox();

    const stats = await sync();
    assert.deepEqual([stats.downloaded, stats.expungedRemote], [1, 1]);
    await assertHolds('INBOX', [other, c!]);
  });
});
