/**
 * A pass over a folder that changed on neither side stops after its SELECT (no file listing,
 * no walk over the state rows) — or, where LIST-STATUS gives the counters with the listing,
 * before it (no SELECT, no extra connection) — and yet every kind of change made after such a pass — on the
 * server or in the Maildir, by flags, new messages, deletions, moves or bodies still owed —
 * is found by the next one, even one made right after a pass that changed the folder itself.
 * The Maildir's mark is only trusted once its directories have been quiet for a while (a few
 * ms on the file systems of tests; seconds on coarse ones), so each case waits for that first.
 */
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type DoneEvent, type SyncFlags } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirName } from '../../agent/src/sync/maildir/flags.js';
import { folderMark, SETTLED_AFTER_MS } from '../../agent/src/sync/maildir/folder-mark.js';
import { readMaildirFolder, type StoredMessage } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';
import os from 'node:os';
import { ImapFlow } from 'imapflow';
import { parseConfig } from '../../agent/src/config/load.js';
import { appendSampleMail } from '../../agent/src/demo/append-sample-mail.js';
import {
  ensureDovecotInstalled,
  startPrivateDovecot,
  type PrivateDovecot,
} from '../../agent/src/demo/private-dovecot.js';
import { SyncEngine } from '../../agent/src/sync/engine.js';
import { MaildirFolder } from '../../agent/src/sync/maildir/maildir-folder.js';
import { StateDb } from '../../agent/src/sync/state-db.js';

const FOLDERS = ['INBOX', 'Archive'];

