import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  defaultCacheDirFor,
  defaultConfigFileFor,
  defaultDataDirFor,
} from '../../agent/src/platform-paths.js';
import {
  eachInSlices,
  renameDurably,
  renameHere,
} from '../../agent/src/sync/maildir/durable-fs.js';
import { checkInfoSeparator, splitMaildirName } from '../../agent/src/sync/maildir/flags.js';
import {
  maildirHostPart,
  MaildirFolder,
  uniqueBaseName,
} from '../../agent/src/sync/maildir/maildir-folder.js';
import { openLocalFolder } from '../../agent/src/sync/maildir/open-local-folder.js';
import { folderDirectory, FULL_NAME_FILE } from '../../agent/src/sync/maildir/folder-path.js';
import { listLocalFolders } from '../../agent/src/sync/maildir/local-folders.js';
import { StateDb } from '../../agent/src/sync/state-db.js';
import { parseConfig } from '../../agent/src/config/load.js';

describe('default places per platform', () => {
  const linux = { platform: 'linux' as const, env: {}, home: '/home/u' };
  const mac = { platform: 'darwin' as const, env: {}, home: '/Users/u' };
  const win = {
    platform: 'win32' as const,
    env: { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' },
    home: 'C:\\Users\\u',
  };

  it('follow XDG on Linux, Application Support on macOS, %LOCALAPPDATA% on Windows', () => {
    assert.equal(defaultConfigFileFor(linux), '/home/u/.config/storesync/config.json');
    assert.equal(defaultDataDirFor(linux), '/home/u/.local/share/storesync');
    const xdg = { ...linux, env: { XDG_CONFIG_HOME: '/c', XDG_DATA_HOME: 'relative' } };
    assert.equal(defaultConfigFileFor(xdg), '/c/storesync/config.json');
    assert.equal(defaultDataDirFor(xdg), '/home/u/.local/share/storesync');
    assert.equal(
      defaultConfigFileFor(mac),
      '/Users/u/Library/Application Support/StoreSync/config.json',
    );
    assert.equal(defaultDataDirFor(mac), '/Users/u/Library/Application Support/StoreSync');
    assert.equal(defaultConfigFileFor(win), 'C:\\Users\\u\\AppData\\Local\\StoreSync\\config.json');
    assert.equal(defaultDataDirFor(win), 'C:\\Users\\u\\AppData\\Local\\StoreSync');
    assert.equal(defaultDataDirFor({ ...win, env: {} }), 'C:\\Users\\u\\AppData\\Local\\StoreSync');
  });

  it('keep caches where each platform keeps files that may be deleted any time', () => {
    assert.equal(defaultCacheDirFor(linux), '/home/u/.cache/storesync');
    assert.equal(defaultCacheDirFor({ ...linux, env: { XDG_CACHE_HOME: '/x' } }), '/x/storesync');
    assert.equal(
      defaultCacheDirFor({ ...linux, env: { XDG_CACHE_HOME: 'x' } }),
      '/home/u/.cache/storesync',
    );
    assert.equal(defaultCacheDirFor(mac), '/Users/u/Library/Caches/StoreSync');
    assert.equal(defaultCacheDirFor(win), 'C:\\Users\\u\\AppData\\Local\\StoreSync\\Cache');
  });
});

describe('renames on Windows', () => {
  const busy = () => Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });

  it('retry while another process holds the file, then succeed', async () => {
    let attempts = 0;
    const waits: number[] = [];
    await renameDurably('a', 'b', {
      platform: 'win32',
      rename: async () => {
        if (++attempts < 4) throw busy();
      },
      sleep: async (ms) => void waits.push(ms),
    });
    assert.equal(attempts, 4);
    assert.deepEqual(waits, [10, 20, 40]);
  });

  it('give up with the last error when the file stays locked', async () => {
    let attempts = 0;
    await assert.rejects(
      renameDurably('a', 'b', {
        platform: 'win32',
        rename: async () => {
          attempts++;
          throw busy();
        },
        sleep: async () => {},
      }),
      /EBUSY/,
    );
    assert.equal(attempts, 9);
  });

  it('are not retried elsewhere, where EBUSY or EPERM do not pass', async () => {
    let attempts = 0;
    const rename = async () => {
      attempts++;
      throw busy();
    };
    await assert.rejects(renameDurably('a', 'b', { platform: 'linux', rename }), /EBUSY/);
    assert.equal(attempts, 1);
  });

  it('done in place go on to the retries only when Windows refuses for a moment', async () => {
    let inPlace = 0;
    let retried = 0;
    const options = {
      platform: 'win32' as const,
      renameSync: () => {
        inPlace++;
        throw busy();
      },
      rename: async () => {
        if (++retried < 2) throw busy();
      },
      sleep: async () => {},
    };
    const pending = renameHere('a', 'b', options);
    assert.ok(pending instanceof Promise, 'a refused rename is retried, asynchronously');
    await pending;
    assert.deepEqual([inPlace, retried], [1, 2]);
    // Anywhere else, and for any other error on Windows, the first error is the answer.
    assert.throws(() => renameHere('a', 'b', { ...options, platform: 'linux' }), /EBUSY/);
    const missing = () => {
      throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    };
    assert.throws(() => renameHere('a', 'b', { ...options, renameSync: missing }), /ENOENT/);
    assert.equal(retried, 2);
  });
});

