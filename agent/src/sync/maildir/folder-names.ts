/**
 * IMAP folder names ↔ directory names, for one platform's file-system rules (passed in, so
 * every platform's rules run in tests anywhere). One hierarchy level is one directory; this
 * module maps a single level's name.
 *
 * The encoding leaves a name alone when it is a valid, unambiguous directory name, so common
 * names ("Sent Items", "Archive") look the same on disk as on the server; otherwise the
 * offending characters become `%XX` (UTF-8 bytes, upper-case hex):
 *   - everywhere: "/" and control characters, a leading "." (".", "..", hidden files), the
 *     Maildir subdirectory names cur/new/tmp, and a "%" that would read as an escape;
 *   - Windows: `< > : " \ | ? *`, a trailing "." or space, and device names (CON, NUL, COM1…);
 *   - macOS: a name not in NFC keeps its non-ASCII characters escaped, since the file
 *     system may hand back either normal form (the decoder reads names as NFC).
 * A name too long for one directory entry is cut and ends in "%~" plus a hash of the full
 * name (which the caller keeps: the cut name alone cannot be decoded). Names that would
 * collide on a case-insensitive file system get "%!2", "%!3"… appended by whoever allocates
 * directories (see chooseDirectoryName), since only the existing siblings can say which.
 */
import { createHash } from 'node:crypto';

export type PlatformName = 'linux' | 'darwin' | 'win32';

export interface FolderNameRules {
  platform: PlatformName;
  /** "Foo" and "foo" are the same entry (macOS and Windows defaults). */
  caseInsensitive: boolean;
  /** NFC and NFD spellings are the same entry, and either may be read back (macOS). */
  normalizationInsensitive: boolean;
  /** Windows' reserved characters, device names and trailing dots/spaces. */
  windowsNames: boolean;
  /** Longest directory entry, in `lengthUnit`s. */
  maxNameLength: number;
  lengthUnit: 'utf8-bytes' | 'utf16-units';
}

const RULES: Record<PlatformName, FolderNameRules> = {
  linux: {
    platform: 'linux',
    caseInsensitive: false,
    normalizationInsensitive: false,
    windowsNames: false,
    maxNameLength: 255,
    lengthUnit: 'utf8-bytes',
  },
  darwin: {
    platform: 'darwin',
    caseInsensitive: true,
    normalizationInsensitive: true,
    windowsNames: false,
    maxNameLength: 255,
    lengthUnit: 'utf8-bytes',
  },
  win32: {
    platform: 'win32',
    caseInsensitive: true,
    normalizationInsensitive: false,
    windowsNames: true,
    maxNameLength: 255,
    lengthUnit: 'utf16-units',
  },
};

/** The rules for a platform; Unix-likes other than macOS follow Linux. */
export function folderNameRules(platform: NodeJS.Platform | PlatformName): FolderNameRules {
  if (platform === 'darwin' || platform === 'win32') return RULES[platform];
  return RULES.linux;
}

export function hostFolderNameRules(): FolderNameRules {
  return folderNameRules(process.platform);
}

/** Room kept below the entry limit so a collision suffix ("%!12345") always fits. */
const COLLISION_ROOM = 8;
const SHORTENED_MARK = '%~';
const COLLISION_MARK = '%!';
const HASH_HEX_LENGTH = 16;

const WINDOWS_RESERVED_CHARS = new Set(['<', '>', ':', '"', '\\', '|', '?', '*']);
const WINDOWS_DEVICE = /^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9¹²³]|LPT[0-9¹²³])$/i;
const MAILDIR_SUBDIRS = new Set(['cur', 'new', 'tmp']);
const HEX_DIGIT = /[0-9A-F]/;
const LONE_SURROGATE = /\p{Cs}/u;

export class FolderNameError extends Error {}

/**
 * More than one directory at a level stores the same folder name (someone made "Alpha" beside
 * an older "%41lpha"). Which one holds the folder only a person can say: syncing either would
 * take the other's messages for deleted here, and delete them on the server.
 */
