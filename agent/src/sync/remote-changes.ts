/**
 * Step: learn what changed on the server among the messages we already hold, by the cheapest
 * means the server offers:
 *  - QRESYNC: already known from the SELECT (no command at all);
 *  - CONDSTORE: FETCH FLAGS CHANGEDSINCE our HIGHESTMODSEQ, only if it moved; expunges only
 *    when the message count says some happened (then one UID SEARCH);
 *  - neither (Exchange-like): every message's flags, by one UID SEARCH per flag or one FETCH
 *    FLAGS over the UIDs we hold, whichever costs less for the folder's size and the link's
 *    round trip (see searchIsCheaper). Answers identical to those the last pass left the
 *    state equal to (their digest is recorded) mean nothing changed: no walk over the state.
 *    Where the searches' answers are short enough to keep, one search for the messages whose
 *    flags differ from them tells the same (flagsDifferFromRecorded).
 */
import { createHash } from 'node:crypto';
import type { ImapFlow, SearchObject } from 'imapflow';
import type { OpenedFolder } from './open-folder.js';
import { SyncFailure } from './errors.js';

export interface RemoteChanges {
  /** Current flags of messages changed since the base; others are as in the base. */
  flags: Map<number, string[]>;
  /** UIDs we hold that the server no longer has. */
  vanished: Set<number>;
  /** Set when every message's flags were read: a pass that leaves the state equal records it. */
  answers?: FlagAnswers;
  /**
   * UIDs the server has below the highest held that the state lacks: a message an earlier
   * pass asked for and never got (the server left it out, or refused it). Only known where
   * the pass learnt every UID present anyway; the caller downloads them.
   */
  unheld?: number[];
  /**
   * Held UIDs the server left out of its answer to a FETCH of every flag while a UID SEARCH
   * says it still has them: not taken as expunged (their flags count as unchanged).
   */
  omitted?: number[];
}

/** Answers for every message's flags known before the pass asks (see FlagAnswers). */
export interface KnownAnswers {
  /** Read earlier in this pass; used if over the same UIDs. */
  prior?: FlagAnswers | null;
  /** The digest of a pass after which the state's flags equalled its answers. */
  recorded?: string | null;
}

/**
 * The UIDs the state holds for the folder. With CONDSTORE their count and the highest are
 * enough unless the count shows an expunge: a pass need not read every row to ask.
 */
export interface HeldUids {
  count: number;
  /** 0 when none are held. */
  highest: number;
  /** Every one, ascending (read on first use). */
  all(): readonly number[];
}

/** HeldUids of a list already read (ascending). */
export function heldUidsOf(uids: readonly number[]): HeldUids {
  return { count: uids.length, highest: uids.at(-1) ?? 0, all: () => uids };
}

