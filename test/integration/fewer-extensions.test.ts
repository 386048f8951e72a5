/**
 * A server without UIDPLUS and MOVE (older Courier, Exchange's IMAP without them): its
 * EXPUNGE removes every message flagged \Deleted, so removing one message must not remove
 * those another client or the user (a Maildir "T") flagged and kept. And a server that
 * stores no keywords of its own choosing (PERMANENTFLAGS without "\\*", as Exchange): a flag
 * it cannot keep stays on the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
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

describe('a server that takes no new keywords', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 4, folders: ['INBOX'], seed: 62 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
  });
  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  /**
   * A pass through the proxy, whose SELECT answer lists only the system flags. A pass that
   * finds the folder unchanged by its listing selects nothing: the doctoring waits for the
   * next SELECT.
   */
  let armed = 0;
  const sync = async () => {
    if (armed === proxy.fired.length) {
      armed += 1;
      proxy.arm({
        kind: 'edit-server-line',
        pattern: /PERMANENTFLAGS \(/,
        edit: (line) =>
          line.replace(
            /PERMANENTFLAGS \([^)]*\)/,
            'PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
          ),
      });
    }
    const { done, errors } = await fixture.sync(FULL_SYNC, {
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      maxConnections: 1,
    });
    assert.deepEqual(errors, []);
    return done.stats;
  };

  it('keeps on the file a flag the server cannot store ($Forwarded: P), and the next pass changes nothing', async () => {
    const inbox = fixture.folderDir('INBOX');
    await sync();
    const [held] = await readMaildirFolder(inbox);
    const renamed = `${held!.name.split(':2,')[0]}:2,PS`;
    await fs.rename(path.join(inbox, held!.subdir, held!.name), path.join(inbox, 'cur', renamed));
    const added = '1700000090.forwarded.host:2,PS';
    await fs.writeFile(path.join(inbox, 'cur', added), 'Subject: forwarded\n\nbody\n');
    const fired = proxy.fired.length;
    const first = await sync();
    assert.equal(first.uploaded, 1);
    assert.equal(proxy.fired.length, fired + 1, 'the pass that uploaded had the flags doctored');
    for (let pass = 0; pass < 2; pass++) {
      const stats = await sync();
      assert.deepEqual([stats.flagsPulled, stats.flagsPushed], [0, 0], `pass ${pass}`);
    }
    const names = await fs.readdir(path.join(inbox, 'cur'));
    assert.ok(names.includes(renamed), 'the renamed file keeps P');
    assert.ok(names.includes(added), 'the uploaded file keeps P');
  });
});

describe('a server that keeps no hierarchy (NIL delimiter)', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 2, folders: ['INBOX'], seed: 63 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
  });
  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  /** A pass through the proxy, whose listing names INBOX, its only folder, with NIL. */
  const sync = async () => {
    proxy.arm({
      kind: 'edit-server-line',
      pattern: /^\* LIST \([^)]*\) "\/" "?INBOX"?\r\n$/,
      edit: (line) => line.replace(/\) "\/" /, ') NIL '),
    });
    return fixture.sync(FULL_SYNC, {
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      maxConnections: 1,
    });
  };

  it('refuses a folder made here inside another, naming it, and keeps its messages', async () => {
    assert.equal((await sync()).done.result, 'ok');
    const dir = fixture.folderDir('Archive/Deep');
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(dir, sub), { recursive: true });
    await fs.writeFile(path.join(dir, 'cur', '1700000095.deep.host:2,S'), 'Subject: deep\n\nb\n');
    for (let pass = 0; pass < 2; pass++) {
      const { done, errors } = await sync();
      assert.deepEqual(
        errors.map((e) => [e.code, e.folder]),
        [['FOLDER_NAME_INVALID', 'Archive/Deep']],
        `pass ${pass}`,
      );
      assert.match(errors[0]!.message, /keeps no folders inside folders/);
      assert.equal(done.stats.foldersDeleted, 0);
    }
    const client = await fixture.dovecot.client();
    const names = (await client.list()).map((f) => f.path);
    await client.logout();
    assert.deepEqual(names, ['INBOX'], 'nothing created on the server');
    assert.deepEqual(await fs.readdir(path.join(dir, 'cur')), ['1700000095.deep.host:2,S']);
  });
});

describe('an APPEND answered without APPENDUID while another message arrives', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 3, folders: ['INBOX'], seed: 65 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
  });
  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  it("records the upload under its own UID, not the newcomer's", async () => {
    const via = {
      imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      maxConnections: 1,
    };
    await fixture.sync(FULL_SYNC, via);
    const ours = Buffer.from('Subject: ours\nMessage-ID: <ours@x>\n\nwritten here\n');
    const theirs = generateMailbox({ count: 1, folders: ['INBOX'], seed: 66 });
    // The server's answer to the APPEND says neither the new UID nor the new count, so that
    // the count read next (a NOOP) also holds a message another client delivered meanwhile.
    proxy.arm({
      kind: 'hold-client-when-says',
      pattern: / APPEND /,
      meanwhile: async () => {
        proxy.arm({ kind: 'drop-server-line', pattern: /^\* \d+ EXISTS\r\n$/ });
        proxy.arm({
          kind: 'edit-server-line',
          pattern: /\[APPENDUID \d+ \d+\] /,
          edit: (line) => line.replace(/\[APPENDUID \d+ \d+\] /, ''),
        });
        proxy.arm({
          kind: 'hold-client-when-says',
          pattern: / NOOP/,
          meanwhile: () => fixture.dovecot.appendMessages(theirs),
        });
      },
    });
    await fs.writeFile(path.join(fixture.folderDir('INBOX'), 'new', '1700000097.ours.host'), ours);
    const fired = proxy.fired.length;
    const { done, errors } = await fixture.sync(FULL_SYNC, via);
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 1);
    assert.equal(proxy.fired.length, fired + 4, 'the answer was doctored, the newcomer delivered');
    // The next pass brings the newcomer in: each message once on each side.
    await fixture.sync(FULL_SYNC, via);
    const server = (await fixture.dovecot.listMessages('INBOX')).map((m) => crlfToLf(m.raw));
    const local = (await readMaildirFolder(fixture.folderDir('INBOX'))).map((f) => f.data);
    assert.equal(server.length, 5);
    assert.deepEqual(
      local.map((b) => b.toString('latin1')).sort(),
      server.map((b) => b.toString('latin1')).sort(),
    );
  });
});