for (const server of [
  { name: 'QRESYNC and LIST-STATUS', capabilities: {}, listStatus: true },
  { name: 'QRESYNC without LIST-STATUS', capabilities: { listStatus: false }, listStatus: false },
  {
    name: 'CONDSTORE without QRESYNC',
    capabilities: { qresync: false, listStatus: false },
    listStatus: false,
  },
  { name: 'CONDSTORE and LIST-STATUS', capabilities: { qresync: false }, listStatus: true },
  // Every message's flags are read in each pass; answers equal to the last pass's skip the rest.
  {
    name: 'neither CONDSTORE nor QRESYNC',
    capabilities: { condstore: false },
    listStatus: false,
    // The flags of messages a pass downloads were read with them, not with the flag answers
    // it compared: the next pass reads them with the others once before skipping the folder.
    readsFlagsAfterDownload: true,
  },
] as const) {
  describe(`folders unchanged on both sides, server with ${server.name}`, function () {
    this.timeout(120_000);
    let fixture: SyncFixture;
    const inbox = () => fixture.folderDir('INBOX');

    /** The commands the last run sent. */
    const commands: string[] = [];

    async function sync(flags: SyncFlags = FULL_SYNC): Promise<DoneEvent> {
      commands.length = 0;
      const engine = fixture.engine(
        {},
        { protocolLog: (direction, line) => direction === 'C' && commands.push(line) },
      );
      const errors: string[] = [];
      engine.onEvent((e) => e.type === 'error' && errors.push(e.message));
      const done = await engine.start({ flags, trigger: 'cli' }).done;
      assert.equal(done.result, 'ok', JSON.stringify({ done, errors }));
      return done;
    }

    const selects = () => commands.filter((c) => /^\S+ (SELECT|EXAMINE) /i.test(c));

    /** Waits until every folder's directories have been quiet long enough to be vouched for. */
    async function untilSettled(): Promise<void> {
      for (const name of FOLDERS) {
        const mark = await folderMark(fixture.folderDir(name));
        if (mark && !mark.settled) await sleep(mark.settlesInMs);
      }
    }

    /** Lets the directories go quiet, then a pass vouches for them and the next skips both. */
    async function settle(): Promise<void> {
      await untilSettled();
      await sync();
      const done = await sync();
      assert.equal(done.stats.foldersUnchanged, FOLDERS.length, JSON.stringify(done.stats));
      assert.equal(done.stats.foldersSynced, FOLDERS.length);
      // With LIST-STATUS the listing alone tells: no folder is opened. Without, each is.
      assert.equal(selects().length, server.listStatus ? 0 : FOLDERS.length, commands.join('\n'));
      if (server.listStatus) {
        assert.ok(
          commands.some((c) => /LIST .*RETURN \(.*STATUS/i.test(c)),
          commands.join('\n'),
        );
      }
      // Skipped, yet checked: the pane's "last synced" of each folder moves.
      for (const folder of fixture.state.folders('a'))
        assert.ok(folder.lastSyncAt! >= done.startedAt, `${folder.path} last synced`);
    }

    async function fileOf(uid: number): Promise<StoredMessage | undefined> {
      const message = (await fixture.dovecot.listMessages('INBOX')).find((m) => m.uid === uid);
      assert.ok(message, `server has no UID ${uid}`);
      const bytes = crlfToLf(message.raw);
      return (await readMaildirFolder(inbox())).find((f) => f.data.equals(bytes));
    }

    async function serverFlags(uid: number): Promise<string[]> {
      const message = (await fixture.dovecot.listMessages('INBOX')).find((m) => m.uid === uid);
      return (message?.flags ?? []).filter((f) => f !== '\\Recent').sort();
    }

    const baseOf = (file: StoredMessage) => file.name.slice(0, file.name.lastIndexOf(':2,'));

    before(async () => {
      fixture = await startSyncFixture({
        dovecot: { capabilities: server.capabilities },
        mail: generateMailbox({ count: 30, folders: FOLDERS, seed: 5 }).map((m) => ({
          ...m,
          flags: ['\\Seen'],
        })),
      });
      const first = await sync();
      assert.equal(first.stats.downloaded, 30);
    });

    after(async () => fixture?.cleanup());

    it('skips both folders once they are settled, and a flag renamed in the Maildir is pushed', async () => {
      await settle();
      const file = (await fileOf(1))!;
      await fs.rename(
        path.join(inbox(), file.subdir, file.name),
        path.join(inbox(), 'cur', maildirName(baseOf(file), 'FS')),
      );
      const done = await sync();
      assert.equal(done.stats.flagsPushed, 1);
      assert.equal(done.stats.foldersUnchanged, 1, 'Archive stays unchanged');
      assert.deepEqual(await serverFlags(1), ['\\Flagged', '\\Seen']);
    });

    it('vouches for what a pass wrote itself: the next pass skips the folder at once', async () => {
      await settle();
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 2, folders: ['INBOX'], seed: 79 }),
      );
      assert.equal((await sync()).stats.downloaded, 2);
      if ('readsFlagsAfterDownload' in server) {
        const reread = await sync();
        assert.equal(reread.stats.foldersUnchanged, FOLDERS.length - 1);
      }
      const next = await sync();
      assert.equal(next.stats.foldersUnchanged, FOLDERS.length, JSON.stringify(next.stats));
      assert.equal(selects().length, server.listStatus ? 0 : FOLDERS.length);
    });

    it('finds local changes made the moment a pass that changed the folder ends', async () => {
      await settle();
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 1, folders: ['INBOX'], seed: 80 }),
      );
      await fixture.dovecot.setFlags('INBOX', 5, ['\\Seen', '\\Answered']);
      const changed = await sync();
      assert.equal(changed.stats.downloaded, 1);
      assert.equal(changed.stats.flagsPulled, 1);
      // No wait: within the same clock tick as the pass's own last rename, if it can be.
      const file = (await fileOf(6))!;
      await fs.rename(
        path.join(inbox(), file.subdir, file.name),
        path.join(inbox(), 'cur', maildirName(baseOf(file), 'FS')),
      );
      await fs.writeFile(
        path.join(inbox(), 'new', `${Math.floor(Date.now() / 1000)}.M2P2Q2.elsewhere`),
        'From: a@example.com\nTo: b@example.com\nSubject: right after\n\nhello\n',
      );
      const done = await sync();
      assert.equal(done.stats.flagsPushed, 1);
      assert.equal(done.stats.uploaded, 1);
      assert.deepEqual(await serverFlags(6), ['\\Flagged', '\\Seen']);
    });

    it('finds a flag renamed by another program while a pass that changed the folder ran', async () => {
      await settle();
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 1, folders: ['INBOX'], seed: 81 }),
      );
      const file = (await fileOf(8))!;
      // Between the pass's mark and its check of the listing it changed: while it downloads.
      let renamed = false;
      commands.length = 0;
      const engine = fixture.engine();
      engine.onEvent((e) => {
        if (renamed || e.type !== 'progress' || e.folder !== 'INBOX') return;
        if (!/^Downloading/.test(e.text)) return;
        renameSync(
          path.join(inbox(), file.subdir, file.name),
          path.join(inbox(), 'cur', maildirName(baseOf(file), 'FS')),
        );
        renamed = true;
      });
      const changed = await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done;
      assert.equal(changed.result, 'ok');
      assert.equal(changed.stats.downloaded, 1);
      assert.ok(renamed, 'the rename was made during the download');
      await untilSettled();
      const done = await sync();
      assert.equal(done.stats.flagsPushed, 1, JSON.stringify(done.stats));
      assert.deepEqual(await serverFlags(8), ['\\Flagged', '\\Seen']);
    });

    it('finds a flag changed on the server', async () => {
      await settle();
      await fixture.dovecot.setFlags('INBOX', 2, ['\\Answered']);
      const done = await sync();
      assert.equal(done.stats.flagsPulled, 1);
      assert.equal((await fileOf(2))?.letters, 'R');
    });

    it('finds a flag another client undid on the server right after a pass pushed it', async () => {
      await settle();
      const file = (await fileOf(7))!;
      await fs.rename(
        path.join(inbox(), file.subdir, file.name),
        path.join(inbox(), 'cur', maildirName(baseOf(file), 'FS')),
      );
      assert.equal((await sync()).stats.flagsPushed, 1);
      await fixture.dovecot.setFlags('INBOX', 7, ['\\Seen']);
      const done = await sync();
      assert.equal(done.stats.flagsPulled, 1, JSON.stringify(done.stats));
      assert.equal((await fileOf(7))?.letters, 'S');
    });

    it('finds a message expunged on the server and one new on the server', async () => {
      await settle();
      const gone = (await fileOf(3))!;
      const client = await fixture.dovecot.client();
      try {
        await client.mailboxOpen('INBOX');
        await client.messageDelete('3', { uid: true });
      } finally {
        await client.logout();
      }
      const done = await sync();
      assert.equal(done.stats.expungedLocal, 1);
      const names = (await readMaildirFolder(inbox())).map((f) => f.name);
      assert.ok(!names.includes(gone.name));

      await settle();
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 1, folders: ['Archive'], seed: 77 }),
      );
      assert.equal((await sync()).stats.downloaded, 1);
    });

    it('uploads a file another program delivered into new/', async () => {
      await settle();
      const before = (await fixture.dovecot.listMessages('INBOX')).length;
      const name = `${Math.floor(Date.now() / 1000)}.M1P1Q1.elsewhere`;
      await fs.writeFile(
        path.join(inbox(), 'new', name),
        'From: a@example.com\nTo: b@example.com\nSubject: delivered locally\n\nhello\n',
      );
      const done = await sync();
      assert.equal(done.stats.uploaded, 1);
      const messages = await fixture.dovecot.listMessages('INBOX');
      assert.equal(messages.length, before + 1);
      // Its file keeps the other program's name (in new/, no info): a flag set on the server
      // later still reaches it once the folder is vouched for again.
      await settle();
      const uid = Math.max(...messages.map((m) => m.uid));
      await fixture.dovecot.setFlags('INBOX', uid, ['\\Flagged']);
      const flagged = await sync();
      assert.equal(flagged.stats.flagsPulled, 1, JSON.stringify(flagged.stats));
      assert.ok(!(await fs.readdir(path.join(inbox(), 'new'))).includes(name));
      assert.ok((await fs.readdir(path.join(inbox(), 'cur'))).includes(`${name}:2,F`));
    });

    it('still skips a folder with a directory in cur/, and not one with an empty file', async () => {
      await settle();
      // A directory cannot become a message without the folder's directories changing...
      await fs.mkdir(path.join(inbox(), 'cur', 'a-directory'));
      await settle();
      // ...an empty file can: filled in place, it changes nothing the mark sees.
      const empty = path.join(inbox(), 'new', `${Math.floor(Date.now() / 1000)}.M2P2Q2.empty`);
      await fs.writeFile(empty, '');
      await untilSettled();
      await sync();
      await untilSettled();
      assert.equal((await sync()).stats.foldersUnchanged, FOLDERS.length - 1);
      await fs.writeFile(empty, 'From: a@example.com\nSubject: filled\n\nhello\n');
      assert.equal((await sync()).stats.uploaded, 1);
      await fs.rm(path.join(inbox(), 'cur', 'a-directory'), { recursive: true });
    });

    it('expunges on the server a file deleted from the Maildir', async () => {
      await settle();
      const file = (await fileOf(4))!;
      await fs.rm(path.join(inbox(), file.subdir, file.name));
      const done = await sync();
      assert.equal(done.stats.expungedRemote, 1);
      assert.ok(!(await fixture.dovecot.listMessages('INBOX')).some((m) => m.uid === 4));
    });

    it('completes bodies a headers-only pass left, though nothing else changed', async () => {
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 1, folders: ['INBOX'], seed: 78 }),
      );
      const headersOnly = await sync({ ...FULL_SYNC, headersOnly: true });
      assert.equal(headersOnly.stats.downloaded, 1);
      await untilSettled();
      await sync({ ...FULL_SYNC, headersOnly: true });
      // Both headers-only passes: the second one may vouch for the folders as they are.
      assert.equal(
        (await sync({ ...FULL_SYNC, headersOnly: true })).stats.foldersUnchanged,
        FOLDERS.length,
      );
      const full = await sync();
      assert.equal(full.stats.downloaded, 1, 'the body owed is fetched');
      const partial = fixture.state
        .folderCounts('a')
        .reduce((sum, folder) => sum + folder.partialCount, 0);
      assert.equal(partial, 0);
    });
  });
}