describe('quick file-system calls in slices', () => {
  it('run in order, let the event loop turn between slices, and wait for a retry', async () => {
    const items = Array.from({ length: 200 }, (_, i) => i);
    const order: number[] = [];
    // Another task on the event loop (a pane's message, an IDLE notification), every turn.
    let turns = 0;
    let ticking = setImmediate(function tick() {
      turns++;
      ticking = setImmediate(tick);
    });
    const timerRanBetween: boolean[] = [];
    let seenTurns = 0;
    try {
      await eachInSlices(items, (i) => {
        if (i % 64 === 0) {
          timerRanBetween.push(turns > seenTurns);
          seenTurns = turns;
        }
        // One item takes the slow path, as a rename Windows refused: later ones wait for it.
        if (i === 100)
          return new Promise<void>((resolve) => setTimeout(resolve, 5)).then(
            () => void order.push(i),
          );
        order.push(i);
      });
    } finally {
      clearImmediate(ticking);
    }
    assert.deepEqual(order, items);
    // Slices start at 0, 64, 128 and 192; the event loop turned before each but the first.
    assert.deepEqual(timerRanBetween, [false, true, true, true]);
  });

  it('stop at the first error', async () => {
    const done: number[] = [];
    await assert.rejects(
      eachInSlices([1, 2, 3], (i) => {
        if (i === 2) throw new Error('EIO');
        done.push(i);
      }),
      /EIO/,
    );
    assert.deepEqual(done, [1]);
  });
});

