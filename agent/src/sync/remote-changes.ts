/**
 * Step: learn what changed on the server among the messages we already hold, by the cheapest
 * means the server offers:
 *  - QRESYNC: already known from the SELECT (no command at all);
 *  - CONDSTORE: FETCH FLAGS CHANGEDSINCE our HIGHESTMODSEQ, only if it moved; expunges only
 *    when the message count says some happened (then one UID SEARCH);
 *  - neither (Exchange-like): every message's flags, by one UID SEARCH per flag or one FETCH
 *    FLAGS over the UIDs we hold, whichever costs less for the folder's size and the link's
 *    round trip (see searchIsCheaper).
 */
import type { ImapFlow, SearchObject } from 'imapflow';
import type { OpenedFolder } from './open-folder.js';

export interface RemoteChanges {
  /** Current flags of messages changed since the base; others are as in the base. */
  flags: Map<number, string[]>;
  /** UIDs we hold that the server no longer has. */
  vanished: Set<number>;
}

export async function remoteChanges(
  client: ImapFlow,
  opened: OpenedFolder,
  storedModseq: bigint | null,
  knownUids: readonly number[],
  newUidCount: number,
  /** How every message's flags are read without CONDSTORE; tests compare both ways. */
  flagScan: 'cheaper' | 'search' | 'fetch' = 'cheaper',
): Promise<RemoteChanges> {
  if (opened.qresync) return opened.qresync;
  const flags = new Map<number, string[]>();
  const vanished = new Set<number>();
  if (knownUids.length === 0) return { flags, vanished };
  const maxKnown = knownUids[knownUids.length - 1]!;
  if (opened.exists === 0) return { flags, vanished: new Set(knownUids) };

  if (opened.highestModseq !== null && storedModseq !== null) {
    if (opened.highestModseq > storedModseq) {
      const changed = client.fetch(
        `1:${maxKnown}`,
        { uid: true, flags: true },
        { uid: true, changedSince: storedModseq },
      );
      for await (const message of changed) flags.set(message.uid, [...(message.flags ?? [])]);
    }
    // UIDs only grow: if the count is what we hold plus what is new, nothing was expunged.
    if (opened.exists !== knownUids.length + newUidCount) {
      const present = new Set((await client.search({ uid: `1:${maxKnown}` }, { uid: true })) || []);
      for (const uid of knownUids) if (!present.has(uid)) vanished.add(uid);
    }
    return { flags, vanished };
  }

  if (flagScan !== 'fetch') {
    const searched = await flagsBySearch(client, opened, knownUids, flagScan === 'search').catch(
      () => null,
    );
    if (searched) return searched;
  }
  const seen = new Set<number>();
  for await (const message of client.fetch(
    `1:${maxKnown}`,
    { uid: true, flags: true },
    { uid: true },
  )) {
    seen.add(message.uid);
    flags.set(message.uid, [...(message.flags ?? [])]);
  }
  for (const uid of knownUids) if (!seen.has(uid)) vanished.add(uid);
  return { flags, vanished };
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
 * Each session's round trip, timed once with a NOOP (the server does nothing for it). An
 * upper bound: this process may be busy with another connection meanwhile, which only ever
 * tips the choice towards FETCH, the way that works everywhere.
 */
const measuredRoundTrips = new WeakMap<ImapFlow, number>();
async function roundTripMs(client: ImapFlow): Promise<number> {
  let ms = measuredRoundTrips.get(client);
  if (ms === undefined) {
    const started = performance.now();
    await client.noop();
    ms = performance.now() - started;
    measuredRoundTrips.set(client, ms);
  }
  return ms;
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

/**
 * Every known message's flags as the sets of UIDs that carry each flag: the six the Maildir
 * letters stand for, and each keyword the folder's FLAGS response lists (RFC 3501: the flags
 * defined in the mailbox). With ESEARCH each answer is a compact range list. Null when FETCH
 * is the cheaper way for this folder (unless `always`), or when the server refuses one of the
 * searches: the caller reads the flags with FETCH instead.
 */
async function flagsBySearch(
  client: ImapFlow,
  opened: OpenedFolder,
  knownUids: readonly number[],
  always: boolean,
): Promise<RemoteChanges | null> {
  const range = `1:${knownUids[knownUids.length - 1]!}`;
  const searches = [...LETTER_FLAG_SEARCHES];
  for (const flag of opened.mailbox.flags ?? []) {
    if (flag.startsWith('\\') || searches.some(([known]) => known === flag)) continue;
    searches.push([flag, { keyword: flag }]);
  }
  if (searches.length > 31) return null; // more keywords than a mask has bits: FETCH them
  const commands = searches.length + 1;
  if (!always && !searchIsCheaper(knownUids.length, commands, await roundTripMs(client)))
    return null;
  // Bit i of a UID's mask: it carries searches[i]. Present UIDs get an entry (mask 0 at first).
  const masks = new Map<number, number>();
  const present = await uidsMatching(client, { uid: range });
  if (present === null) return null;
  for (const uid of present) masks.set(uid, 0);
  for (let i = 0; i < searches.length; i++) {
    const uids = await uidsMatching(client, { ...searches[i]![1], uid: range });
    if (uids === null) return null;
    const bit = 1 << i;
    for (const uid of uids) {
      const mask = masks.get(uid);
      if (mask !== undefined) masks.set(uid, mask | bit);
    }
  }
  // One array per distinct flag set, shared by every message that has it.
  const arrays = new Map<number, string[]>();
  const flags = new Map<number, string[]>();
  const vanished = new Set<number>();
  for (const uid of knownUids) {
    const mask = masks.get(uid);
    if (mask === undefined) {
      vanished.add(uid);
      continue;
    }
    let set = arrays.get(mask);
    if (!set) {
      set = searches.filter((_, i) => mask & (1 << i)).map(([flag]) => flag);
      arrays.set(mask, set);
    }
    flags.set(uid, set);
  }
  return { flags, vanished };
}

/** The UIDs a UID SEARCH matches, expanded; null when the server gives no answer. */
async function uidsMatching(
  client: ImapFlow,
  query: SearchObject,
): Promise<Iterable<number> | null> {
  const answer = await client.search(query, { uid: true, returnOptions: ['ALL'] });
  if (!answer) return null;
  if (Array.isArray(answer)) return answer;
  return expandSequenceSet(answer.all ?? '');
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