export async function remoteChanges(
  client: ImapFlow,
  opened: OpenedFolder,
  storedModseq: bigint | null,
  uids: HeldUids,
  newUidCount: number,
  /** How every message's flags are read without CONDSTORE; tests compare both ways. */
  flagScan: 'cheaper' | 'search' | 'fetch' = 'cheaper',
  known: KnownAnswers = {},
): Promise<RemoteChanges> {
  if (opened.qresync) return withUnheld(client, opened, uids, newUidCount, opened.qresync);
  const flags = new Map<number, string[]>();
  const vanished = new Set<number>();
  if (uids.count === 0)
    return opened.highestModseq === null
      ? { flags, vanished, answers: NO_ANSWERS }
      : { flags, vanished };
  const maxKnown = uids.highest;
  if (opened.exists === 0) return { flags, vanished: new Set(uids.all()) };

  if (opened.highestModseq !== null && storedModseq !== null) {
    if (opened.highestModseq > storedModseq) {
      const changed = client.fetch(
        `1:${maxKnown}`,
        { uid: true, flags: true },
        { uid: true, changedSince: storedModseq },
      );
      for await (const message of changed) flags.set(message.uid, [...(message.flags ?? [])]);
    }
    return { flags, ...(await vanishedByCount(client, opened, uids, newUidCount)) };
  }
  const knownUids = uids.all();

  const { prior, recorded } = known;
  let read =
    prior?.highestUid === maxKnown && (flagScan === 'cheaper' || flagScan === prior.by)
      ? prior
      : null;
  if (!read) {
    const bySearch =
      flagScan === 'search' ||
      (flagScan === 'cheaper' &&
        searchIsCheaper(knownUids.length, flagSearches(opened).length, await roundTripMs(client)));
    read =
      (bySearch ? await searchFlagAnswers(client, opened, maxKnown).catch(() => null) : null) ??
      (await fetchFlagAnswers(client, maxKnown));
  }
  if (read.by === 'search') {
    // One more round trip in a pass that reads every flag anyway: the count alone would miss
    // an expunge while the server also holds a message it never sent a body for.
    const { vanished: gone, unheld } = await vanishedBySearch(client, knownUids);
    const extra = unheld.length > 0 ? { unheld } : {};
    if (read.digest === recorded) return { flags, vanished: gone, answers: read, ...extra };
    return {
      flags: flagsFromSearches(read, knownUids, gone),
      vanished: gone,
      answers: read,
      ...extra,
    };
  }
  if (read.by === 'fetch') {
    // FETCH answers for each message present: presence is in them, and in their digest. But
    // a line left out (or garbled) is no proof of an expunge: one deleted file too many
    // cannot be undone, so a UID SEARCH confirms what the FETCH seems to say is gone.
    const missing = knownUids.filter((uid) => !read.flags.has(uid));
    // More answers than held messages present: some UIDs the state lacks (rare; only then is
    // a set of the held ones worth making).
    const held = read.flags.size > knownUids.length - missing.length ? new Set(knownUids) : null;
    const unheld = held
      ? [...read.flags.keys()].filter(
          (uid) => Number.isSafeInteger(uid) && uid > 0 && uid <= maxKnown && !held.has(uid),
        )
      : [];
    const extra = unheld.length > 0 ? { unheld } : {};
    if (missing.length > 0) {
      const confirmed = await vanishedBySearch(client, knownUids);
      const omitted = missing.filter((uid) => !confirmed.vanished.has(uid));
      if (omitted.length > 0) {
        // Answers with holes are not recorded: the next pass reads every flag again.
        const known = held ?? new Set(knownUids);
        const flagsRead = new Map([...read.flags].filter(([uid]) => known.has(uid)));
        return { flags: flagsRead, vanished: confirmed.vanished, omitted, ...extra };
      }
      for (const uid of missing) vanished.add(uid);
    }
    if (read.digest === recorded) return { flags, vanished, answers: read, ...extra };
    return { flags: read.flags, vanished, answers: read, ...extra };
  }
  return { flags, vanished, answers: read };
}

/**
 * QRESYNC's answer names what changed since the last pass, not a message an earlier pass
 * never got (the server left it out of a FETCH): when the server's count is not what is held,
 * less what vanished, plus what is new, one UID SEARCH tells which it has that are not held.
 */
async function withUnheld(
  client: ImapFlow,
  opened: OpenedFolder,
  held: HeldUids,
  newUidCount: number,
  changes: { flags: Map<number, string[]>; vanished: Set<number> },
): Promise<RemoteChanges> {
  if (held.count === 0) return changes;
  let heldVanished = 0;
  if (changes.vanished.size > 0) {
    // VANISHED (EARLIER) may name UIDs never held here (its ranges are the server's).
    for (const uid of held.all()) if (changes.vanished.has(uid)) heldVanished += 1;
  }
  if (opened.exists === held.count - heldVanished + newUidCount) return changes;
  const { vanished, unheld } = await vanishedBySearch(client, held.all());
  return unheld.length > 0 ? { flags: changes.flags, vanished, unheld } : { ...changes, vanished };
}

/**
 * The UIDs held that the server no longer has. UIDs only grow: if its count is what we hold
 * plus what is new, nothing was expunged (no command); else vanishedBySearch.
 */
async function vanishedByCount(
  client: ImapFlow,
  opened: OpenedFolder,
  held: HeldUids,
  newUidCount: number,
): Promise<Pick<RemoteChanges, 'vanished' | 'unheld'>> {
  if (opened.exists === held.count + newUidCount) return { vanished: new Set() };
  const { vanished, unheld } = await vanishedBySearch(client, held.all());
  return unheld.length > 0 ? { vanished, unheld } : { vanished };
}

/**
 * The UIDs held that the server no longer has, by one UID SEARCH over their range. A server
 * that gives no answer fails the folder: taking that as "none left" would delete every file.
 */
async function vanishedBySearch(
  client: ImapFlow,
  knownUids: readonly number[],
): Promise<{ vanished: Set<number>; unheld: number[] }> {
  const highest = knownUids[knownUids.length - 1]!;
  const answer = await uidsMatching(client, { uid: `1:${highest}` });
  if (answer === null) {
    throw new SyncFailure(
      'SERVER_NO',
      'The server did not answer which messages it still has (UID SEARCH); nothing is deleted here because of it',
    );
  }
  const present = new Set(uidsOf(answer));
  const vanished = new Set(knownUids.filter((uid) => !present.has(uid)));
  // Every present UID is held unless there are more of them than held ones left: only then
  // is a set of the held ones worth making (the usual pass finds none).
  if (present.size <= knownUids.length - vanished.size) return { vanished, unheld: [] };
  const held = new Set(knownUids);
  return {
    vanished,
    unheld: [...present].filter((uid) => uid <= highest && !held.has(uid)).sort((a, b) => a - b),
  };
}

