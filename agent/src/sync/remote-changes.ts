/**
 * Step: learn what changed on the server among the messages we already hold, by the cheapest
 * means the server offers:
 *  - QRESYNC: already known from the SELECT (no command at all);
 *  - CONDSTORE: FETCH FLAGS CHANGEDSINCE our HIGHESTMODSEQ, only if it moved; expunges only
 *    when the message count says some happened (then one UID SEARCH);
 *  - neither (Exchange-like): one FETCH FLAGS over the UIDs we hold.
 */
import type { ImapFlow } from 'imapflow';
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