describe('Maildir file names on every platform', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-names-'));
  });
  afterEach(async () => fs.rm(dir, { recursive: true, force: true }));

  it('carry no character Windows refuses, with the host escaped per platform', () => {
    assert.equal(maildirHostPart('a/b:c', 'linux'), 'a\\057b\\072c');
    assert.equal(maildirHostPart('a/b:c\\d', 'win32'), 'a_057b_072c_134d');
    const base = uniqueBaseName(10, Date.now(), maildirHostPart('pc:1', 'win32'));
    assert.doesNotMatch(`${base};2,S`, /[<>:"/\\|?*]/);
  });

  it('use the separator recorded for the store, never another one under it', async () => {
    const state = new StateDb(path.join(dir, 'state.db'));
    try {
      assert.equal(state.maildirInfoSeparator('w', ';'), ';');
      assert.equal(state.maildirInfoSeparator('w', ':'), ';');
      assert.equal(state.maildirInfoSeparator('other', '!'), '!');
      const folder = openLocalFolder(state, { id: 'w', maildir: path.join(dir, 'M') }, 'INBOX', {
        create: true,
      });
      assert.equal(folder.infoSeparator, ';');
      folder.ensure();
      const base = uniqueBaseName(3);
      await folder.writeToTmp([{ base, letters: 'FS', data: Buffer.from('one') }]);
      await folder.publish([{ base, letters: 'FS' }]);
      assert.deepEqual(await fs.readdir(path.join(folder.dir, 'cur')), [`${base};2,FS`]);
      const scanned = await new MaildirFolder(folder.dir, { infoSeparator: ';' }).scan();
      assert.equal(scanned.get(base)?.letters, 'FS');
      assert.deepEqual(splitMaildirName(`${base}!2,S`, '!'), { base, letters: 'S' });
    } finally {
      state.close();
    }
  });

  it('refuse a separator the platform cannot use, naming the setting', () => {
    assert.throws(() => checkInfoSeparator(':', 'win32'), /maildirInfoSeparator: ":" cannot/);
    assert.throws(() => checkInfoSeparator('#', 'linux'), /maildirInfoSeparator: expected/);
    assert.equal(checkInfoSeparator('!', 'win32'), '!');
  });
});

describe('a cut folder name whose record is lost', () => {
  it('is named again from the state, never taken for a deleted folder', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-cut-'));
    try {
      const long = `Projects/${'Quarterly report '.repeat(20)}`;
      const dir = folderDirectory(root, long, { create: true });
      await fs.mkdir(path.join(dir, 'cur'));
      assert.deepEqual(await listLocalFolders(root), [long]);

      await fs.rm(path.join(dir, FULL_NAME_FILE));
      // Without the state's help the folder cannot be named: it is left out, not guessed.
      assert.deepEqual(await listLocalFolders(root), []);
      // With it, the folder is found, and its record written again.
      assert.deepEqual(await listLocalFolders(root, undefined, ['INBOX', long]), [long]);
      assert.equal(await fs.readFile(path.join(dir, FULL_NAME_FILE), 'utf8'), long.split('/')[1]);
      assert.deepEqual(await listLocalFolders(root), [long]);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('a Maildir++ folder another program made', () => {
  it('is told of, and is no folder of ours', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-pp-'));
    try {
      for (const dir of [
        'INBOX/cur',
        '.Sent/cur',
        '.Archive.2024/cur',
        '.hidden-not-mail',
        'INBOX/.Sub/cur',
      ])
        await fs.mkdir(path.join(root, dir), { recursive: true });
      const told: string[] = [];
      assert.deepEqual(await listLocalFolders(root, undefined, [], (entry) => told.push(entry)), [
        'INBOX',
      ]);
      // At the top only, where Maildir++ keeps them, and only with a cur/.
      assert.deepEqual(told.sort(), ['.Archive.2024', '.Sent']);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});

describe('the info separator a config asks for', () => {
  it('starts a new store with it, and never changes an existing one', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-sep-'));
    const state = new StateDb(path.join(dir, 'state.db'));
    try {
      const account = { id: 'w', maildir: path.join(dir, 'M'), maildirInfoSeparator: '!' };
      const first = openLocalFolder(state, account, 'INBOX', { create: true });
      assert.ok(first.dir.startsWith(path.join(dir, 'M')));
      assert.equal(state.maildirInfoSeparator('w', ':'), '!');
      // A later config that asks for another one does not rename the store's files under it.
      openLocalFolder(state, { ...account, maildirInfoSeparator: ';' }, 'INBOX');
      assert.equal(state.maildirInfoSeparator('w', ';'), '!');
      assert.throws(
        () =>
          parseConfig(
            {
              dataDir: dir,
              accounts: [
                {
                  id: 'w',
                  imap: { host: 'h', tls: 'none', user: 'u', password: { env: 'X' } },
                  maildir: 'M',
                  maildirInfoSeparator: '#',
                },
              ],
            },
            null,
          ),
        /maildirInfoSeparator/,
      );
    } finally {
      state.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