/**
 * What one FETCH line of flags costs us: imapflow's parser and the garbage it leaves, ~40–50
 * µs a message on the benchmark machine (BENCHMARKS.md), besides ~40 bytes on the wire.
 */
const FETCH_LINE_MS = 0.05;

/**
 * Whether one UID SEARCH per flag (a round trip each, a few bytes per matching range) costs
 * less than one FETCH line per message: on a link with a 1 ms round trip from ~160 messages
 * with 8 searches, with 30 ms from ~4,800.
 */
export function searchIsCheaper(messages: number, searches: number, roundTripMs: number): boolean {
  return searches * roundTripMs < messages * FETCH_LINE_MS;
}

/**
 * Each server's round trip: the quickest seen by this process in the last few minutes (the
 * agent's laptop may have changed networks since), of two NOOPs timed when first needed (the
 * server does nothing for them) and of every flag search since. An upper bound: this process
 * may be busy with another connection while an answer waits, which only ever tips the choice
 * towards FETCH, the way that works everywhere.
 */
const roundTrips = new Map<string, { ms: number; since: number }>();
const ROUND_TRIP_KEPT_MS = 5 * 60_000;
const serverOf = (client: ImapFlow) => `${client.host}:${client.port}`;

async function roundTripMs(client: ImapFlow): Promise<number> {
  const known = roundTrips.get(serverOf(client));
  if (known && Date.now() - known.since < ROUND_TRIP_KEPT_MS) return known.ms;
  roundTrips.delete(serverOf(client));
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    await client.noop();
    noteRoundTrip(client, performance.now() - started);
  }
  return roundTrips.get(serverOf(client))!.ms;
}

function noteRoundTrip(client: ImapFlow, ms: number): void {
  const known = roundTrips.get(serverOf(client));
  if (!known) roundTrips.set(serverOf(client), { ms, since: Date.now() });
  else if (ms < known.ms) known.ms = ms;
}

/** The flags a file name carries, always asked for; keywords the folder lists are added. */
const LETTER_FLAG_SEARCHES: ReadonlyArray<[string, SearchObject]> = [
  ['\\Seen', { seen: true }],
  ['\\Answered', { answered: true }],
  ['\\Flagged', { flagged: true }],
  ['\\Deleted', { deleted: true }],
  ['\\Draft', { draft: true }],
  ['$Forwarded', { keyword: '$Forwarded' }],
];

/** The flags a file name carries and each keyword the folder lists (its FLAGS response). */
function flagSearches(opened: OpenedFolder): Array<[string, SearchObject]> {
  const searches = [...LETTER_FLAG_SEARCHES];
  for (const flag of opened.mailbox.flags ?? []) {
    if (flag.startsWith('\\') || searches.some(([known]) => known === flag)) continue;
    searches.push([flag, { keyword: flag }]);
  }
  return searches;
}

/**
 * Every message's flags in 1:highestUid as the server answered, read one of two ways (see
 * searchIsCheaper). Equal digests, equal answers: no flag moved, nothing vanished.
 */
export type FlagAnswers = {
  highestUid: number;
  /**
   * The way, the range and a SHA-256 of the answers: what a folder's state records
   * (FolderState.flagAnswers) after a pass that left its flags equal to them.
   */
  digest: string;
} & (
  | {
      by: 'search';
      /** The flag each search asked for, in order. */
      flags: string[];
      /** The UIDs each flag's search matched: a range list or numbers. */
      answers: Array<string | number[]>;
    }
  | { by: 'fetch'; flags: Map<number, string[]> }
  | { by: 'none' }
);

/** The answers when no message is held: nothing to ask. */
export const NO_ANSWERS: FlagAnswers = Object.freeze({
  by: 'none',
  highestUid: 0,
  digest: 'none:0',
});

/** The way a recorded digest's answers were read: the way to read them again to compare. */
export function answersReadBy(digest: string): FlagAnswers['by'] {
  const by = digest.slice(0, digest.indexOf(':'));
  return by === 'search' || by === 'fetch' ? by : 'none';
}

/**
 * The answers read the way a recorded digest's were, over the messages held up to
 * `highestUid` (none held: nothing to read). Null when the server refuses a search.
 */
