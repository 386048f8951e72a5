/**
 * Trouble on this side: the state database deleted or damaged (rebuilt from the Maildir and
 * the server without a message lost or doubled), and another mail client (mutt, say) editing
 * the Maildir between the agent's runs: marking messages, moving files from new/ to cur/,
 * moving a message to another folder.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { generateMailbox, generateMessage } from '../../agent/src/demo/sample-mail.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirLetters } from '../../agent/src/sync/maildir/flags.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const FOLDERS = ['INBOX', 'Archive'];

describe('local faults', function () {
  this.timeout(180_000);
  let fixture: SyncFixture;

  /** Same messages, each once, with the same flags on both sides. */
  const assertInSync = async () => {
    for (const folder of FOLDERS) {
      const server = (await fixture.dovecot.listMessages(folder))
        .map((m) => `${maildirLetters(m.flags)}|${crlfToLf(m.raw).toString('latin1')}`)
        .sort();
      const local = (await readMaildirFolder(fixture.folderDir(folder)))
        .map((m) => `${m.letters}|${m.data.toString('latin1')}`)
        .sort();
      assert.equal(local.length, server.length, `${folder}: files vs messages`);
      assert.equal(local.filter((m, i) => m !== server[i]).length, 0, `${folder}: differences`);
      assert.equal(new Set(server).size, server.length, `${folder}: a message is there twice`);
    }
  };
  const stateFile = () => path.join(fixture.dir, 'state.db');

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 120, folders: FOLDERS, seed: 71 }),
    });
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
  });
  after(async () => fixture?.cleanup());

  it('rebuilds a damaged state database without losing or doubling anything', async () => {
    // Local work the lost state never saw: a new message and a flag change.
    const inbox = fixture.folderDir('INBOX');
    const fresh = crlfToLf(generateMessage(7100));
    await fs.writeFile(path.join(inbox, 'new', '1725000000.fresh.host'), fresh);
    const [first] = (await fs.readdir(path.join(inbox, 'cur'))).sort();
    await fs.rename(
      path.join(inbox, 'cur', first!),
      path.join(inbox, 'cur', `${first!.split(':2,')[0]}:2,F`),
    );

    fixture.state.close();
    for (const suffix of ['-wal', '-shm']) await fs.rm(stateFile() + suffix, { force: true });
    await fs.writeFile(stateFile(), randomBytes(64 * 1024));
    fixture.state = new StateDb(stateFile());
    assert.ok(fixture.state.recovered, 'the damage was noticed');
    assert.ok(
      (await fs.readFile(fixture.state.recovered.damagedCopy)).length > 0,
      'the damaged file is kept for support',
    );

    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.equal(done.stats.downloaded, 0, 'nothing downloaded again');
    assert.equal(done.stats.uploaded, 1, 'only the new local message uploaded');
    await assertInSync();
    const again = await fixture.sync();
    assert.deepEqual(
      [again.done.stats.downloaded, again.done.stats.uploaded, again.done.stats.flagsPushed],
      [0, 0, 0],
    );
  });

  it('sets aside a state database whose damaged pages only a sync reads, and rebuilds it in the same sync', async () => {
    // New mail on the server and a new file here: the pass must read the damaged rows.
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 12, folders: FOLDERS, seed: 72 }),
    );
    await fs.writeFile(
      path.join(fixture.folderDir('Archive'), 'new', '1725000001.late.host'),
      crlfToLf(generateMessage(7101)),
    );
    // The pages of the messages table damaged (a disk fault), the rest of the file intact.
    fixture.state.close();
    const db = new Database(stateFile(), { readonly: true });
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db
      .prepare("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'")
      .pluck()
      .all() as number[];
    db.close();
    assert.ok(pages.length > 1, 'the messages table spans pages');
    const file = await fs.open(stateFile(), 'r+');
    for (const page of pages)
      await file.write(randomBytes(pageSize), 0, pageSize, (page - 1) * pageSize);
    await file.close();
    fixture.state = new StateDb(stateFile());
    assert.equal(fixture.state.recovered, null, 'opening the file does not read those pages');

    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.deepEqual(
      errors.map((e) => [e.code, e.severity]),
      [['STATE_REBUILT', 'info']],
    );
    // Read again: the assertion above narrowed the field to null.
    const recovered = (fixture.state as StateDb).recovered;
    assert.ok(recovered, 'the file was set aside');
    assert.ok(fsSync.existsSync(recovered.damagedCopy), 'kept for support');
    assert.equal(done.stats.downloaded, 12, 'each new message downloaded once');
    assert.equal(done.stats.uploaded, 1, 'the new file uploaded once');
    await assertInSync();
    const again = await fixture.sync();
    assert.deepEqual(
      [again.done.stats.downloaded, again.done.stats.uploaded, again.errors.length],
      [0, 0, 0],
    );
  });
  it('links files to new server messages when the state is put back to an older copy, instead of doubling them', async () => {
    fixture.state.close();
    const older = `${stateFile()}.older`;
    await fs.copyFile(stateFile(), older);
    fixture.state = new StateDb(stateFile());
    // What the older copy never saw: mail downloaded, a file of another client's uploaded.
    await fixture.dovecot.appendMessages(generateMailbox({ count: 8, folders: FOLDERS, seed: 73 }));
    await fs.writeFile(
      path.join(fixture.folderDir('INBOX'), 'new', '1725000002.draft.host'),
      crlfToLf(generateMessage(7102)),
    );
    const since = await fixture.sync();
    assert.deepEqual([since.done.stats.downloaded, since.done.stats.uploaded], [8, 1]);

    fixture.state.close();
    for (const suffix of ['-wal', '-shm']) await fs.rm(stateFile() + suffix, { force: true });
    await fs.rename(older, stateFile());
    fixture.state = new StateDb(stateFile());
    // And what is new now, on each side: still a message to download and one to send.
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 1, folders: ['INBOX'], seed: 74 }),
    );
    await fs.writeFile(
      path.join(fixture.folderDir('Archive'), 'new', '1725000003.later.host'),
      crlfToLf(generateMessage(7103)),
    );
    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.deepEqual(
      [done.stats.downloaded, done.stats.uploaded],
      [1, 1],
      'only what is new since is sent or fetched',
    );
    await assertInSync();
    const again = await fixture.sync();
    assert.deepEqual(
      [again.done.stats.downloaded, again.done.stats.uploaded, again.done.stats.flagsPushed],
      [0, 0, 0],
    );
  });

  it('rebuilds a deleted state database the same way', async () => {
    await fixture.discardState();
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
    assert.deepEqual([done.stats.downloaded, done.stats.uploaded], [0, 0]);
    await assertInSync();
  });

  it('rebuilds it without taking a new message for a held one of the same size when neither has a Message-ID', async () => {
    // Alerts of one length, no Message-ID: only the bytes tell them apart.
    const alert = (n: number) =>
      Buffer.from(`Subject: alert ${n}\r\n\r\ndisk full on host0${n}\r\n`);
    await fixture.dovecot.appendMessages([
      { folder: 'INBOX', raw: alert(1), flags: [], internalDate: new Date('2024-03-01T00:00:00Z') },
    ]);
    assert.equal((await fixture.sync()).done.stats.downloaded, 1);
    const inbox = fixture.folderDir('INBOX');
    await fs.writeFile(path.join(inbox, 'new', '1725000300.alert.host'), crlfToLf(alert(2)));
    await fixture.discardState();

    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    assert.deepEqual([done.stats.downloaded, done.stats.uploaded], [0, 1]);
    await assertInSync();
    // Were the new file taken for alert 1, its expunge there would now delete alert 2 here.
    const alerts = async () =>
      (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
        /alert \d/.test(m.raw.toString()),
      );
    const [one] = (await alerts()).filter((m) => m.raw.equals(alert(1)));
    const client = await fixture.dovecot.client();
    try {
      await client.mailboxOpen('INBOX');
      await client.messageDelete(String(one!.uid), { uid: true });
    } finally {
      await client.logout();
    }
    const after = await fixture.sync();
    assert.equal(after.done.stats.expungedLocal, 1);
    await assertInSync();
    assert.deepEqual(
      (await alerts()).map((m) => m.raw.toString()),
      [alert(2).toString()],
    );
  });

  it("takes another client's edits: flags, new/ → cur/, a move to another folder", async () => {
    const inbox = fixture.folderDir('INBOX');
    const archive = fixture.folderDir('Archive');
    const names = (await fs.readdir(path.join(inbox, 'cur'))).sort();
    // mutt marks one replied and flagged…
    const [replied, moved] = names;
    const base = (name: string) => name.split(':2,')[0]!;
    await fs.rename(
      path.join(inbox, 'cur', replied!),
      path.join(inbox, 'cur', `${base(replied!)}:2,FRS`),
    );
    // …moves one to Archive (a new name there, as mutt does)…
    const movedData = await fs.readFile(path.join(inbox, 'cur', moved!));
    await fs.rename(
      path.join(inbox, 'cur', moved!),
      path.join(archive, 'cur', `1725000100.mutt-move.host:2,S`),
    );
    // …and a message delivered by a local MDA into new/ is seen and moved to cur/.
    const delivered = crlfToLf(generateMessage(7200));
    await fs.writeFile(path.join(inbox, 'cur', '1725000200.mda.host:2,S'), delivered);

    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(errors));
    await assertInSync();
    const server = await fixture.dovecot.listMessages('INBOX');
    assert.ok(
      !server.some((m) => crlfToLf(m.raw).equals(movedData)),
      'the moved message left INBOX on the server',
    );
    const inArchive = (await fixture.dovecot.listMessages('Archive')).filter((m) =>
      crlfToLf(m.raw).equals(movedData),
    );
    assert.equal(inArchive.length, 1, 'and is in Archive once');
    assert.ok(server.some((m) => crlfToLf(m.raw).equals(delivered)));
  });

  it('removes the file of a message moved away on the server though another client renamed it after the pass listed the folder', async () => {
    const inbox = fixture.folderDir('INBOX');
    const cur = path.join(inbox, 'cur');
    const [other, victim] = (await fs.readdir(cur)).sort();
    const toggled = (name: string) =>
      name.replace(/:2,(.*)$/, (_, l: string) =>
        l.includes('S') ? `:2,${l.replace('S', '')}` : `:2,${[...l, 'S'].sort().join('')}`,
      );
    // A change here beforehand, so that the pass lists INBOX.
    await fs.rename(path.join(cur, other!), path.join(cur, toggled(other!)));
    // The phone moves the message to Archive.
    const data = await fs.readFile(path.join(cur, victim!));
    const held = (await fixture.dovecot.listMessages('INBOX')).find((m) =>
      crlfToLf(m.raw).equals(data),
    );
    const client = await fixture.dovecot.client();
    await client.mailboxOpen('INBOX');
    await client.messageMove(String(held!.uid), 'Archive', { uid: true });
    await client.logout();
    // mutt marks it read (renames its file) right after the pass listed cur/.
    const realReaddir = fs.readdir;
    let renamed = false;
    (fs as { readdir: unknown }).readdir = async (dir: string, ...rest: unknown[]) => {
      const names = (await (realReaddir as (...a: unknown[]) => Promise<string[]>)(
        dir,
        ...rest,
      )) as string[];
      if (!renamed && dir === cur && rest.length === 0 && names.includes(victim!)) {
        renamed = true;
        await fs.rename(path.join(cur, victim!), path.join(cur, toggled(victim!)));
      }
      return names;
    };
    try {
      const { done, errors } = await fixture.sync();
      assert.equal(done.result, 'ok', JSON.stringify(errors));
      assert.ok(renamed, 'the rename was played');
      assert.equal(done.stats.uploaded, 0, 'not uploaded back into INBOX');
    } finally {
      (fs as { readdir: unknown }).readdir = realReaddir;
    }
    assert.deepEqual((await fixture.sync()).done.stats.uploaded, 0);
    await assertInSync();
    const copies = async (folder: string) =>
      (await fixture.dovecot.listMessages(folder)).filter((m) => crlfToLf(m.raw).equals(data))
        .length;
    assert.deepEqual([await copies('INBOX'), await copies('Archive')], [0, 1]);
  });

  it('keeps the keywords of messages another client moved between folders, either way', async () => {
    // Keywords (tags) live on the server and in the state only: no file name carries them.
    const tagged = async (folder: string, keywords: string[]) => {
      const [first] = await fixture.dovecot.listMessages(folder);
      await fixture.dovecot.setFlags(folder, first!.uid, ['\\Flagged', ...keywords]);
      return first!;
    };
    const fromInbox = await tagged('INBOX', ['$Label1', 'project-x']);
    const fromArchive = await tagged('Archive', ['$Forwarded', 'kw1']);
    await fixture.sync();
    const fileOf = async (folder: string, raw: Buffer) => {
      const dir = path.join(fixture.folderDir(folder), 'cur');
      for (const name of await fs.readdir(dir))
        if ((await fs.readFile(path.join(dir, name))).equals(crlfToLf(raw))) return name;
      assert.fail(`no file of the message in ${folder}`);
    };
    // mutt moves each to the other folder, keeping the file's name (letters: F, FP).
    const inboxFile = await fileOf('INBOX', fromInbox.raw);
    const archiveFile = await fileOf('Archive', fromArchive.raw);
    await fs.rename(
      path.join(fixture.folderDir('INBOX'), 'cur', inboxFile),
      path.join(fixture.folderDir('Archive'), 'cur', inboxFile),
    );
    await fs.rename(
      path.join(fixture.folderDir('Archive'), 'cur', archiveFile),
      path.join(fixture.folderDir('INBOX'), 'cur', archiveFile),
    );

    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 2);
    const flagsOf = async (folder: string, raw: Buffer) =>
      (await fixture.dovecot.listMessages(folder))
        .filter((m) => m.raw.equals(raw))
        .map((m) => m.flags.filter((f) => f !== '\\Recent').sort());
    assert.deepEqual(await flagsOf('Archive', fromInbox.raw), [
      ['$Label1', '\\Flagged', 'project-x'],
    ]);
    assert.deepEqual(await flagsOf('INBOX', fromArchive.raw), [['$Forwarded', '\\Flagged', 'kw1']]);
    assert.deepEqual(await flagsOf('INBOX', fromInbox.raw), []);
    assert.deepEqual(await flagsOf('Archive', fromArchive.raw), []);
    await assertInSync();
    // And the next pass leaves them so.
    const again = await fixture.sync();
    assert.deepEqual([again.done.stats.flagsPushed, again.done.stats.flagsPulled], [0, 0]);
  });

  it('a moved message keeps the flags the server gave it after the last pass', async () => {
    // Synced without flags; then, on the server, a flag and a tag; then, before the next
    // pass, mutt moves the file (its name knows neither) from INBOX to Archive.
    const inbox = fixture.folderDir('INBOX');
    const fresh = crlfToLf(generateMessage(7150));
    await fs.writeFile(path.join(inbox, 'new', '1725000150.moved.host'), fresh);
    await fixture.sync();
    const [onServer] = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(fresh),
    );
    await fixture.dovecot.setFlags('INBOX', onServer!.uid, ['\\Flagged', '$Label2']);
    // Uploaded from new/, where it stays: unseen.
    assert.ok(fsSync.existsSync(path.join(inbox, 'new', '1725000150.moved.host')));
    await fs.rename(
      path.join(inbox, 'new', '1725000150.moved.host'),
      path.join(fixture.folderDir('Archive'), 'new', '1725000150.moved.host'),
    );

    const { errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    const flagsIn = async (folder: string) =>
      (await fixture.dovecot.listMessages(folder))
        .filter((m) => crlfToLf(m.raw).equals(fresh))
        .map((m) => m.flags.filter((f) => f !== '\\Recent').sort());
    assert.deepEqual(await flagsIn('Archive'), [['$Label2', '\\Flagged']]);
    assert.deepEqual(await flagsIn('INBOX'), []);
    // The next pass puts the flag in the file's name: both sides agree.
    await fixture.sync();
    await assertInSync();
  });

  it('gives a new file no flags of another message whose file had the same name', async () => {
    // Names without a unique part repeat across folders: "1:2,S" here, "1:2," there.
    const tagged = crlfToLf(generateMessage(7160));
    const other = crlfToLf(generateMessage(7161));
    assert.notEqual(tagged.length, other.length);
    await fs.writeFile(path.join(fixture.folderDir('Archive'), 'cur', '1:2,S'), tagged);
    await fixture.sync();
    const [archived] = (await fixture.dovecot.listMessages('Archive')).filter((m) =>
      crlfToLf(m.raw).equals(tagged),
    );
    await fixture.dovecot.setFlags('Archive', archived!.uid, ['\\Seen', '$Label1', 'Junk']);
    await fixture.sync();

    await fs.writeFile(path.join(fixture.folderDir('INBOX'), 'cur', '1:2,'), other);
    const { errors, done } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 1);
    const [uploaded] = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(other),
    );
    assert.deepEqual(
      uploaded!.flags.filter((f) => f !== '\\Recent'),
      [],
    );
    await assertInSync();
  });

  it('uploads both of two files that share the part of their name before the flags', async () => {
    // Copied in by hand: "msg1" in new/ and "msg1:2,S" in cur/, two different messages.
    const dir = fixture.folderDir('Archive');
    const first = crlfToLf(generateMessage(7170));
    const second = crlfToLf(generateMessage(7171));
    await fs.writeFile(path.join(dir, 'new', 'msg1'), first);
    await fs.writeFile(path.join(dir, 'cur', 'msg1:2,S'), second);
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 2);
    // Later a third one comes under that name: the held one keeps it, the new one is renamed.
    const third = crlfToLf(generateMessage(7172));
    const held = (await readMaildirFolder(dir)).filter((m) => m.name.startsWith('msg1'));
    assert.equal(held.length, 1, 'one kept the name');
    const other = held[0]!.subdir === 'cur' ? 'new' : 'cur';
    await fs.writeFile(path.join(dir, other, 'msg1'), third);
    const again = await fixture.sync();
    assert.deepEqual(again.errors, []);
    assert.deepEqual([again.done.stats.uploaded, again.done.stats.expungedRemote], [1, 0]);
    const server = (await fixture.dovecot.listMessages('Archive')).map((m) => crlfToLf(m.raw));
    for (const data of [first, second, third])
      assert.equal(server.filter((m) => m.equals(data)).length, 1);
    await assertInSync();
    const last = await fixture.sync();
    assert.deepEqual([last.done.stats.uploaded, last.done.stats.expungedRemote], [0, 0]);
  });

  it('leaves alone what is no message in cur/ and new/, and syncs the rest', async () => {
    const inbox = fixture.folderDir('INBOX');
    const strays = [
      path.join(inbox, 'cur', 'a-directory'),
      path.join(inbox, 'new', 'a-fifo'),
      path.join(inbox, 'cur', 'a-link-to-a-directory'),
      path.join(inbox, 'new', 'a-dangling-link'),
      path.join(inbox, 'new', 'an-empty-file'),
      path.join(inbox, 'new', 'a-link-in-a-loop'),
      path.join(inbox, 'new', 'a-socket'),
    ];
    await fs.mkdir(strays[0]!);
    execFileSync('mkfifo', [strays[1]!]);
    await fs.symlink(inbox, strays[2]!);
    await fs.symlink(path.join(inbox, 'no-such-file'), strays[3]!);
    await fs.writeFile(strays[4]!, '');
    await fs.symlink('a-link-in-a-loop', strays[5]!);
    const socket = net.createServer();
    await new Promise<void>((resolve) => socket.listen(strays[6]!, resolve));
    // Sorted after the strays, so an upload that stopped at one would never reach it.
    const fresh = crlfToLf(generateMessage(7300));
    await fs.writeFile(path.join(inbox, 'new', 'z-1725000300.fresh.host'), fresh);
    const before = (await fixture.dovecot.listMessages('INBOX')).length;

    for (let pass = 0; pass < 2; pass++) {
      const { done, errors } = await fixture.sync();
      assert.deepEqual(errors, [], `pass ${pass}`);
      assert.equal(done.result, 'ok');
      assert.equal(done.stats.uploaded, pass === 0 ? 1 : 0);
    }
    const server = await fixture.dovecot.listMessages('INBOX');
    assert.equal(server.length, before + 1);
    assert.ok(server.some((m) => crlfToLf(m.raw).equals(fresh)));
    for (const stray of strays) await fs.lstat(stray); // still there, untouched

    socket.close();
    for (const stray of strays) await fs.rm(stray, { recursive: true, force: true });
    await assertInSync();
  });

  it('uploads an empty file once it is filled in place', async () => {
    const inbox = fixture.folderDir('INBOX');
    const later = path.join(inbox, 'new', '1725000400.filled-later.host');
    await fs.writeFile(later, '');
    for (let pass = 0; pass < 2; pass++) await fixture.sync();
    // Filled in place: the directories do not change.
    const body = crlfToLf(generateMessage(7400));
    await fs.writeFile(later, body);
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 1);
    assert.ok(
      (await fixture.dovecot.listMessages('INBOX')).some((m) => crlfToLf(m.raw).equals(body)),
    );
    await assertInSync();
  });

  it('uploads a file whose name is not UTF-8, renamed to one of ours', async () => {
    const cur = path.join(fixture.folderDir('INBOX'), 'cur');
    const body = crlfToLf(generateMessage(7410));
    const latin1 = Buffer.from('1725000410.caf\xe9.host:2,S', 'latin1');
    fsSync.writeFileSync(Buffer.concat([Buffer.from(cur + path.sep), latin1]), body);
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 1);
    const [uploaded] = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(body),
    );
    assert.deepEqual(
      uploaded!.flags.filter((f) => f !== '\\Recent'),
      ['\\Seen'],
    );
    const names = fsSync.readdirSync(cur, { encoding: 'buffer' });
    assert.ok(!names.some((n) => n.equals(latin1)), 'renamed');
    assert.equal((await fixture.sync()).done.stats.uploaded, 0);
    await assertInSync();
  });

  it('leaves a file that cannot take its flags in its name as it is, and syncs the rest of the folder', async () => {
    const inbox = fixture.folderDir('INBOX');
    // 254 bytes with the info: no room for another letter.
    const long = `1725000420.${'x'.repeat(240)}`;
    const body = crlfToLf(generateMessage(7420));
    await fs.writeFile(path.join(inbox, 'cur', `${long}:2,`), body);
    await fixture.sync();
    const [message] = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(body),
    );
    await fixture.dovecot.setFlags('INBOX', message!.uid, ['\\Seen', '\\Flagged']);
    const fresh = crlfToLf(generateMessage(7421));
    await fs.writeFile(path.join(inbox, 'new', 'z-1725000421.fresh.host'), fresh);
    for (let pass = 0; pass < 2; pass++) {
      const { done, errors } = await fixture.sync();
      assert.deepEqual(errors, [], `pass ${pass}`);
      assert.equal(done.stats.uploaded, pass === 0 ? 1 : 0);
    }
    // The server keeps its flags: the file's old name is not read as a change made here.
    const [after] = (await fixture.dovecot.listMessages('INBOX')).filter((m) =>
      crlfToLf(m.raw).equals(body),
    );
    assert.deepEqual(after!.flags.filter((f) => f !== '\\Recent').sort(), ['\\Flagged', '\\Seen']);
    assert.ok(fsSync.existsSync(path.join(inbox, 'cur', `${long}:2,`)));
    await fs.rm(path.join(inbox, 'cur', `${long}:2,`));
    await fixture.sync(); // the message goes from the server too
  });
});
