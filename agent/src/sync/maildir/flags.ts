/**
 * IMAP system flags ↔ the Maildir info suffix (":2," followed by flag letters in ASCII order,
 * as the Maildir specification and every reader of it expect).
 */

const LETTER_OF_FLAG: ReadonlyMap<string, string> = new Map([
  ['\\Draft', 'D'],
  ['\\Flagged', 'F'],
  ['$Forwarded', 'P'], // "passed": resent/forwarded
  ['\\Answered', 'R'],
  ['\\Seen', 'S'],
  ['\\Deleted', 'T'], // "trashed"
]);

const FLAG_OF_LETTER: ReadonlyMap<string, string> = new Map(
  [...LETTER_OF_FLAG].map(([flag, letter]) => [letter, flag]),
);

/** The Maildir letters for a set of IMAP flags; flags without a letter are left out. */
export function maildirLetters(flags: Iterable<string>): string {
  const letters: string[] = [];
  for (const flag of flags) {
    const letter = LETTER_OF_FLAG.get(flag) ?? LETTER_OF_FLAG.get(canonicalSystemFlag(flag));
    if (letter && !letters.includes(letter)) letters.push(letter);
  }
  return letters.sort().join('');
}

/** The IMAP flags a Maildir info suffix stands for (unknown letters are ignored). */
export function imapFlagsOfLetters(letters: string): string[] {
  const flags: string[] = [];
  for (const letter of letters) {
    const flag = FLAG_OF_LETTER.get(letter);
    if (flag && !flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

/** Flags that are not one of the six letters: kept in the sync state, not in the file name. */
export function keywordsWithoutLetter(flags: Iterable<string>): string[] {
  const out: string[] = [];
  for (const flag of flags) {
    if (flag === '\\Recent') continue; // session-only, never stored
    if (!LETTER_OF_FLAG.has(flag) && !LETTER_OF_FLAG.has(canonicalSystemFlag(flag))) out.push(flag);
  }
  return out;
}

/** System flags are case-insensitive in IMAP (\SEEN = \Seen). */
function canonicalSystemFlag(flag: string): string {
  if (!flag.startsWith('\\')) return flag;
  const lower = flag.toLowerCase();
  for (const known of LETTER_OF_FLAG.keys()) if (known.toLowerCase() === lower) return known;
  return flag;
}

/** Splits "base:2,FS" into its unique base name and its flag letters. */
export function splitMaildirName(
  name: string,
  separator: InfoSeparator = ':',
): { base: string; letters: string } {
  const marker = name.lastIndexOf(`${separator}2,`);
  if (marker < 0) return { base: name, letters: '' };
  return { base: name.slice(0, marker), letters: name.slice(marker + 3) };
}

export function maildirName(base: string, letters: string, separator: InfoSeparator = ':'): string {
  return `${base}${separator}2,${letters}`;
}

/**
 * The character between a Maildir file's unique name and its "2,FLAGS" info. The Maildir
 * convention's ":" cannot be in a Windows file name; other Maildir tools there use ";" or "!".
 * A store keeps the one it started with (recorded in the state), or its files would no
 * longer parse.
 */
export type InfoSeparator = ':' | ';' | '!';
export const INFO_SEPARATORS: readonly InfoSeparator[] = [':', ';', '!'];

export function defaultInfoSeparator(platform: NodeJS.Platform = process.platform): InfoSeparator {
  return platform === 'win32' ? ';' : ':';
}

/** Refuses a separator the platform cannot have in a file name, naming the setting. */
export function checkInfoSeparator(
  separator: string,
  platform: NodeJS.Platform = process.platform,
): InfoSeparator {
  if (!(INFO_SEPARATORS as readonly string[]).includes(separator))
    throw new Error(`maildirInfoSeparator: expected one of ":", ";", "!", got "${separator}"`);
  if (separator === ':' && platform === 'win32')
    throw new Error('maildirInfoSeparator: ":" cannot be used in file names on Windows');
  return separator as InfoSeparator;
}