export async function readFlagAnswersLike(
  client: ImapFlow,
  opened: OpenedFolder,
  highestUid: number,
  digest: string,
): Promise<FlagAnswers | null> {
  if (highestUid === 0) return NO_ANSWERS;
  return answersReadBy(digest) === 'search'
    ? searchFlagAnswers(client, opened, highestUid).catch(() => null)
    : fetchFlagAnswers(client, highestUid);
}

/**
 * One UID SEARCH per flag over 1:highestUid: the six the Maildir letters stand for and each
 * keyword the folder's FLAGS response lists (RFC 3501: the flags defined in the mailbox).
 * Which UIDs are still there they do not tell (see vanishedByCount). With ESEARCH each answer
 * is a compact range list. Null when the server refuses one, or when the folder has more
 * keywords than a mask has bits: then the flags are read with FETCH.
 */
async function searchFlagAnswers(
  client: ImapFlow,
  opened: OpenedFolder,
  highestUid: number,
): Promise<FlagAnswers | null> {
  const searches = flagSearches(opened);
  if (searches.length > 31) return null;
  // When no UID above the range existed at the SELECT, the range is left out: the answers are
  // the same, and Dovecot searches a third quicker without it. A message arriving meanwhile
  // only makes the answers differ from the recorded ones: a full pass, nothing missed.
  const range =
    opened.uidNext !== null && highestUid >= opened.uidNext - 1 ? {} : { uid: `1:${highestUid}` };
  const answers: Array<string | number[]> = [];
  for (const [, query] of searches) {
    const started = performance.now();
    const answer = await uidsMatching(client, { ...query, ...range });
    if (answer === null) return null;
    noteRoundTrip(client, performance.now() - started);
    answers.push(answer);
  }
  const flags = searches.map(([flag]) => flag);
  return {
    by: 'search',
    highestUid,
    flags,
    answers,
    digest: searchDigest(highestUid, flags, answers),
  };
}

function searchDigest(
  highestUid: number,
  flags: readonly string[],
  answers: ReadonlyArray<string | readonly number[]>,
): string {
  const hash = createHash('sha256');
  // Flag names cannot hold a space or a newline (RFC 3501 atoms); answers hold neither.
  for (const flag of flags) hash.update(`${flag} `);
  for (const answer of answers)
    hash.update(`\n${typeof answer === 'string' ? answer : answer.join(',')}`);
  return `search:${highestUid}:${hash.digest('base64')}`;
}

/**
 * Search answers as a folder's state keeps them beside their digest (FolderState
 * flagAnswerSets), for flagsDifferFromRecorded: each flag's UIDs as a sequence set.
 */
interface RecordedSearchAnswers {
  digest: string;
  highestUid: number;
  flags: string[];
  sets: string[];
}

/**
 * Longest sets kept. They go into one command twice, and RFC 7162 (section 4) asks clients
 * to keep a command line within 8192 octets; a folder whose flags are scattered more widely
 * is compared by its six searches as before.
 */
const MAX_RECORDED_SET_CHARS = 3500;

/** What the state keeps of answers read by searches (null: nothing, see above). */
export function recordableAnswerSets(answers: FlagAnswers | undefined): string | null {
  if (answers?.by !== 'search') return null;
  // Plain UIDs (a server without ESEARCH) as they went into the digest: a valid set too.
  const sets = answers.answers.map((a) => (typeof a === 'string' ? a : a.join(',')));
  if (sets.reduce((sum, set) => sum + set.length, 0) > MAX_RECORDED_SET_CHARS) return null;
  const recorded: RecordedSearchAnswers = {
    digest: answers.digest,
    highestUid: answers.highestUid,
    flags: answers.flags,
    sets,
  };
  return JSON.stringify(recorded);
}

/**
 * Whether any message's flags differ from the answers a pass recorded, by one UID SEARCH
 * instead of one per flag: the messages that carry a flag though outside its recorded set,
 * or lack it though inside. No match: the answers would be the recorded ones, so nothing
 * changed. Against a server without CONDSTORE (Exchange) this is the whole cost of a folder
 * whose counters did not move, besides its SELECT: one round trip instead of six or more.
 * Null when it cannot tell: the sets are not those of `digest` or of this range, the folder
 * lists other keywords now, or the server refused the search. Then the searches as before.
 */
