/**
 * Local → server: messages that appear in the Maildir are APPENDed exactly once (also across
 * a crash), deleted files follow the account's deletePolicy, and a removed folder directory
 * never empties the server folder.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AccountConfig } from '../../agent/src/config/load.js';
import { generateMessage, generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type SyncFlags } from '../../agent/src/protocol/index.js';
import { crlfToLf, lfToCrlf } from '../../agent/src/sync/maildir/crlf.js';
import type { StateDb } from '../../agent/src/sync/state-db.js';
import type { TestDovecot } from '../support/dovecot.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { appendLandedBeforeCrash } from '../support/crash-appends.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('local changes reach the server', function () {
  let fixture: SyncFixture;
  let dovecot: TestDovecot;
  let state: StateDb;
  const folderDir = (name: string) => fixture.folderDir(name);

  function sync(policy: AccountConfig['deletePolicy'] = 'expunge', flags: SyncFlags = FULL_SYNC) {
    return fixture.sync(flags, { deletePolicy: policy });
  }

  async function serverCount(folder: string): Promise<number> {
    return (await dovecot.listMessages(folder)).length;
  }

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 20, folders: ['INBOX', 'Archive'], seed: 31 }),
      // Not synced, yet deletePolicy "trash" must still find it.
      account: { folders: { include: ['*'], exclude: ['Trash'] } },
    });
    ({ dovecot, state } = fixture);
    const client = await dovecot.client();
    await client.mailboxCreate('Trash');
    await client.logout();
    assert.equal((await sync()).done.result, 'ok');
  });

  after(async () => fixture?.cleanup());

  it('APPENDs new local files once, byte-exact, with their flags', async () => {
    const draft = crlfToLf(generateMessage(9001, { sizeClass: 'small' }));
    const saved = crlfToLf(generateMessage(9002, { sizeClass: 'small' }));
    await fs.writeFile(path.join(folderDir('INBOX'), 'new', '1700000000.draft.otherclient'), draft);
    await fs.writeFile(
      path.join(folderDir('INBOX'), 'cur', '1700000001.saved.otherclient:2,FS'),
      saved,
    );
    const before = await serverCount('INBOX');

    const { done } = await sync();
    assert.equal(done.stats.uploaded, 2);
    const server = await dovecot.listMessages('INBOX');
    assert.equal(server.length, before + 2);
    const byBytes = new Map(server.map((m) => [m.raw.toString('latin1'), m]));
    assert.deepEqual(
      byBytes.get(lfToCrlf(draft).toString('latin1'))?.flags.filter((f) => f !== '\\Recent'),
      [],
    );
    assert.deepEqual(
      byBytes
        .get(lfToCrlf(saved).toString('latin1'))
        ?.flags.filter((f) => f !== '\\Recent')
        .sort(),
      ['\\Flagged', '\\Seen'],
    );

    const again = await sync();
    assert.deepEqual(
      [again.done.stats.uploaded, again.done.stats.downloaded],
      [0, 0],
      'not uploaded twice, not downloaded back',
    );
    assert.equal(
      (await readMaildirFolder(folderDir('INBOX'))).length,
      before + 2,
      'no duplicate file',
    );
  });

  it('finds an APPEND that landed before a crash instead of sending it again', async () => {
    const body = crlfToLf(generateMessage(9003, { sizeClass: 'small' }));
    const base = '1700000002.crashed.otherclient';
    await fs.writeFile(path.join(folderDir('INBOX'), 'cur', `${base}:2,S`), body);
    // What a crash right after the APPEND leaves: the journal row, the message on the server.
    const { folderId } = await appendLandedBeforeCrash(state, dovecot, base, body);
    const before = await serverCount('INBOX');

    const { done } = await sync();
    assert.equal(done.stats.uploaded, 0);
    assert.equal(done.stats.downloaded, 0, 'the landed APPEND is ours, not a new server message');
    assert.equal(await serverCount('INBOX'), before);
    assert.deepEqual(state.pendingAppends(folderId), []);
    assert.equal((await sync()).done.stats.uploaded, 0);
  });

  /** A message with what servers store otherwise: a NUL, a CR before a line end, a CR at the end. */
  const alterable = (seed: number) =>
    Buffer.concat([
      crlfToLf(generateMessage(seed, { sizeClass: 'small' })),
      Buffer.from('a NUL \u0000 here\nand a CR before the line end\r\r\nlast line\r', 'latin1'),
    ]);

  it('finds an APPEND that landed before a crash though the server changed bytes of it', async () => {
    const body = alterable(9005);
    const base = '1700000004.crashed-altered.otherclient';
    const file = path.join(folderDir('INBOX'), 'cur', `${base}:2,S`);
    await fs.writeFile(file, body);
    const { folderId, wire } = await appendLandedBeforeCrash(state, dovecot, base, body);
    const stored = (await dovecot.listMessages('INBOX')).at(-1)!.raw;
    assert.ok(!stored.equals(wire), 'the server changed it');
    const before = await serverCount('INBOX');

    const { done, errors } = await sync();
    assert.deepEqual(errors, []);
    assert.deepEqual([done.stats.uploaded, done.stats.downloaded], [0, 0]);
    assert.equal(await serverCount('INBOX'), before);
    assert.deepEqual(state.pendingAppends(folderId), []);
    // The file holds what the server has: a later rebuild matches the two.
    assert.deepEqual(await fs.readFile(file), crlfToLf(stored));
  });

  it("keeps the server's copy of an upload it stored with bytes changed: one message, matched after a rebuild", async () => {
    const body = alterable(9006);
    const file = path.join(folderDir('Archive'), 'new', '1700000005.altered.otherclient');
    await fs.writeFile(file, body);
    const before = await serverCount('Archive');
    const { done, errors } = await sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 1);
    const server = await dovecot.listMessages('Archive');
    assert.equal(server.length, before + 1);
    const stored = server.find((m) => m.raw.includes('a NUL'))!.raw;
    assert.ok(!stored.equals(lfToCrlf(body)), 'the server changed it');
    assert.deepEqual(await fs.readFile(file), crlfToLf(stored));
    // Neither the next pass nor one with the state lost sends or fetches it again.
    assert.deepEqual(
      [(await sync()).done.stats.uploaded, (await sync()).done.stats.downloaded],
      [0, 0],
    );
    await fixture.discardState();
    state = fixture.state;
    const rebuilt = await sync();
    assert.deepEqual(rebuilt.errors, []);
    assert.deepEqual([rebuilt.done.stats.uploaded, rebuilt.done.stats.downloaded], [0, 0]);
    assert.equal(await serverCount('Archive'), before + 1);
  });

  it('finds an APPEND that landed before a crash though the server reports another size for it', async () => {
    const body = crlfToLf(generateMessage(9007, { sizeClass: 'small' }));
    const base = '1700000006.crashed-estimated.otherclient';
    await fs.writeFile(path.join(folderDir('INBOX'), 'cur', `${base}:2,S`), body);
    const { folderId } = await appendLandedBeforeCrash(state, dovecot, base, body);
    const before = await serverCount('INBOX');
    const proxy = await startFaultProxy({ host: dovecot.host, port: dovecot.port });
    try {
      // The lookup's answer says a few bytes more, as a server that estimates sizes does.
      proxy.arm({
        kind: 'edit-server-line',
        pattern: /^\* \d+ FETCH \(UID \d+ RFC822\.SIZE \d+/,
        edit: (line) =>
          line.replace(/RFC822\.SIZE (\d+)/, (_, n) => `RFC822.SIZE ${Number(n) + 9}`),
      });
      const { done } = await fixture.sync(FULL_SYNC, {
        imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
      });
      assert.equal(proxy.fired.length, 1, 'the size was doctored');
      assert.deepEqual([done.stats.uploaded, done.stats.downloaded], [0, 0]);
    } finally {
      await proxy.close();
    }
    assert.equal(await serverCount('INBOX'), before);
    assert.deepEqual(state.pendingAppends(folderId), []);
  });

  it("finds an APPEND that landed before a crash after its file took the server's copy", async () => {
    // No Message-ID, and bytes the server changes: a CR before a line end, a CR at the end.
    const body = Buffer.concat([
      Buffer.from(
        'Subject: no id\nFrom: a@example.org\n\nand a CR before the line end\r\r\n',
        'latin1',
      ),
      Buffer.from('last line\r', 'latin1'),
    ]);
    const base = '1700000007.crashed-kept.otherclient';
    const file = path.join(folderDir('INBOX'), 'cur', `${base}:2,S`);
    await fs.writeFile(file, body);
    const { folderId, wire } = await appendLandedBeforeCrash(state, dovecot, base, body);
    // The crash came after the file took the server's copy, before the UID was recorded.
    const stored = (await dovecot.listMessages('INBOX')).at(-1)!.raw;
    assert.ok(!stored.equals(wire), 'the server changed it');
    await fs.writeFile(file, crlfToLf(stored));
    const before = await serverCount('INBOX');

    const { done, errors } = await sync();
    assert.deepEqual(errors, []);
    assert.deepEqual([done.stats.uploaded, done.stats.downloaded], [0, 0]);
    assert.equal(await serverCount('INBOX'), before);
    assert.deepEqual(state.pendingAppends(folderId), []);
  });

  it('sends a journalled APPEND that had not landed, once', async () => {
    const body = crlfToLf(generateMessage(9004, { sizeClass: 'small' }));
    const base = '1700000003.lost.otherclient';
    await fs.writeFile(path.join(folderDir('INBOX'), 'cur', `${base}:2,`), body);
    const folderId = state.folders('a').find((f) => f.path === 'INBOX')!.id;
    const wire = lfToCrlf(body);
    state.journalAppend(folderId, {
      base,
      sha256: createHash('sha256').update(wire).digest('hex'),
      size: wire.length,
      uidNextBefore: 1,
    });
    const before = await serverCount('INBOX');
    const { done } = await sync();
    assert.equal(done.stats.uploaded, 1);
    assert.equal(await serverCount('INBOX'), before + 1);
  });

  it('expunges a message deleted locally (deletePolicy "expunge")', async () => {
    const [victim] = await readMaildirFolder(folderDir('Archive'));
    await fs.rm(path.join(folderDir('Archive'), victim!.subdir, victim!.name));
    const before = await serverCount('Archive');
    const { done } = await sync('expunge');
    assert.equal(done.stats.expungedRemote, 1);
    const server = await dovecot.listMessages('Archive');
    assert.equal(server.length, before - 1);
    assert.ok(!server.some((m) => crlfToLf(m.raw).equals(victim!.data)));
  });

  it('moves it to the server\'s Trash with deletePolicy "trash"', async () => {
    const [victim] = await readMaildirFolder(folderDir('Archive'));
    await fs.rm(path.join(folderDir('Archive'), victim!.subdir, victim!.name));
    const trashBefore = await serverCount('Trash');
    const { done } = await sync('trash');
    assert.equal(done.stats.expungedRemote, 1);
    const trash = await dovecot.listMessages('Trash');
    assert.equal(trash.length, trashBefore + 1);
    assert.ok(trash.some((m) => crlfToLf(m.raw).equals(victim!.data)));
  });

  it('deletes nothing for a file another program renamed while the pass listed cur/ (the listing missed it)', async () => {
    // A listing of a directory read in several parts (a few hundred files and more) misses a
    // file renamed meanwhile when its new name lands where the listing has already been: mutt
    // marking a message read while the pass lists the folder. Played here at the first listing
    // of Archive's cur/ that finds the file under its old name.
    const [other, victim] = (await readMaildirFolder(folderDir('Archive'))).filter(
      (f) => f.subdir === 'cur',
    );
    // \Flagged set or cleared: the name another program gives the file.
    const toggled = (name: string) =>
      name.replace(/:2,(.*)$/, (_, l: string) =>
        l.includes('F') ? `:2,${l.replace('F', '')}` : `:2,${[...l, 'F'].sort().join('')}`,
      );
    // A change of this side's beforehand, so that the pass lists the folder.
    await fs.rename(
      path.join(folderDir('Archive'), 'cur', other!.name),
      path.join(folderDir('Archive'), 'cur', toggled(other!.name)),
    );
    const cur = path.join(folderDir('Archive'), 'cur');
    const renamed = path.join(cur, toggled(victim!.name));
    const realReaddir = fs.readdir;
    let missed = false;
    const readdir = async (dir: string, ...rest: unknown[]) => {
      const names = (await (realReaddir as (...a: unknown[]) => Promise<string[]>)(
        dir,
        ...rest,
      )) as string[];
      if (missed || dir !== cur || rest.length > 0 || !names.includes(victim!.name)) return names;
      missed = true;
      await fs.rename(path.join(cur, victim!.name), renamed);
      return names.filter((name) => name !== victim!.name);
    };
    (fs as { readdir: unknown }).readdir = readdir;
    const [trashBefore, archiveBefore] = [await serverCount('Trash'), await serverCount('Archive')];
    try {
      const { done, errors } = await sync('trash');
      assert.deepEqual(errors, []);
      assert.ok(missed, 'the listing was played');
      assert.equal(done.stats.expungedRemote, 0);
      assert.equal(done.stats.uploaded, 0);
    } finally {
      (fs as { readdir: unknown }).readdir = realReaddir;
    }
    assert.equal(await serverCount('Trash'), trashBefore);
    assert.equal(await serverCount('Archive'), archiveBefore);
    // The rename is this side's flag change: the next pass pushes it, and nothing else.
    const { done } = await sync('trash');
    assert.deepEqual([done.stats.expungedRemote, done.stats.uploaded], [0, 0]);
    const held = (await dovecot.listMessages('Archive')).find((m) =>
      crlfToLf(m.raw).equals(victim!.data),
    );
    assert.equal(held?.flags.includes('\\Flagged'), !victim!.letters.includes('F'));
  });

  it('with deletePolicy "trash", puts nothing in the Trash for files another client moved between folders', async () => {
    // One each way: whichever folder the pass takes first, the file is found where it went.
    const [fromInbox] = await readMaildirFolder(folderDir('INBOX'));
    const [fromArchive] = await readMaildirFolder(folderDir('Archive'));
    const move = (file: typeof fromInbox, from: string, to: string) =>
      fs.rename(
        path.join(folderDir(from), file!.subdir, file!.name),
        path.join(folderDir(to), file!.subdir, file!.name),
      );
    await move(fromInbox, 'INBOX', 'Archive');
    await move(fromArchive, 'Archive', 'INBOX');
    const trashBefore = await serverCount('Trash');

    const { done, errors } = await sync('trash');
    assert.deepEqual(errors, []);
    assert.deepEqual([done.stats.expungedRemote, done.stats.uploaded], [2, 2]);
    assert.equal(await serverCount('Trash'), trashBefore);
    const copiesIn = async (folder: string, data: Buffer) =>
      (await dovecot.listMessages(folder)).filter((m) => crlfToLf(m.raw).equals(data)).length;
    assert.deepEqual(
      [
        await copiesIn('Archive', fromInbox!.data),
        await copiesIn('INBOX', fromInbox!.data),
        await copiesIn('INBOX', fromArchive!.data),
        await copiesIn('Archive', fromArchive!.data),
      ],
      [1, 0, 1, 0],
    );
  });

  it('with deletePolicy "trash", puts nothing in the Trash for a file moved into a folder made here since the last pass', async () => {
    // mutt's save to a folder it creates: the folder is created on the server by the pass
    // that finds the file gone from INBOX, and synced after INBOX.
    const [moved] = await readMaildirFolder(folderDir('INBOX'));
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(folderDir('Saved'), sub), { recursive: true });
    await fs.rename(
      path.join(folderDir('INBOX'), moved!.subdir, moved!.name),
      path.join(folderDir('Saved'), moved!.subdir, moved!.name),
    );
    const trashBefore = await serverCount('Trash');

    const { done, errors } = await sync('trash');
    assert.deepEqual(errors, []);
    assert.deepEqual([done.stats.foldersCreated, done.stats.uploaded], [1, 1]);
    assert.equal(await serverCount('Trash'), trashBefore, 'nothing put in the Trash');
    const copiesIn = async (folder: string) =>
      (await dovecot.listMessages(folder)).filter((m) => crlfToLf(m.raw).equals(moved!.data))
        .length;
    assert.deepEqual([await copiesIn('Saved'), await copiesIn('INBOX')], [1, 0]);
  });

  it('with deletePolicy "trash", puts nothing in the Trash for a file moved into a folder made here that the run does not create', async () => {
    // A run of INBOX alone creates no folder (as a run that listed the folders before the
    // new one was made): the file reaches the server with the folder, in a later run.
    const [moved] = await readMaildirFolder(folderDir('INBOX'));
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(folderDir('Later'), sub), { recursive: true });
    await fs.rename(
      path.join(folderDir('INBOX'), moved!.subdir, moved!.name),
      path.join(folderDir('Later'), moved!.subdir, moved!.name),
    );
    const trashBefore = await serverCount('Trash');
    const engine = fixture.engine({ deletePolicy: 'trash' });
    const archiveOnly = await engine.start({
      flags: FULL_SYNC,
      trigger: 'cli',
      folders: ['INBOX'],
    }).done;
    assert.equal(archiveOnly.stats.expungedRemote, 1);
    assert.equal(await serverCount('Trash'), trashBefore, 'nothing put in the Trash');

    const { done, errors } = await sync('trash');
    assert.deepEqual(errors, []);
    assert.deepEqual([done.stats.foldersCreated, done.stats.uploaded], [1, 1]);
    assert.equal(await serverCount('Trash'), trashBefore);
    const copiesIn = async (folder: string) =>
      (await dovecot.listMessages(folder)).filter((m) => crlfToLf(m.raw).equals(moved!.data))
        .length;
    assert.deepEqual([await copiesIn('Later'), await copiesIn('INBOX')], [1, 0]);
  });

  it('with deletePolicy "trash", trashes a file moved to a folder that is not synced', async () => {
    // The account excludes Trash: a local directory of that name is not synced.
    const [victim] = await readMaildirFolder(folderDir('Archive'));
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(folderDir('Trash'), sub), { recursive: true });
    await fs.rename(
      path.join(folderDir('Archive'), victim!.subdir, victim!.name),
      path.join(folderDir('Trash'), victim!.subdir, victim!.name),
    );
    const trashBefore = await serverCount('Trash');
    const { done, errors } = await sync('trash');
    assert.deepEqual(errors, []);
    assert.equal(done.stats.expungedRemote, 1);
    const trash = await dovecot.listMessages('Trash');
    assert.equal(trash.length, trashBefore + 1, 'the server keeps it in its Trash');
    assert.ok(trash.some((m) => crlfToLf(m.raw).equals(victim!.data)));
    await fs.rm(folderDir('Trash'), { recursive: true });
  });

  it('with deletePolicy "trash", trashes a file moved to a folder the config has since excluded', async () => {
    const [victim] = await readMaildirFolder(folderDir('INBOX'));
    await fs.rename(
      path.join(folderDir('INBOX'), victim!.subdir, victim!.name),
      path.join(folderDir('Archive'), victim!.subdir, victim!.name),
    );
    const trashBefore = await serverCount('Trash');
    const { done, errors } = await fixture.sync(FULL_SYNC, {
      deletePolicy: 'trash',
      folders: { include: ['*'], exclude: ['Trash', 'Archive'] },
    });
    assert.deepEqual(errors, []);
    assert.equal(done.stats.expungedRemote, 1);
    const trash = await dovecot.listMessages('Trash');
    assert.equal(trash.length, trashBefore + 1, 'the server keeps it in its Trash');
    assert.ok(trash.some((m) => crlfToLf(m.raw).equals(victim!.data)));
  });

  it('keeps the server copy, and does not fetch it back, with deletePolicy "keep-remote"', async () => {
    const [victim] = await readMaildirFolder(folderDir('Archive'));
    await fs.rm(path.join(folderDir('Archive'), victim!.subdir, victim!.name));
    const before = await serverCount('Archive');
    const { done } = await sync('keep-remote');
    assert.deepEqual([done.stats.expungedRemote, done.stats.downloaded], [0, 0]);
    assert.equal(await serverCount('Archive'), before);
    assert.ok(
      !(await readMaildirFolder(folderDir('Archive'))).some((m) => m.data.equals(victim!.data)),
    );
  });

  it('does not empty a server folder whose local directory was removed, when folders are not uploaded', async () => {
    const before = await serverCount('Archive');
    await fs.rm(folderDir('Archive'), { recursive: true });
    const { done, errors } = await sync('expunge', { ...FULL_SYNC, uploadHierarchy: false });
    assert.equal(done.result, 'error');
    assert.equal(errors[0]?.code, 'FOLDER_GONE');
    assert.equal(errors[0]?.folder, 'Archive');
    assert.equal(await serverCount('Archive'), before);
  });
});