export class AmbiguousFolderDirectoryError extends FolderNameError {
  constructor(
    readonly folderName: string,
    readonly entries: readonly string[],
  ) {
    super(
      `the directories ${entries.map((e) => `"${e}"`).join(' and ')} both store the name "${folderName}"`,
    );
  }
}

/** The directory name for one hierarchy level's name (before any collision suffix). */
export function encodeFolderName(name: string, rules: FolderNameRules): string {
  if (name === '') throw new FolderNameError('an empty hierarchy level cannot be a directory');
  if (LONE_SURROGATE.test(name))
    throw new FolderNameError('a name with a broken UTF-16 character cannot be a file name');
  const chars = Array.from(name);
  const escapeAllNonAscii = rules.normalizationInsensitive && name !== name.normalize('NFC');
  const base = rules.caseInsensitive ? name.toLowerCase() : name;
  // A device name is reserved whatever follows its first dot ("NUL.txt") on Windows.
  const escapeFirst =
    MAILDIR_SUBDIRS.has(base) ||
    (rules.windowsNames && WINDOWS_DEVICE.test(name.split('.')[0]!.trimEnd()));
  // One token per character of the name, so a cut never splits a character's escape.
  const tokens: string[] = [];
  let afterEscape = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const code = c.codePointAt(0)!;
    const last = i === chars.length - 1;
    const nonAscii = code > 0x7f;
    const mustEscape: boolean =
      (i === 0 && (escapeFirst || c === '.')) ||
      code < 0x20 ||
      code === 0x7f ||
      c === '/' ||
      (c === '%' && i + 1 < chars.length && readsAsEscape(chars[i + 1]!)) ||
      (rules.windowsNames && WINDOWS_RESERVED_CHARS.has(c)) ||
      (rules.windowsNames && last && (c === '.' || c === ' ')) ||
      // macOS: a combining mark right after an escape's hex digit would compose with it.
      (nonAscii && (escapeAllNonAscii || (rules.normalizationInsensitive && afterEscape)));
    tokens.push(mustEscape ? percentEncode(c) : c);
    afterEscape = mustEscape;
  }
  return fitLength(tokens, name, rules);
}

/** A "%" followed by this would be read as the start of an escape or a mark. */
function readsAsEscape(next: string): boolean {
  return HEX_DIGIT.test(next) || next === '~' || next === '!';
}

function percentEncode(c: string): string {
  let out = '';
  for (const byte of Buffer.from(c, 'utf8'))
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function fitLength(tokens: readonly string[], name: string, rules: FolderNameRules): string {
  const limit = rules.maxNameLength - COLLISION_ROOM;
  const encoded = tokens.join('');
  if (lengthOf(encoded, rules) <= limit) return encoded;
  const tail = SHORTENED_MARK + nameHash(name);
  let cut = '';
  for (const token of tokens) {
    if (lengthOf(cut + token + tail, rules) > limit) break;
    cut += token;
  }
  return cut + tail;
}

function lengthOf(text: string, rules: FolderNameRules): number {
  if (rules.lengthUnit === 'utf16-units') return text.length;
  // macOS may store the decomposed form, which can be longer.
  return Buffer.byteLength(rules.normalizationInsensitive ? text.normalize('NFD') : text, 'utf8');
}

export function nameHash(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_HEX_LENGTH);
}

export interface DecodedDirectoryName {
  /** The folder name; for a shortened entry only the part before the cut. */
  name: string;
  /** Set when the entry was cut: the hash of the full name, which the entry cannot give. */
  shortenedHash: string | null;
  /** The entry carries a collision suffix. */
  collisionSuffix: boolean;
}

/**
 * Reads a directory entry back. Lenient: an entry someone else made ("a<b" on Linux, a stray
 * "%") reads as itself, so any directory has a name.
 */
