/**
 * Folder names that are trouble for some file system, synced both ways with a real Dovecot:
 * each lands in its own directory, is read back under its server name, and a folder made
 * here under such a name reaches the server with exactly that name. Dovecot keeps its names
 * in the index here (LAYOUT=index), so it takes ".", "..", leading and trailing dots; it
 * still refuses control characters and levels longer than 255 bytes of modified UTF-7.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateMessage, type SampleMessage } from '../../agent/src/demo/sample-mail.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { folderNameRules, type PlatformName } from '../../agent/src/sync/maildir/folder-names.js';
import {
  FULL_NAME_FILE,
  displayPathOf,
  folderDirectory,
} from '../../agent/src/sync/maildir/folder-path.js';
import { listLocalFolders } from '../../agent/src/sync/maildir/local-folders.js';
import { silentLogger, type SyncLogger } from '../../agent/src/sync/logger.js';
import { SyncScheduler } from '../../agent/src/sync/scheduler.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const LONG = 'Quarterly reports for the regional offices '.repeat(6).slice(0, 250);
const HOSTILE = [
  '.',
  '..',
  '.hidden',
  'Trailing.',
  'Trailing ',
  'a<b>:c"d|e?f*g',
  'back\\slash',
  'CON',
  'nul.txt',
  'Foo',
  'foo',
  'Caf\u00e9',
  'Cafe\u0301',
  'pct%41',
  'cur',
  'Parent/cur',
  'Parent/.hidden',
  'Parent/..',
  '~tilde',
  'emoji📧',
  LONG,
];

/** As the state, events and local listing name them: "\" written "\\". */
const display = (name: string) => displayPathOf(name, '/');