export async function flagsDifferFromRecorded(
  client: ImapFlow,
  opened: OpenedFolder,
  highestUid: number,
  digest: string,
  recordedSets: string,
): Promise<boolean | null> {
  let recorded: Partial<RecordedSearchAnswers> | null;
  try {
    recorded = JSON.parse(recordedSets) as Partial<RecordedSearchAnswers> | null;
  } catch {
    return null;
  }
  const searches = flagSearches(opened);
  if (
    typeof recorded !== 'object' ||
    recorded === null ||
    recorded.digest !== digest ||
    recorded.highestUid !== highestUid ||
    !Array.isArray(recorded.flags) ||
    !Array.isArray(recorded.sets) ||
    !recorded.sets.every((set) => typeof set === 'string') ||
    recorded.sets.length !== searches.length ||
    searches.some(([flag], i) => recorded.flags![i] !== flag) ||
    // The sets must be what the digest was made of: a damaged row is not trusted.
    searchDigest(highestUid, recorded.flags, recorded.sets) !== digest
  )
    return null;
  const sets = recorded.sets;
  const differing: SearchObject[] = searches.map(([, carries], i) => {
    const set = sets[i]!;
    if (set === '') return carries;
    return {
      or: [
        { ...carries, not: { uid: set } },
        { not: carries, uid: set },
      ],
    };
  });
  // As for the searches themselves (searchFlagAnswers): no UID above the range existed.
  const range =
    opened.uidNext !== null && highestUid >= opened.uidNext - 1 ? {} : { uid: `1:${highestUid}` };
  const started = performance.now();
  const answer = await uidsMatching(client, { or: differing, ...range }).catch(() => null);
  if (answer === null) return null;
  noteRoundTrip(client, performance.now() - started);
  return answer.length > 0;
}

/** One FETCH FLAGS over 1:highestUid: a line per message. */
async function fetchFlagAnswers(client: ImapFlow, highestUid: number): Promise<FlagAnswers> {
  const flags = new Map<number, string[]>();
  const hash = createHash('sha256');
  for await (const message of client.fetch(
    `1:${highestUid}`,
    { uid: true, flags: true },
    { uid: true },
  )) {
    const list = [...(message.flags ?? [])];
    flags.set(message.uid, list);
    // \Recent belongs to the session that sees it first: not a change of the message.
    const kept = list.filter((flag) => flag !== '\\Recent').sort();
    hash.update(`${message.uid} ${kept.join(' ')}\n`);
  }
  return { by: 'fetch', highestUid, flags, digest: `fetch:${highestUid}:${hash.digest('base64')}` };
}

/** Each known message's flags as the searches answered (those gone excepted). */
function flagsFromSearches(
  read: Extract<FlagAnswers, { by: 'search' }>,
  knownUids: readonly number[],
  gone: ReadonlySet<number>,
): Map<number, string[]> {
  // Bit i of a UID's mask: it carries flags[i].
  const masks = new Map<number, number>();
  read.answers.forEach((answer, i) => {
    const bit = 1 << i;
    for (const uid of uidsOf(answer)) masks.set(uid, (masks.get(uid) ?? 0) | bit);
  });
  // One array per distinct flag set, shared by every message that has it.
  const arrays = new Map<number, string[]>();
  const flags = new Map<number, string[]>();
  for (const uid of knownUids) {
    if (gone.has(uid)) continue;
    const mask = masks.get(uid) ?? 0;
    let set = arrays.get(mask);
    if (!set) {
      set = read.flags.filter((_, i) => mask & (1 << i));
      arrays.set(mask, set);
    }
    flags.set(uid, set);
  }
  return flags;
}

export function uidsOf(answer: string | number[]): Iterable<number> {
  return typeof answer === 'string' ? expandSequenceSet(answer) : answer;
}

/** The UIDs a UID SEARCH matches, as ESEARCH's range list or plain numbers; null: no answer. */
export async function uidsMatching(
  client: ImapFlow,
  query: SearchObject,
): Promise<string | number[] | null> {
  const answer = await client.search(query, { uid: true, returnOptions: ['ALL'] });
  if (!answer) return null;
  if (Array.isArray(answer)) return answer;
  return answer.all ?? '';
}

/** Ascending UIDs 1, 2, 3, 7, 9, 10 → "1:3,7,9:10". */
export function sequenceSetOf(uids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length;) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    parts.push(j === i ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** "1:3,7,9:10" → 1, 2, 3, 7, 9, 10 (either end of a range may come first: "3:1"). */
export function* expandSequenceSet(set: string): Generator<number> {
  if (set === '') return;
  for (const part of set.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      yield Number(part);
      continue;
    }
    const a = Number(part.slice(0, colon));
    const b = Number(part.slice(colon + 1));
    for (let uid = Math.min(a, b); uid <= Math.max(a, b); uid++) yield uid;
  }
}