describe("a folder's first sync", function () {
  this.timeout(60_000);
  let fixture: SyncFixture;

  beforeEach(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 40, folders: FOLDERS, seed: 7 }),
    });
  });
  afterEach(async () => fixture?.cleanup());

  /** Runs `run` with `method` of `proto` wrapped by `wrap` (given the original). */
  async function patched<T, P extends object, K extends keyof P>(
    proto: P,
    method: K,
    wrap: (original: P[K]) => P[K],
    run: () => Promise<T>,
  ): Promise<T> {
    const original = proto[method];
    proto[method] = wrap(original);
    try {
      return await run();
    } finally {
      proto[method] = original;
    }
  }

  it('vouches for what it delivered into empty folders without reading the rows back', async () => {
    let readBack = 0;
    const { done } = await patched(
      StateDb.prototype,
      'messageBasesAndFlags',
      (original) =>
        function (this: StateDb, folderId: number) {
          readBack += 1;
          return original.call(this, folderId);
        },
      () => fixture.sync(),
    );
    assert.equal(done.stats.downloaded, 40);
    assert.equal(readBack, 0, 'a folder was checked file by file against its rows');
    for (const folder of fixture.state.folders('a')) {
      assert.ok(folder.localMark, `${folder.path}: no mark vouched for`);
      assert.ok(folder.listingDigest, `${folder.path}: no listing recorded`);
    }
    await sleep(SETTLED_AFTER_MS + 300);
    const next = await fixture.sync();
    assert.equal(next.done.stats.foldersUnchanged, FOLDERS.length, JSON.stringify(next.done.stats));
  });

  it('finds a file another program delivered after the first sync last listed the folder', async () => {
    const inbox = fixture.folderDir('INBOX');
    const delivered = generateMailbox({ count: 1, folders: ['INBOX'], seed: 62 })[0]!;
    const inboxBefore = (await fixture.dovecot.listMessages('INBOX')).length;
    // INBOX is listed to see it empty, then to find files to upload: after that one, no
    // listing of the pass can see this file; only the check of its deliveries can.
    let inboxScans = 0;
    const first = await patched(
      MaildirFolder.prototype,
      'scan',
      (original) =>
        async function (this: MaildirFolder) {
          const files = await original.call(this);
          if (this.dir === inbox && ++inboxScans === 2)
            writeFileSync(path.join(inbox, 'new', 'delivered.after.listing'), delivered.raw);
          return files;
        },
      () => fixture.sync(),
    );
    assert.equal(inboxScans >= 2, true, 'INBOX was listed twice');
    assert.equal(first.done.stats.uploaded, 0);
    await sleep(SETTLED_AFTER_MS + 300);
    const { done } = await fixture.sync();
    assert.equal(done.stats.uploaded, 1, JSON.stringify(done.stats));
    const onServer = await fixture.dovecot.listMessages('INBOX');
    assert.equal(onServer.length, inboxBefore + 1);
  });
});

