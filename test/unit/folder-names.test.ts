import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AmbiguousFolderDirectoryError,
  chooseDirectoryName,
  decodeDirectoryName,
  encodeFolderName,
  entryKey,
  folderNameRules,
  nameHash,
  type FolderNameRules,
  type PlatformName,
} from '../../agent/src/sync/maildir/folder-names.js';
import {
  displayPathOf,
  displaySegments,
  joinDisplayPath,
  serverPathOf,
} from '../../agent/src/sync/maildir/folder-path.js';

const PLATFORMS: PlatformName[] = ['linux', 'darwin', 'win32'];

/** Characters that are trouble somewhere, weighted so that most names contain some. */
const hostileChar = fc.oneof(
  fc.constantFrom(
    '.',
    ' ',
    '/',
    '\\',
    ':',
    '<',
    '>',
    '"',
    '|',
    '?',
    '*',
    '%',
    '~',
    '!',
    '\0',
    '\t',
    '\n',
    '\x7f',
    'A',
    'a',
    'F',
    '0',
    'é',
    'e\u0301',
    '\u0301',
    'ß',
    'İ',
    'ı',
    'Σ',
    'ς',
    '\u{1F4E7}',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const reservedName = fc
  .tuple(
    fc.constantFrom('CON', 'con', 'Nul', 'AUX', 'PRN', 'COM1', 'lpt9', 'COM¹', 'CONIN$', 'cur'),
    fc.constantFrom('', '.txt', ' ', '.', '..'),
  )
  .map(([a, b]) => a + b);
const folderName = fc.oneof(
  fc.string({ unit: hostileChar, minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  reservedName,
  fc.constantFrom('.', '..', '...', '.hidden', 'Sent Items', 'INBOX', 'a%41', 'a%~', 'x%!2'),
  // Past one directory entry's limit, in bytes (multi-byte) or in UTF-16 units.
  fc.string({ unit: hostileChar, minLength: 120, maxLength: 300 }),
);

/** What each platform refuses in a directory entry, checked independently of the encoder. */
function validEntry(entry: string, rules: FolderNameRules): boolean {
  if (entry === '' || entry === '.' || entry === '..' || entry.startsWith('.')) return false;
  if (entry.includes('/') || hasControlCharacter(entry)) return false;
  if (['cur', 'new', 'tmp'].includes(rules.caseInsensitive ? entry.toLowerCase() : entry))
    return false;
  const length =
    rules.lengthUnit === 'utf16-units'
      ? entry.length
      : Buffer.byteLength(rules.normalizationInsensitive ? entry.normalize('NFD') : entry);
  if (length > rules.maxNameLength) return false;
  if (rules.windowsNames) {
    if (/[<>:"\\|?*]/.test(entry) || /[. ]$/.test(entry)) return false;
    if (
      /^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³]|CONIN\$|CONOUT\$)$/i.test(
        entry.split('.')[0]!.trimEnd(),
      )
    )
      return false;
  }
  return true;
}

function hasControlCharacter(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c === '\x7f');
}

/** Decoding gives the name back; a cut entry gives the hash the caller's record must match. */
function decodesTo(entry: string, name: string, rules: FolderNameRules): boolean {
  const decoded = decodeDirectoryName(entry, rules);
  return decoded.shortenedHash === null
    ? decoded.name === name
    : decoded.shortenedHash === nameHash(name) && name.startsWith(decoded.name);
}

for (const platform of PLATFORMS) {
  const rules = folderNameRules(platform);

  describe(`folder names on ${platform}`, () => {
    it('map every name to a valid entry that decodes back to it', () => {
      fc.assert(
        fc.property(folderName, (name) => {
          const entry = encodeFolderName(name, rules);
          assert.ok(validEntry(entry, rules), `invalid entry ${JSON.stringify(entry)}`);
          assert.ok(decodesTo(entry, name, rules), `${JSON.stringify(entry)} ↛ ${name}`);
          if (rules.normalizationInsensitive) {
            // The file system may hand the entry back in either normal form.
            assert.ok(decodesTo(entry.normalize('NFD'), name, rules), 'NFD read-back');
            assert.ok(decodesTo(entry.normalize('NFC'), name, rules), 'NFC read-back');
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('give distinct names distinct entries, also with the entries already there', () => {
      fc.assert(
        fc.property(fc.uniqueArray(folderName, { minLength: 1, maxLength: 12 }), (names) => {
          const entries: string[] = [];
          for (const name of names) {
            const choice = chooseDirectoryName(name, entries, rules);
            assert.equal(choice.exists, false, `${name} found a foreign entry`);
            assert.ok(validEntry(choice.entry, rules), JSON.stringify(choice.entry));
            entries.push(choice.entry);
          }
          // No two are the same file on this file system...
          assert.equal(new Set(entries.map((e) => entryKey(e, rules))).size, entries.length);
          // ...and each name finds its own entry again among all of them.
          names.forEach((name, i) => {
            const again = chooseDirectoryName(name, entries, rules);
            assert.deepEqual(again, { entry: entries[i], exists: true }, name);
          });
        }),
        { numRuns: 500 },
      );
    });
  });
}

describe('folder names: fixed cases', () => {
  const linux = folderNameRules('linux');
  const mac = folderNameRules('darwin');
  const win = folderNameRules('win32');

  it('keep the name a Linux store has always used when nothing needs escaping', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (name) => {
        fc.pre(!/^\.|[/\\]|%[0-9A-F~!]/.test(name) && !hasControlCharacter(name));
        fc.pre(!['cur', 'new', 'tmp'].includes(name) && Buffer.byteLength(name) <= 247);
        assert.equal(encodeFolderName(name, linux), name);
      }),
    );
    for (const name of ['Sent Items', 'Archive', 'Entwürfe', '送信済み', 'a:b', 'a\\b', '100%'])
      assert.equal(encodeFolderName(name, linux), name);
  });

  it('escape what Windows refuses', () => {
    assert.equal(encodeFolderName('a<b>:c"d|e?f*g\\h', win), 'a%3Cb%3E%3Ac%22d%7Ce%3Ff%2Ag%5Ch');
    assert.equal(encodeFolderName('CON', win), '%43ON');
    assert.equal(encodeFolderName('nul.txt', win), '%6Eul.txt');
    assert.equal(encodeFolderName('Notes. ', win), 'Notes.%20');
    assert.equal(encodeFolderName('Notes..', win), 'Notes.%2E');
    assert.equal(encodeFolderName('Sent Items', win), 'Sent Items');
    assert.equal(encodeFolderName('CON', linux), 'CON');
  });

  it('keep NFC and NFD spellings apart on macOS', () => {
    const nfc = 'Caf\u00e9';
    const nfd = 'Cafe\u0301';
    assert.equal(encodeFolderName(nfc, mac), nfc);
    assert.equal(encodeFolderName(nfd, mac), 'Cafe%CC%81');
    assert.equal(decodeDirectoryName(nfc.normalize('NFD'), mac).name, nfc);
    assert.equal(encodeFolderName(nfd, linux), nfd);
  });

  it('give the second of two case-only variants a suffix where case does not count', () => {
    const first = chooseDirectoryName('Foo', [], win);
    const second = chooseDirectoryName('foo', [first.entry], win);
    assert.deepEqual([first.entry, second.entry], ['Foo', 'foo%!2']);
    assert.equal(decodeDirectoryName(second.entry, win).name, 'foo');
    assert.equal(chooseDirectoryName('foo', ['Foo'], linux).entry, 'foo');
  });

  it('refuse to choose between two entries that both store the name', () => {
    // A legacy spelling alone is still the folder's directory...
    assert.deepEqual(chooseDirectoryName('Alpha', ['%41lpha', 'Beta'], linux), {
      entry: '%41lpha',
      exists: true,
    });
    // ...but beside the plain one, either could hold the folder: neither is picked.
    for (const siblings of [
      ['%41lpha', 'Alpha'],
      ['Alpha', '%41lpha'],
      ['&-', '%26-'],
    ]) {
      const name = decodeDirectoryName(siblings[0]!, linux).name;
      assert.throws(
        () => chooseDirectoryName(name, siblings, linux),
        (err: unknown) =>
          err instanceof AmbiguousFolderDirectoryError &&
          err.folderName === name &&
          err.entries.join() === [...siblings].sort().join(),
      );
    }
    // Entries that are not directories only take their name.
    assert.deepEqual(
      chooseDirectoryName('Alpha', ['%41lpha', 'Alpha'], linux, (e) => e === 'Alpha'),
      { entry: 'Alpha', exists: true },
    );
  });

  it('cut a very long name to fit, ending in a hash of the whole name', () => {
    const name = 'ü'.repeat(200);
    const entry = encodeFolderName(name, linux);
    assert.ok(Buffer.byteLength(entry) <= 247);
    assert.match(entry, /^ü+%~[0-9a-f]{16}$/);
    assert.equal(encodeFolderName(name, win), name);
  });
});

describe('display paths', () => {
  it('name exactly one server folder, whatever its levels contain', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: hostileChar, minLength: 1 }), { minLength: 1 }),
        (levels) => {
          assert.deepEqual(displaySegments(joinDisplayPath(levels)), levels);
        },
      ),
    );
    assert.equal(displayPathOf('Archive.2024', '.'), 'Archive/2024');
    assert.equal(displayPathOf('a/b.c', '.'), 'a\\/b/c');
    assert.equal(displayPathOf('Archive/2024', '/'), 'Archive/2024');
    assert.notEqual(displayPathOf('a/b', '.'), displayPathOf('a.b', '.'));
  });

  it('refuse a local folder whose level holds the server delimiter, naming it', () => {
    assert.equal(serverPathOf('Archive/2024', '.'), 'Archive.2024');
    assert.equal(serverPathOf('a\\/b/c', '.'), 'a/b.c');
    assert.throws(() => serverPathOf('v1.2/notes', '.'), /"v1\.2\/notes".*"v1\.2".*delimiter "\."/);
  });
});