/** Resolves when `check` holds, polling; rejects naming `what` after a generous limit. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 30_000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function oneMessageEach(folders: readonly string[], seed: number): SampleMessage[] {
  return folders.map((folder, i) => ({
    folder,
    raw: generateMessage(seed + i),
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2024, 0, 1 + i)),
  }));
}

describe('hostile folder names, both ways (Dovecot, names in the index)', function () {
  let fixture: SyncFixture;
  const root = () => fixture.account.maildir;

  async function serverFolders(): Promise<string[]> {
    const client = await fixture.dovecot.client();
    const list = (await client.list()).map((f) => f.path);
    await client.logout();
    return list;
  }

  before(async () => {
    fixture = await startSyncFixture({
      dovecot: { mailboxNames: 'any' },
      mail: oneMessageEach(HOSTILE, 300),
    });
  });

  after(async () => fixture?.cleanup());

  it('stores every server folder in its own directory and reads it back by its name', async () => {
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.result, 'ok');
    const names = [...HOSTILE, 'INBOX', 'Parent'].map(display).sort();
    assert.deepEqual(
      fixture.state
        .folders('a')
        .map((f) => f.path)
        .sort(),
      names,
    );
    // Directory names read back as the server's names (what the next sync compares).
    assert.deepEqual(await listLocalFolders(root()), names);
    const dirs = new Set<string>();
    for (const name of HOSTILE) {
      const dir = folderDirectory(root(), display(name));
      dirs.add(dir);
      const stored = await readMaildirFolder(dir);
      assert.equal(stored.length, 1, name);
      assert.equal(stored[0]!.letters, 'S', name);
    }
    assert.equal(dirs.size, HOSTILE.length);
  });

  it('lays them out as the Linux rules say, keeping names that needed nothing as they are', async () => {
    const entries = await fs.readdir(root());
    for (const entry of ['%2E', '%2E.', '%2Ehidden', '%63ur', 'pct%2541', 'Foo', 'foo'])
      assert.ok(entries.includes(entry), entry);
    for (const kept of ['Trailing.', 'Trailing ', 'a<b>:c"d|e?f*g', 'back\\slash', 'CON'])
      assert.ok(entries.includes(kept), kept);
    assert.deepEqual((await fs.readdir(path.join(root(), 'Parent'))).sort(), [
      '%2E.',
      '%2Ehidden',
      '%63ur',
      'cur',
      'new',
      'tmp',
    ]);
    const long = entries.find((e) => e.includes('%~'))!;
    assert.ok(Buffer.byteLength(long) <= 247 && LONG.startsWith(long.split('%~')[0]!));
    assert.equal(await fs.readFile(path.join(root(), long, FULL_NAME_FILE), 'utf8'), LONG);
  });

  it('changes nothing on the next sync', async () => {
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
    const { foldersCreated, foldersDeleted, downloaded, uploaded } = done.stats;
    assert.deepEqual(
      { foldersCreated, foldersDeleted, downloaded, uploaded },
      {
        foldersCreated: 0,
        foldersDeleted: 0,
        downloaded: 0,
        uploaded: 0,
      },
    );
    assert.equal((await serverFolders()).length, HOSTILE.length + 2);
  });

  it('creates on the server, under exactly their names, folders made here', async () => {
    const made = ['.dotted', 'Up.', 'Reports: Q1?', 'Parent/..', 'Parent/.x'].map((n) => `New${n}`);
    const local = ['..', '.dotted', 'end dot.', 'Parent/.made'];
    for (const name of [...made, ...local]) {
      const dir = folderDirectory(root(), name, { create: true });
      for (const sub of ['cur', 'new', 'tmp'])
        await fs.mkdir(path.join(dir, sub), { recursive: true });
      await fs.writeFile(
        path.join(dir, 'cur', `1700000000.hostile${made.length}.host:2,S`),
        crlfToLf(generateMessage(900)),
      );
    }
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    // ".." here is the server's ".." (already synced), so only its file is new.
    const created = [...made, '.dotted', 'end dot.', 'Parent/.made'];
    assert.equal(done.stats.foldersCreated, created.length);
    const server = await serverFolders();
    for (const name of created) {
      assert.ok(server.includes(name), name);
      assert.equal((await fixture.dovecot.listMessages(name)).length, 1, name);
    }
    assert.equal((await fixture.dovecot.listMessages('..')).length, 2);
  });

  // The same names laid out by the macOS and Windows rules on a real directory tree.
  for (const platform of ['darwin', 'win32'] as PlatformName[]) {
    it(`lays the same names out by the ${platform} rules and reads them back`, async () => {
      const rules = folderNameRules(platform);
      const other = await fs.mkdtemp(path.join(os.tmpdir(), `storesync-${platform}-`));
      try {
        const dirs = new Set<string>();
        for (const name of HOSTILE) {
          const dir = folderDirectory(other, display(name), { create: true, rules });
          await fs.mkdir(path.join(dir, 'cur'), { recursive: true });
          dirs.add(dir.toLowerCase().normalize('NFC'));
        }
        // Distinct even where case and normal form do not count.
        assert.equal(dirs.size, HOSTILE.length);
        assert.deepEqual(await listLocalFolders(other, rules), HOSTILE.map(display).sort());
        if (platform === 'win32') {
          for (const dir of dirs) {
            const rel = path.relative(other.toLowerCase(), dir);
            for (const level of rel.split(path.sep)) {
              assert.doesNotMatch(level, /[<>:"\\|?*]|[. ]$|^(con|nul)(\.|$)/, level);
            }
          }
        }
      } finally {
        await fs.rm(other, { recursive: true, force: true });
      }
    });
  }
});

describe('a server whose hierarchy delimiter is "."', function () {
  let fixture: SyncFixture;

  before(async () => {
    fixture = await startSyncFixture({
      dovecot: { mailboxNames: 'any', separator: '.' },
      mail: oneMessageEach(['a/b', 'a.b', 'Archive.2024'], 400),
    });
  });

  after(async () => fixture?.cleanup());

  it('keeps a "/" inside a name apart from the hierarchy', async () => {
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
    const paths = fixture.state.folders('a').map((f) => f.path);
    for (const p of ['a\\/b', 'a/b', 'Archive/2024']) assert.ok(paths.includes(p), p);
    const root = fixture.account.maildir;
    assert.equal((await readMaildirFolder(path.join(root, 'a%2Fb'))).length, 1);
    assert.equal((await readMaildirFolder(path.join(root, 'a', 'b'))).length, 1);
    assert.equal((await readMaildirFolder(path.join(root, 'Archive', '2024'))).length, 1);
  });

  it('refuses, naming it, a folder made here whose name holds the delimiter', async () => {
    const dir = path.join(fixture.account.maildir, 'v1.2');
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(dir, sub), { recursive: true });
    const { done, errors } = await fixture.sync();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'FOLDER_NAME_INVALID');
    assert.match(errors[0]!.message, /"v1\.2".*delimiter "\."/);
    // What to do is here, not on the server.
    assert.match(errors[0]!.hint, /Rename the folder's directory in the Maildir.*no "\."/);
    assert.equal(done.stats.foldersFailed, 1);
    assert.equal(done.result, 'error');
  });

  it('watches with IDLE a folder named in idleFolders by its display path (Archive/2024)', async () => {
    const account = { ...fixture.account, idleFolders: ['Archive/2024'], syncIntervalSeconds: 0 };
    const engine = fixture.engine(account);
    let watching = false;
    const log: SyncLogger = {
      ...silentLogger,
      info: (_fields: object, message: string) =>
        void (watching ||= /watching folder/.test(message)),
      child: () => log,
    };
    const scheduler = new SyncScheduler(engine, [account], log);
    try {
      scheduler.start();
      await eventually('the watch of Archive.2024', async () => watching);
      await fixture.dovecot.appendMessages(oneMessageEach(['Archive.2024'], 410));
      const dir = path.join(fixture.account.maildir, 'Archive', '2024');
      await eventually('the new message synced', async () => {
        return (await readMaildirFolder(dir)).length === 2;
      });
    } finally {
      await scheduler.stop();
      await engine.stop();
    }
  });
});

describe('two directories that store one folder name', function () {
  let fixture: SyncFixture;
  const dirOf = (entry: string) => path.join(fixture.account.maildir, entry);

  async function makeFolderDir(entry: string, messages: number, seed: number): Promise<void> {
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(dirOf(entry), sub), { recursive: true });
    for (let i = 0; i < messages; i++) {
      await fs.writeFile(
        path.join(dirOf(entry), 'new', `1700000000.twin${seed + i}.host`),
        crlfToLf(generateMessage(seed + i)),
      );
    }
  }

  before(async () => {
    fixture = await startSyncFixture({ dovecot: { mailboxNames: 'any' } });
  });

  after(async () => fixture?.cleanup());

  it('syncs a folder from a directory named in another spelling', async () => {
    await makeFolderDir('%41lpha', 3, 500);
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.equal(done.stats.uploaded, 3);
    assert.equal((await fixture.dovecot.listMessages('Alpha')).length, 3);
  });

  it('stops syncing the folder, deleting nothing, once a second directory stores its name', async () => {
    await makeFolderDir('Alpha', 0, 0);
    const { done, errors } = await fixture.sync();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'FOLDER_NAME_INVALID');
    assert.equal(errors[0]!.folder, 'Alpha');
    assert.match(errors[0]!.message, /"%41lpha", "Alpha"/);
    assert.match(errors[0]!.hint, /Move the messages/);
    assert.equal(done.stats.expungedRemote, 0);
    assert.equal((await fixture.dovecot.listMessages('Alpha')).length, 3);
    const kept = await readMaildirFolder(dirOf('%41lpha'));
    assert.equal(kept.length, 3);
  });

  it('syncs it again, with nothing lost, once one directory is left', async () => {
    await fs.rm(dirOf('Alpha'), { recursive: true });
    const { done, errors } = await fixture.sync();
    assert.deepEqual(errors, []);
    assert.deepEqual(
      [done.stats.expungedRemote, done.stats.uploaded, done.stats.downloaded],
      [0, 0, 0],
    );
    assert.equal((await fixture.dovecot.listMessages('Alpha')).length, 3);
    assert.equal((await readMaildirFolder(dirOf('%41lpha'))).length, 3);
  });
});