describe('folders on a server without CONDSTORE', function () {
  this.timeout(60_000);
  let fixture: SyncFixture;

  before(async () => {
    fixture = await startSyncFixture({
      dovecot: { capabilities: { condstore: false } },
      mail: generateMailbox({ count: 10, folders: ['INBOX'], seed: 6 }),
    });
  });
  after(async () => fixture?.cleanup());

  it('read every flag in each pass, so a flag changed on the server is found', async () => {
    await fixture.sync();
    await sleep(SETTLED_AFTER_MS + 300);
    await fixture.sync();
    await fixture.dovecot.setFlags('INBOX', 1, ['\\Flagged']);
    const { done } = await fixture.sync();
    assert.equal(done.stats.foldersUnchanged, 0);
    assert.equal(done.stats.flagsPulled, 1);
  });

  it('find a change undone on the server after a pass that applied it was cut short', async () => {
    const flagsOf = (uid: number) => {
      const inbox = fixture.state.folders('a').find((f) => f.path === 'INBOX')!;
      return fixture.state.messages(inbox.id).find((m) => m.uid === uid)!.flags;
    };
    await sleep(SETTLED_AFTER_MS + 300);
    await fixture.sync();
    await fixture.sync(); // answers recorded, the Maildir vouched for
    const before = (await fixture.dovecot.listMessages('INBOX'))
      .find((m) => m.uid === 3)!
      .flags.filter((f) => f !== '\\Recent');
    // A keyword has no Maildir letter: pulling it renames no file, the mark stays.
    await fixture.dovecot.setFlags('INBOX', 3, [...before, 'Junk']);
    const markSynced = StateDb.prototype.markFolderSynced;
    StateDb.prototype.markFolderSynced = () => {
      throw new Error('cut short before the pass could record anything');
    };
    try {
      assert.notEqual((await fixture.sync()).done.result, 'ok');
    } finally {
      StateDb.prototype.markFolderSynced = markSynced;
    }
    assert.ok(flagsOf(3).includes('Junk'), 'the change was applied before the cut');
    await fixture.dovecot.setFlags('INBOX', 3, before); // undone by another client
    await fixture.sync();
    assert.ok(!flagsOf(3).includes('Junk'), flagsOf(3).join(' '));
  });

  it('list no directory while the Maildir is as the last pass vouched, yet miss no local change', async () => {
    // Counts listings of the real folders, to see when a pass trusts the Maildir's mark.
    let scans = 0;
    const scan = MaildirFolder.prototype.scan;
    MaildirFolder.prototype.scan = function (this: MaildirFolder) {
      scans += 1;
      return scan.call(this);
    };
    try {
      const inbox = fixture.folderDir('INBOX');
      await sleep(SETTLED_AFTER_MS + 300);
      await fixture.sync(); // vouches for the settled Maildir
      scans = 0;
      let { done } = await fixture.sync();
      assert.equal(done.stats.flagsPulled + done.stats.flagsPushed + done.stats.uploaded, 0);
      assert.equal(scans, 0, 'the folder was listed though nothing changed on either side');

      // A flag renamed here, and a file another program delivered: both move the mark.
      const [name] = (await fs.readdir(path.join(inbox, 'cur'))).sort();
      const base = name!.slice(0, name!.lastIndexOf(':2,'));
      await fs.rename(path.join(inbox, 'cur', name!), path.join(inbox, 'cur', `${base}:2,FS`));
      const delivered = generateMailbox({ count: 1, folders: ['INBOX'], seed: 61 })[0]!;
      await fs.writeFile(path.join(inbox, 'new', 'delivered.by.another.program'), delivered.raw);
      ({ done } = await fixture.sync());
      assert.equal(done.stats.flagsPushed, 1, JSON.stringify(done.stats));
      assert.equal(done.stats.uploaded, 1, JSON.stringify(done.stats));
      assert.ok(scans > 0);
      const onServer = await fixture.dovecot.listMessages('INBOX');
      assert.equal(onServer.length, 11);
      assert.ok(onServer.some((m) => m.flags.includes('\\Flagged') && m.flags.includes('\\Seen')));
    } finally {
      MaildirFolder.prototype.scan = scan;
    }
  });
});

