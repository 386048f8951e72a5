import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CrlfToLfConverter,
  CrlfToLfInSlices,
  crlfToLf,
  crlfToLfInPlace,
  lfToCrlf,
  sizeAfterLfToCrlf,
  sizeBeforeCrlfToLf,
} from '../../agent/src/sync/maildir/crlf.js';
import {
  imapFlagsOfLetters,
  keywordsWithoutLetter,
  maildirLetters,
  splitMaildirName,
} from '../../agent/src/sync/maildir/flags.js';
import { folderDirectory } from '../../agent/src/sync/maildir/folder-path.js';
import { MaildirFolder, uniqueBaseName } from '../../agent/src/sync/maildir/maildir-folder.js';
import { folderSelected } from '../../agent/src/sync/folder-filter.js';
import { ListingDigest, readListingDigest } from '../../agent/src/sync/maildir/listing-digest.js';
import fc from 'fast-check';
import {
  folderMark,
  markOf,
  SETTLED_AFTER_MS,
  SETTLED_AFTER_MS_FINE,
} from '../../agent/src/sync/maildir/folder-mark.js';

describe('CRLF → LF', () => {
  it('turns CRLF pairs into LF and leaves lone CR, lone LF and NUL alone', () => {
    const input = Buffer.from('a\r\nb\rc\nd\0e\r\r\nf\r');
    assert.deepEqual(crlfToLf(input), Buffer.from('a\nb\rc\nd\0e\r\nf\r'));
  });

  it('returns the same bytes when there is nothing to convert', () => {
    const input = Buffer.from('no line ends, \x80\xff binary');
    assert.equal(crlfToLf(input), input);
  });

  it('gives the same result streamed in chunks split anywhere, including between CR and LF', () => {
    const input = Buffer.from('Subject: x\r\n\r\nline\r\r\nend\r\n\r');
    const whole = crlfToLf(input);
    for (let split = 0; split <= input.length; split++) {
      const converter = new CrlfToLfConverter();
      const out = Buffer.concat([
        converter.push(input.subarray(0, split)),
        converter.push(input.subarray(split)),
        converter.end(),
      ]);
      assert.deepEqual(out, whole, `split at ${split}`);
    }
  });

  it('measures without converting: the size after lfToCrlf, and the size a stored copy had', () => {
    for (const text of ['', 'a', '\n', 'a\nb\r\nc\r\r\nd\re\n', '\r\n\n\r']) {
      const data = Buffer.from(text, 'latin1');
      assert.equal(sizeAfterLfToCrlf(data), lfToCrlf(data).length, JSON.stringify(text));
    }
    // Stored from "a\r\r\nb\r\n" as "a\r\nb\n": lfToCrlf gives back one byte less.
    const served = Buffer.from('a\r\r\nb\r\n', 'latin1');
    const stored = crlfToLf(served);
    assert.equal(sizeBeforeCrlfToLf(stored), served.length);
    assert.equal(lfToCrlf(stored).length, served.length - 1);
  });

  it('restores CRLF for APPEND so a CRLF-only message round-trips exactly', () => {
    const original = Buffer.from('From: a\r\nTo: b\r\n\r\nbody\r\n');
    assert.deepEqual(lfToCrlf(crlfToLf(original)), original);
  });
  // The conversions are written for speed; these byte-at-a-time versions say what they mean.
  const referenceCrlfToLf = (input: Uint8Array): Buffer => {
    const out: number[] = [];
    for (let i = 0; i < input.length; i++) {
      if (input[i] === 0x0d && input[i + 1] === 0x0a) continue;
      out.push(input[i]!);
    }
    return Buffer.from(out);
  };
  const referenceLfToCrlf = (input: Uint8Array): Buffer => {
    const out: number[] = [];
    for (let i = 0; i < input.length; i++) {
      if (input[i] === 0x0a && (i === 0 || input[i - 1] !== 0x0d)) out.push(0x0d);
      out.push(input[i]!);
    }
    return Buffer.from(out);
  };
  // Bytes drawn mostly from CR, LF and NUL so that every arrangement of them turns up.
  const lineBytes = fc
    .array(fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x00, 0x41), fc.integer({ min: 0, max: 255 })), {
      maxLength: 200,
    })
    .map((bytes) => Uint8Array.from(bytes));

  it('agrees with a byte-by-byte conversion on any bytes, both ways and streamed', () => {
    fc.assert(
      fc.property(lineBytes, fc.nat(), (bytes, cut) => {
        assert.deepEqual(Buffer.from(crlfToLf(bytes)), referenceCrlfToLf(bytes));
        assert.deepEqual(
          Buffer.from(crlfToLfInPlace(Buffer.from(bytes))),
          referenceCrlfToLf(bytes),
        );
        assert.deepEqual(Buffer.from(lfToCrlf(bytes)), referenceLfToCrlf(bytes));
        const split = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const converter = new CrlfToLfConverter();
        const streamed = Buffer.concat([
          converter.push(bytes.subarray(0, split)),
          converter.push(bytes.subarray(split)),
          converter.end(),
        ]);
        assert.deepEqual(streamed, referenceCrlfToLf(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('converts a body in slices where they lie, a CR at any slice end held for the next', () => {
    fc.assert(
      fc.property(lineBytes, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...at, bytes.length];
        const converter = new CrlfToLfInSlices();
        const pieces: Buffer[] = [];
        // Slices of one buffer, as a socket's chunk is sliced into bodies.
        const chunk = Buffer.from(bytes);
        for (let i = 0; i + 1 < bounds.length; i++) {
          pieces.push(...converter.push(chunk.subarray(bounds[i], bounds[i + 1])));
        }
        pieces.push(...converter.end());
        assert.deepEqual(Buffer.concat(pieces), referenceCrlfToLf(bytes));
        assert.ok(
          pieces.every((p) => p.length > 0),
          'no empty pieces to write',
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Maildir flags', () => {
  it('maps IMAP system flags to sorted letters and back', () => {
    assert.equal(
      maildirLetters(['\\Seen', '\\Flagged', '\\Answered', '\\Draft', '$Forwarded', '\\Deleted']),
      'DFPRST',
    );
    assert.equal(maildirLetters(['\\SEEN', '\\seen', '$Label1']), 'S');
    assert.deepEqual(imapFlagsOfLetters('FS').sort(), ['\\Flagged', '\\Seen']);
    assert.deepEqual(keywordsWithoutLetter(['\\Seen', '\\Recent', '$Label1', 'Work']), [
      '$Label1',
      'Work',
    ]);
  });

  it('splits a file name into its base and letters', () => {
    assert.deepEqual(splitMaildirName('123.M1P2Q3.host,S=10:2,FS'), {
      base: '123.M1P2Q3.host,S=10',
      letters: 'FS',
    });
    assert.deepEqual(splitMaildirName('no-info'), { base: 'no-info', letters: '' });
  });
});

describe('folder paths', () => {
  it('nests hierarchy levels as directories', () => {
    assert.equal(folderDirectory('/m', 'Archive/2024'), path.join('/m', 'Archive', '2024'));
  });

  it('escapes names that would escape or collide with Maildir subdirectories', () => {
    const cases: Array<[string, string[]]> = [
      ['..', ['%2E.']],
      ['a/../b', ['a', '%2E.', 'b']],
      ['.', ['%2E']],
      ['INBOX/cur', ['INBOX', '%63ur']],
      ['x\0y', ['x%00y']],
    ];
    for (const [display, entries] of cases)
      assert.equal(folderDirectory('/m', display), path.join('/m', ...entries), display);
  });

  it('refuses an empty hierarchy level, naming the folder', () => {
    assert.throws(() => folderDirectory('/m', 'a//b'), /Folder "a\/\/b".*empty hierarchy level/);
  });

  it('selects folders with IMAP wildcards', () => {
    const sel = { include: ['INBOX', 'Archive/%'], exclude: ['Archive/Old'] };
    assert.equal(folderSelected('INBOX', sel), true);
    assert.equal(folderSelected('inbox', sel), true);
    assert.equal(folderSelected('Archive/2024', sel), true);
    assert.equal(folderSelected('Archive/2024/Q1', sel), false);
    assert.equal(folderSelected('Archive/Old', sel), false);
    assert.equal(folderSelected('Sent', { include: ['*'], exclude: [] }), true);
  });
});

describe('MaildirFolder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-maildir-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('delivers a batch through tmp/ into cur/ with the info suffix, nothing left in tmp/', async () => {
    const folder = new MaildirFolder(path.join(dir, 'INBOX'));
    folder.ensure();
    const batch = [
      { base: uniqueBaseName(3), letters: 'S', data: Buffer.from('one') },
      { base: uniqueBaseName(3), letters: '', data: Buffer.from('two') },
    ];
    assert.notEqual(batch[0]!.base, batch[1]!.base);
    await folder.writeToTmp(batch);
    assert.equal((await fs.readdir(path.join(folder.dir, 'tmp'))).length, 2);
    await folder.publish(batch);
    assert.deepEqual(await fs.readdir(path.join(folder.dir, 'tmp')), []);
    const cur = (await fs.readdir(path.join(folder.dir, 'cur'))).sort();
    assert.deepEqual(cur, [`${batch[0]!.base}:2,S`, `${batch[1]!.base}:2,`].sort());
    assert.equal(
      await fs.readFile(path.join(folder.dir, 'cur', `${batch[0]!.base}:2,S`), 'utf8'),
      'one',
    );
    const scanned = await folder.scan();
    assert.equal(scanned.get(batch[0]!.base)?.letters, 'S');
  });

  it('writes files one by one, syncs them as a batch, and removes the batch when one fails', async () => {
    const folder = new MaildirFolder(path.join(dir, 'INBOX'));
    folder.ensure();
    const tmp = path.join(folder.dir, 'tmp');
    const one = { base: uniqueBaseName(3), letters: 'S', data: Buffer.from('one') };
    const two = { base: uniqueBaseName(3), letters: '', data: Buffer.from('two') };
    await folder.writeTmpUnsynced(one);
    await folder.writeTmpUnsynced(two);
    assert.equal((await fs.stat(path.join(tmp, one.base))).mode & 0o777, 0o600);
    await folder.syncTmp([one.base, two.base]);
    await folder.publish([one, two]);
    assert.equal(await fs.readFile(path.join(folder.dir, 'cur', `${two.base}:2,`), 'utf8'), 'two');

    // A file that cannot be synced (here: gone) fails the batch, and none of it stays behind.
    const three = { base: uniqueBaseName(5), letters: '', data: Buffer.from('three') };
    await folder.writeTmpUnsynced(three);
    await assert.rejects(folder.syncTmp([three.base, 'missing-file']), { code: 'ENOENT' });
    assert.deepEqual(await fs.readdir(tmp), []);
  });

  it('finishes a delivery interrupted after commit and sweeps only stale files of ours', async () => {
    const folder = new MaildirFolder(path.join(dir, 'F'));
    folder.ensure();
    const committed = { base: uniqueBaseName(1), letters: 'F', data: Buffer.from('x') };
    await folder.writeToTmp([committed]);
    assert.equal(await folder.recoverFromTmp(committed.base, 'F'), true);
    assert.ok((await folder.scan()).has(committed.base));
    // a file another program is delivering right now must survive the sweep
    await fs.writeFile(path.join(folder.dir, 'tmp', 'mutt-delivery-123'), 'in progress');
    // a file of ours from a dead process (another pid) is swept
    const stale = uniqueBaseName(1).replace(`P${process.pid}Q`, 'P999999999Q');
    await fs.writeFile(path.join(folder.dir, 'tmp', stale), 'partial');
    assert.equal(await folder.sweepTmp(() => false), 1);
    assert.deepEqual(await fs.readdir(path.join(folder.dir, 'tmp')), ['mutt-delivery-123']);
  });
  it('gives files that share a base one each, leaving the held one and one file seen twice', async () => {
    const folder = new MaildirFolder(path.join(dir, 'INBOX'));
    folder.ensure();
    const put = (subdir: string, name: string, data: string) =>
      fs.writeFile(path.join(folder.dir, subdir, name), data);
    await put('new', 'a', 'held (10B)');
    await put('cur', 'a:2,S', 'another one');
    await put('cur', 'b:2,', 'only one');
    // The same file under both names (moved from new/ to cur/ between the two listings).
    await put('new', 'c', 'same file');
    await fs.link(path.join(folder.dir, 'new', 'c'), path.join(folder.dir, 'cur', 'c:2,S'));

    const files = await folder.scan();
    const renamed = await folder.separateSharedBases(files, (base) => (base === 'a' ? 10 : null));
    assert.equal(renamed.size, 1);
    const [[fresh, moved]] = [...renamed];
    assert.deepEqual([moved.subdir, moved.letters], ['cur', 'S']);
    assert.equal(
      await fs.readFile(path.join(folder.dir, 'cur', moved.name), 'utf8'),
      'another one',
    );
    assert.deepEqual(files.get('a'), { subdir: 'new', name: 'a', letters: '' });
    assert.deepEqual(files.get(fresh), moved);
    assert.deepEqual([...files.keys()].sort(), ['a', 'b', 'c', fresh].sort());
    // The next scan finds each once; nothing is left to separate.
    const again = await folder.scan();
    assert.equal(again.size, 4);
    assert.equal((await folder.separateSharedBases(again, () => null)).size, 0);
  });
});

describe('listing digests', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-listing-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const name = fc.stringMatching(/^[0-9A-Za-z.,=_:-]{1,40}$/).filter((n) => !n.startsWith('.'));
  const entry = fc.tuple(fc.constantFrom('cur' as const, 'new' as const), name);

  it('depends on the set of names only, not on the order they were added or removed in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: ([s, n]) => `${s}/${n}` }), (entries) => {
        const forwards = ListingDigest.empty();
        for (const [subdir, n] of entries) forwards.add(subdir, n);
        const backwards = ListingDigest.empty();
        for (const [subdir, n] of [...entries].reverse()) backwards.add(subdir, n);
        assert.ok(forwards.equals(backwards));
        assert.ok(ListingDigest.parse(forwards.toString())!.equals(forwards));
        for (const [subdir, n] of entries) forwards.remove(subdir, n);
        assert.ok(forwards.equals(ListingDigest.empty()));
      }),
    );
  });

  it('changes with a rename, a move between cur/ and new/, an extra or a missing file', () => {
    const base = () => {
      const d = ListingDigest.empty();
      d.add('cur', '1.M1P1Q1.host:2,S');
      d.add('new', '2.M2P2Q2.host');
      return d;
    };
    const renamed = base();
    renamed.remove('cur', '1.M1P1Q1.host:2,S');
    renamed.add('cur', '1.M1P1Q1.host:2,FS');
    const moved = base();
    moved.remove('new', '2.M2P2Q2.host');
    moved.add('cur', '2.M2P2Q2.host');
    const extra = base();
    extra.add('new', '3.M3P3Q3.host');
    const missing = base();
    missing.remove('new', '2.M2P2Q2.host');
    const all = [base(), renamed, moved, extra, missing].map(String);
    assert.equal(new Set(all).size, all.length, all.join(' '));
    assert.equal(ListingDigest.parse('not a digest'), null);
  });

  it('read from the directories equals the one followed through a folder’s own changes', async () => {
    const folder = new MaildirFolder(path.join(dir, 'INBOX'));
    folder.ensure();
    const one = { base: uniqueBaseName(3), letters: 'S', data: Buffer.from('one') };
    const two = { base: uniqueBaseName(3), letters: '', data: Buffer.from('two') };
    await folder.writeToTmp([one, two]);
    await folder.publish([one, two]);
    await fs.writeFile(path.join(folder.dir, 'new', 'elsewhere.M1P1Q1.host'), 'three');
    await fs.writeFile(path.join(folder.dir, 'cur', '.hidden'), 'not a message');
    // Dot files are no messages: the listing read and the scan agree on what counts.
    const before = await readListingDigest(folder.dir);
    await folder.scan();
    assert.ok(folder.lastScannedListing()!.equals(before));

    folder.expectListing(before);
    const files = await folder.scan();
    const three = { base: uniqueBaseName(5), letters: 'F', data: Buffer.from('three') };
    await folder.writeToTmp([three]);
    await folder.publish([three]);
    await folder.applyChanges(
      [
        { from: files.get(one.base)!, base: one.base, letters: 'FS' },
        { from: files.get('elsewhere.M1P1Q1.host')!, base: 'elsewhere.M1P1Q1.host', letters: 'S' },
      ],
      [files.get(two.base)!],
    );
    const after = await readListingDigest(folder.dir);
    assert.ok(!after.equals(before));
    assert.ok(folder.expectedListing()!.equals(after), `${folder.expectedListing()} ${after}`);
    // A change made by another program is not in the digest the folder followed.
    await fs.rename(
      path.join(folder.dir, 'cur', `${three.base}:2,F`),
      path.join(folder.dir, 'cur', `${three.base}:2,FS`),
    );
    assert.ok(!folder.expectedListing()!.equals(await readListingDigest(folder.dir)));
  });
});

describe('folder marks', () => {
  const NOW = 1_764_500_000_000; // ms
  const dir = (changedMsAgo: number, subMs: bigint) => {
    const t = BigInt(NOW - changedMsAgo) * 1_000_000n + subMs;
    return { ino: 7n, mtimeNs: t, ctimeNs: t };
  };

  it('trusts a mark after a few ms where the file system keeps sub-millisecond times', () => {
    const fresh = markOf([dir(10, 123_456n), dir(5_000, 1n)], NOW);
    assert.equal(fresh.settled, false);
    assert.ok(fresh.settlesInMs > 0 && fresh.settlesInMs <= SETTLED_AFTER_MS_FINE - 10 + 1);
    const quiet = markOf([dir(SETTLED_AFTER_MS_FINE + 1, 123_456n), dir(5_000, 1n)], NOW);
    assert.equal(quiet.settled, true);
    assert.equal(quiet.settlesInMs, 0);
  });

  it('waits seconds where times are whole seconds or milliseconds (FAT, HFS+, ext3)', () => {
    const coarse = markOf([dir(1_000, 0n), dir(5_000, 0n)], NOW);
    assert.equal(coarse.settled, false);
    assert.ok(coarse.settlesInMs > SETTLED_AFTER_MS - 1_000 - 1, String(coarse.settlesInMs));
    // One coarse time is enough to distrust the file system's clock.
    assert.equal(markOf([dir(1_000, 5n), dir(1_000, 0n)], NOW).settled, false);
    assert.equal(markOf([dir(SETTLED_AFTER_MS + 1, 0n), dir(5_000, 0n)], NOW).settled, true);
  });

  describe("asking the file system's own clock", () => {
    let folder: string;
    beforeEach(async () => {
      folder = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-mark-'));
      for (const sub of ['cur', 'new', 'tmp']) await fs.mkdir(path.join(folder, sub));
      await fs.writeFile(path.join(folder, 'cur', '1.a.host:2,'), 'x');
    });
    afterEach(() => fs.rm(folder, { recursive: true, force: true }));

    /** A change to cur/ now: a flag renamed, as a pass does. */
    let renames = 0;
    const renameFlag = async () => {
      const [name] = await fs.readdir(path.join(folder, 'cur'));
      renames += 1;
      await fs.rename(
        path.join(folder, 'cur', name!),
        path.join(folder, 'cur', `1.a.host:2,${renames % 2 ? 'S' : ''}`),
      );
    };
    /** Polls a probing mark until it is settled; `now` stands in for Date.now(). */
    const settledByProbe = async (now?: number) => {
      for (let tries = 0; tries < 100; tries++) {
        const mark = await folderMark(folder, { probeClock: true, now });
        assert.ok(mark);
        if (mark.settled) return mark;
        await sleep(Math.min(mark.settlesInMs, 10));
      }
      assert.fail('the probing mark never settled');
    };

    it('settles once that clock has passed the last change, whatever Date.now() says', async () => {
      await renameFlag();
      // As if Date.now() lagged 10 s behind the file system: the window alone would wait.
      const lagging = Date.now() - 10_000;
      assert.equal((await folderMark(folder, { now: lagging }))!.settled, false);
      const probed = await settledByProbe(lagging);
      assert.equal(
        probed.mark,
        (await folderMark(folder))!.mark,
        'the mark of the same directories',
      );
      // tmp/ is untouched apart from its change time: no file was left there.
      assert.deepEqual(await fs.readdir(path.join(folder, 'tmp')), []);
    });

    it('waits out the window where the clock cannot be asked (no tmp/)', async () => {
      await fs.rmdir(path.join(folder, 'tmp'));
      await renameFlag();
      const mark = await folderMark(folder, { probeClock: true, now: Date.now() - 10_000 });
      assert.equal(mark!.settled, false);
      assert.ok(mark!.settlesInMs > 1_000, String(mark!.settlesInMs));
    });

    it('leaves a tmp/ with a set-group-ID bit alone (a chmod could drop it)', async () => {
      const tmp = path.join(folder, 'tmp');
      await fs.chmod(tmp, 0o2750);
      await renameFlag();
      const mark = await folderMark(folder, { probeClock: true, now: Date.now() - 10_000 });
      assert.equal(mark!.settled, false);
      assert.ok(mark!.settlesInMs > 1_000, String(mark!.settlesInMs));
      assert.equal((await fs.stat(tmp)).mode & 0o7777, 0o2750);
    });

    it('moves with a change made right after it settled', async () => {
      for (let round = 0; round < 20; round++) {
        await renameFlag();
        const settled = await settledByProbe();
        await renameFlag();
        assert.notEqual((await folderMark(folder))!.mark, settled.mark, `round ${round}`);
      }
    });
  });

  it('differs when a directory is replaced or changed, even within the same second', () => {
    const a = markOf([dir(100, 1n), dir(100, 1n)], NOW).mark;
    assert.notEqual(markOf([dir(100, 2n), dir(100, 1n)], NOW).mark, a);
    assert.notEqual(markOf([{ ...dir(100, 1n), ino: 8n }, dir(100, 1n)], NOW).mark, a);
  });
});
