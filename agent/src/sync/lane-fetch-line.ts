/**
 * The one response a download lane reads thousands of times, read without imapflow's parser:
 *
 *   * 12 FETCH (UID 40 FLAGS (\Seen $Forwarded) INTERNALDATE "03-Dec-2026 08:00:00 +0000" BODY[] {2345}
 *
 * in any order of its items, with MODSEQ where CONDSTORE is on. imapflow's parser builds a
 * tree of nodes for each response and its compiler is needed to name their items; over an
 * initial sync that was about a quarter of all the objects the sync made (BENCHMARKS.md).
 * Anything of another shape (another item, a quoted flag, a literal other than the body,
 * bytes outside ASCII) gives null, and the lane parses the response with imapflow as before:
 * this is a shortcut for the usual case, never a second grammar to trust.
 */
import { compiler, parser } from 'imapflow/lib/handler/imap-handler.js';
import type { ImapAttribute, ImapAttributeNode } from 'imapflow/lib/handler/types.js';

export interface LaneFetchItems {
  uid: number | undefined;
  flags: string[];
  internalDate: number | null;
  /** `BODY[] NIL`: the server has no body to give. */
  bodyNil: boolean;
}

const START = /^\* \d{1,10} FETCH \(/y;
// Each item with the space that separates it from the next one, or the closing parenthesis.
const UID = /UID (\d{1,10})(?: |\)$)/y;
// A flag is an atom, with a backslash first for the system ones (RFC 3501 flag-list).
const FLAGS =
  /FLAGS \(((?:\\?[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+(?: (?!\))|(?=\))))*)\)(?: |\)$)/y;
const INTERNALDATE = /INTERNALDATE "([ -!#-[\]-~]{1,64})"(?: |\)$)/y;
const MODSEQ = /MODSEQ \(\d{1,20}\)(?: |\)$)/y;
const BODY = /(?:BODY\[\]|BINARY\[\]|RFC822) (?:~?\{\d{1,15}\+?\}\r?\n|(NIL))(?: |\)$)/y;

/** The items of an untagged FETCH as the lane asks them, or null to parse it fully. */
export function readLaneFetch(text: Buffer): LaneFetchItems | null {
  if (text.length > 4096) return null;
  const line = text.toString('latin1');
  START.lastIndex = 0;
  if (!START.test(line)) return null;
  const items: LaneFetchItems = { uid: undefined, flags: [], internalDate: null, bodyNil: false };
  const seen = new Set<RegExp>();
  let at = START.lastIndex;
  while (at < line.length) {
    const item = ITEMS.find((pattern) => line.startsWith(pattern.prefix, at));
    if (!item || seen.has(item.pattern)) return null;
    seen.add(item.pattern);
    item.pattern.lastIndex = at;
    const match = item.pattern.exec(line);
    if (!match) return null;
    item.take(match, items);
    at = item.pattern.lastIndex;
  }
  // Items are required to end with ")" at the very end of the text, so a text whose last
  // item matched is whole; one with no item at all is not ours.
  return seen.size > 0 && line.endsWith(')') ? items : null;
}

interface ItemReader {
  prefix: string;
  pattern: RegExp;
  take(match: RegExpExecArray, items: LaneFetchItems): void;
}

const ITEMS: readonly ItemReader[] = [
  {
    prefix: 'UID ',
    pattern: UID,
    take: (match, items) => {
      const uid = Number(match[1]);
      items.uid = uid > 0 ? uid : undefined;
    },
  },
  {
    prefix: 'FLAGS (',
    pattern: FLAGS,
    take: (match, items) => {
      items.flags = match[1] ? match[1].split(' ') : [];
    },
  },
  {
    prefix: 'INTERNALDATE "',
    pattern: INTERNALDATE,
    take: (match, items) => {
      const time = new Date(match[1]!).getTime();
      items.internalDate = Number.isFinite(time) ? time : null;
    },
  },
  { prefix: 'MODSEQ (', pattern: MODSEQ, take: () => {} },
  ...['BODY[] ', 'BINARY[] ', 'RFC822 '].map((prefix) => ({
    prefix,
    pattern: BODY,
    take: (match: RegExpExecArray, items: LaneFetchItems) => {
      items.bodyNil = match[1] !== undefined;
    },
  })),
];

/** The same items by imapflow's parser, for any response; null when it is no FETCH. */
export async function parseLaneFetch(
  text: Buffer,
  literals: Buffer[],
): Promise<LaneFetchItems | null> {
  const parsed = await parser(text, { literals });
  const [kind, list] = parsed.attributes ?? [];
  if (parsed.tag !== '*' || !isAtom(kind, 'FETCH') || !Array.isArray(list)) return null;
  const items: LaneFetchItems = { uid: undefined, flags: [], internalDate: null, bodyNil: false };
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = compiler({ attributes: [list[i]!] })
      .toString()
      .toUpperCase();
    const value = list[i + 1];
    if (key === 'UID' && isNode(value)) {
      const uid = Number(value.value);
      items.uid = Number.isSafeInteger(uid) && uid > 0 ? uid : undefined;
    } else if (key === 'FLAGS' && Array.isArray(value)) {
      items.flags = value.flatMap((flag) => (isNode(flag) ? [String(flag.value)] : []));
    } else if (key === 'INTERNALDATE' && isNode(value)) {
      const time = new Date(String(value.value)).getTime();
      items.internalDate = Number.isFinite(time) ? time : null;
    } else if (/^(BODY|BINARY)\[\]|^RFC822$/.test(key) && value === null) {
      items.bodyNil = true;
    }
  }
  return items;
}

function isNode(value: ImapAttribute | undefined): value is ImapAttributeNode {
  return !!value && !Array.isArray(value);
}

function isAtom(value: ImapAttribute | undefined, name: string): boolean {
  return isNode(value) && String(value.value).toUpperCase() === name;
}