describe('a folder large enough to be searched for its flags, on a server without CONDSTORE', function () {
  this.timeout(60_000);
  let fixture: SyncFixture;
  // Enough messages that six searches cost less than a FETCH line each, however slow the
  // test process is to answer (searchIsCheaper): a round trip of up to ~16 ms.
  const COUNT = 2000;

  /** One pass, and the commands it sent. */
  async function sync(): Promise<{ done: DoneEvent; commands: string[] }> {
    const commands: string[] = [];
    const engine = fixture.engine(
      {},
      { protocolLog: (direction, line) => direction === 'C' && commands.push(line) },
    );
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done;
    assert.equal(done.result, 'ok', JSON.stringify(done));
    return { done, commands };
  }
  const searches = (commands: string[]) => commands.filter((c) => /^\S+ UID SEARCH /i.test(c));
  const fetches = (commands: string[]) => commands.filter((c) => /^\S+ UID FETCH /i.test(c));

  before(async () => {
    fixture = await startSyncFixture({
      dovecot: { capabilities: { condstore: false } },
      // Small ones: what matters here is their count and their flags.
      mail: Array.from({ length: COUNT }, (_, i) => ({
        folder: 'INBOX',
        raw: Buffer.from(
          `From: a@example.com\r\nTo: b@example.com\r\nSubject: message ${i}\r\n` +
            `Message-ID: <m${i}@example.com>\r\n\r\nBody ${i}\r\n`,
        ),
        internalDate: new Date(Date.UTC(2024, 0, 1) + i * 60_000),
        // Read for the most part, the latest not yet; some answered: a few ranges each.
        flags: i < COUNT - 40 ? (i % 500 < 20 ? ['\\Seen', '\\Answered'] : ['\\Seen']) : [],
      })),
    });
    await sync();
  });
  after(async () => fixture?.cleanup());

  it('checks a settled folder with one search, and still finds each change on the server', async () => {
    const inbox = () => fixture.state.folders('a').find((f) => f.path === 'INBOX')!;
    await sleep(SETTLED_AFTER_MS + 300);
    // The first pass read no flag apart from the downloads': this one reads them all, the
    // cheaper way (searches, not 2,000 FETCH lines), and keeps the answers.
    const recording = await sync();
    assert.ok(searches(recording.commands).length >= 6, recording.commands.join('\n'));
    assert.deepEqual(fetches(recording.commands), []);
    assert.ok(inbox().flagAnswers?.startsWith('search:'), String(inbox().flagAnswers));
    assert.ok(inbox().flagAnswerSets, 'the answers kept with their digest');

    let pass = await sync();
    assert.equal(pass.done.stats.foldersUnchanged, 1, JSON.stringify(pass.done.stats));
    assert.equal(searches(pass.commands).length, 1, pass.commands.join('\n'));

    // A flag set and one cleared on the server: each found by the next pass, then settled.
    for (const [uid, flags] of [
      [5, ['\\Seen', '\\Flagged']],
      [1, []],
    ] as const) {
      await fixture.dovecot.setFlags('INBOX', uid, [...flags]);
      pass = await sync();
      assert.equal(
        pass.done.stats.flagsPulled,
        1,
        `UID ${uid}: ${JSON.stringify(pass.done.stats)}`,
      );
      const row = fixture.state.messages(inbox().id).find((m) => m.uid === uid)!;
      assert.deepEqual([...row.flags].sort(), [...flags].sort());
      pass = await sync();
      assert.equal(pass.done.stats.flagsPulled, 0);
      assert.equal(pass.done.stats.foldersUnchanged, 1, JSON.stringify(pass.done.stats));
      assert.equal(searches(pass.commands).length, 1, pass.commands.join('\n'));
    }
  });
});