export function decodeDirectoryName(entry: string, rules: FolderNameRules): DecodedDirectoryName {
  let text = rules.normalizationInsensitive ? entry.normalize('NFC') : entry;
  let collisionSuffix = false;
  const collision = /%!\d+$/.exec(text);
  if (collision) {
    collisionSuffix = true;
    text = text.slice(0, collision.index);
  }
  let shortenedHash: string | null = null;
  const shortened = new RegExp(`%~([0-9a-f]{${HASH_HEX_LENGTH}})$`).exec(text);
  if (shortened) {
    shortenedHash = shortened[1]!;
    text = text.slice(0, shortened.index);
  }
  return { name: percentDecode(text), shortenedHash, collisionSuffix };
}

function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    const buf = Buffer.from(bytes);
    const decoded = buf.toString('utf8');
    // Bytes that are not UTF-8 stay as the text they were written as.
    out += Buffer.from(decoded, 'utf8').equals(buf)
      ? decoded
      : bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    bytes = [];
  };
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '%' ? /^[0-9A-F]{2}/.exec(text.slice(i + 1, i + 3)) : null;
    if (hex) {
      bytes.push(parseInt(hex[0], 16));
      i += 2;
      continue;
    }
    flush();
    out += text[i];
  }
  flush();
  return out;
}

/** Two entries are the same file on this file system when their keys are equal. */
export function entryKey(entry: string, rules: FolderNameRules): string {
  let key = rules.normalizationInsensitive ? entry.normalize('NFC') : entry;
  // Upper then lower approximates case folding ("ß" → "SS" → "ss"): erring towards
  // "same" only costs a suffix, erring the other way would merge two folders.
  if (rules.caseInsensitive) key = key.toUpperCase().toLowerCase().normalize('NFC');
  return key;
}

/**
 * The directory entry for `name` in a parent holding `siblings`: the entry already storing
 * it if there is one (so a store never moves), else its encoding, with a collision suffix
 * when that would be the same file as a sibling on this file system. Two entries storing it
 * are an AmbiguousFolderDirectoryError: this never makes a second one.
 */
export function chooseDirectoryName(
  name: string,
  siblings: readonly string[],
  rules: FolderNameRules,
  /** Which siblings are directories (others only take their name); default: all. */
  isDirectory: (entry: string) => boolean = () => true,
): { entry: string; exists: boolean } {
  const encoded = encodeFolderName(name, rules);
  const matches = siblings.filter(
    (s) => isDirectory(s) && isFolderEntry(s, rules) && storesName(s, name, encoded, rules),
  );
  if (matches.length > 1) throw new AmbiguousFolderDirectoryError(name, [...matches].sort());
  if (matches.length === 1) return { entry: matches[0]!, exists: true };
  const taken = new Set(siblings.map((s) => entryKey(s, rules)));
  let entry = encoded;
  for (let n = 2; taken.has(entryKey(entry, rules)); n++) entry = `${encoded}${COLLISION_MARK}${n}`;
  return { entry, exists: false };
}

/**
 * Entries that are never a folder: a parent's own cur/new/tmp, and hidden ones (the encoding
 * never makes a leading ".", so those belong to someone else).
 */
export function isFolderEntry(entry: string, rules: FolderNameRules): boolean {
  if (entry.startsWith('.')) return false;
  return !MAILDIR_SUBDIRS.has(rules.caseInsensitive ? entry.toLowerCase() : entry);
}

/** Whether an existing entry is where `name` lives (its encoding, or a legacy spelling). */
function storesName(entry: string, name: string, encoded: string, rules: FolderNameRules) {
  const decoded = decodeDirectoryName(entry, rules);
  if (decoded.shortenedHash !== null) {
    const withoutSuffix = entry.replace(/%!\d+$/, '');
    const own = rules.normalizationInsensitive ? withoutSuffix.normalize('NFC') : withoutSuffix;
    return own === encoded;
  }
  return decoded.name === name;
}