describe('a server that volunteers HIGHESTMODSEQ without offering CONDSTORE', function () {
  this.timeout(60_000);
  let dir: string;
  let dovecot: PrivateDovecot | null = null;
  let state: StateDb | null = null;
  const password = 'secret-volunteer';

  before(async () => {
    await ensureDovecotInstalled();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-volunteer-'));
    await fs.chmod(dir, 0o755); // Dovecot's own users must reach its directory inside
  });
  after(async () => {
    state?.close();
    await dovecot?.stop();
    await fs.rm(dir, { recursive: true, force: true });
    delete process.env.STORESYNC_TEST_VOLUNTEER;
  });

  it('is scanned for flags like any server without CONDSTORE: its HIGHESTMODSEQ is not trusted', async () => {
    // First with CONDSTORE: our sessions enable it, and Dovecot keeps modseqs from then on.
    dovecot = await startPrivateDovecot({
      dir: path.join(dir, 'server'),
      user: 'tester',
      password,
    });
    const port = dovecot.port;
    /** Another client on the same port, whichever server answers there. */
    const login = async () => {
      const other = new ImapFlow({
        host: dovecot!.host,
        port,
        secure: false,
        doSTARTTLS: false,
        auth: { user: 'tester', pass: password },
        logger: false,
      });
      await other.connect();
      return other;
    };
    const client = await login();
    await appendSampleMail(client, generateMailbox({ count: 6, folders: ['INBOX'], seed: 8 }));
    await client.logout();
    process.env.STORESYNC_TEST_VOLUNTEER = password;
    const account = parseConfig(
      {
        dataDir: dir,
        accounts: [
          {
            id: 'a',
            imap: {
              host: dovecot.host,
              port,
              tls: 'none',
              user: 'tester',
              password: { env: 'STORESYNC_TEST_VOLUNTEER' },
            },
            maildir: path.join(dir, 'Maildir'),
          },
        ],
      },
      null,
    ).accounts[0]!;
    state = new StateDb(path.join(dir, 'state.db'));
    const commands: string[] = [];
    const engine = new SyncEngine([account], state, undefined, {
      protocolLog: (direction, line) => direction === 'C' && commands.push(line),
    });
    const sync = async () => {
      commands.length = 0;
      const done = await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done;
      assert.equal(done.result, 'ok');
      return done;
    };
    await sync();
    await sleep(SETTLED_AFTER_MS + 300);
    await sync();

    // Then the same mail behind the same port with CONDSTORE hidden (as Exchange has none).
    await dovecot.stop();
    dovecot = await startPrivateDovecot({
      dir: path.join(dir, 'server'),
      user: 'tester',
      password,
      port,
      capabilities: { condstore: false },
    });
    await sync(); // learns that the server has no CONDSTORE
    await sleep(SETTLED_AFTER_MS + 300);
    await sync();
    const flagScan = /UID FETCH 1:\d+ \(UID FLAGS\)$/;
    // Nothing changed: found so by reading every flag, not by the HIGHESTMODSEQ it shows.
    let done = await sync();
    assert.equal(done.stats.foldersUnchanged, 1);
    assert.ok(
      commands.some((c) => flagScan.test(c)),
      commands.join('\n'),
    );
    // A flag set by another client, which moves no HIGHESTMODSEQ the server admits to.
    const other = await login();
    await other.mailboxOpen('INBOX');
    await other.messageFlagsAdd('2', ['\\Flagged'], { uid: true });
    await other.logout();
    done = await sync();
    assert.equal(done.stats.flagsPulled, 1);
    assert.equal(done.stats.foldersUnchanged, 0);
  });
});
