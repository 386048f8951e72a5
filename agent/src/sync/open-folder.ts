/**
 * Step: SELECT (or EXAMINE) a folder. With QRESYNC and a known UIDVALIDITY + HIGHESTMODSEQ
 * the server answers, inside this single round trip, with the UIDs expunged since (VANISHED
 * EARLIER) and the flags of every message changed since: an unchanged folder costs nothing else.
 */
import type { ExpungeEvent, FlagsEvent, ImapFlow, MailboxObject } from 'imapflow';
import type { FolderState } from './state-db.js';

export interface OpenedFolder {
  mailbox: MailboxObject;
  uidValidity: number;
  uidNext: number | null;
  /** Message count right after SELECT (imapflow keeps `mailbox.exists` live afterwards). */
  exists: number;
  /** HIGHESTMODSEQ at SELECT time; null when the server has no CONDSTORE for this folder. */
  highestModseq: bigint | null;
  /** Changes reported by QRESYNC during the SELECT, or null when QRESYNC was not used. */
  qresync: { flags: Map<number, string[]>; vanished: Set<number> } | null;
}

export async function openFolder(
  client: ImapFlow,
  serverPath: string,
  known: FolderState,
  readOnly: boolean,
): Promise<OpenedFolder> {
  const useQresync =
    client.enabled.has('QRESYNC') && known.uidValidity !== null && known.highestModseq !== null;
  const flags = new Map<number, string[]>();
  const vanished = new Set<number>();
  const onFlags = (event: FlagsEvent) => {
    if (event.uid) flags.set(event.uid, [...event.flags]);
  };
  const onExpunge = (event: ExpungeEvent) => {
    if (event.vanished && event.uid) vanished.add(event.uid);
  };
  if (useQresync) {
    client.on('flags', onFlags);
    client.on('expunge', onExpunge);
  }
  try {
    const mailbox = await client.mailboxOpen(serverPath, {
      readOnly,
      ...(useQresync
        ? { uidValidity: known.uidValidity!, changedSince: known.highestModseq! }
        : {}),
    });
    // Only a server that offers CONDSTORE promises that HIGHESTMODSEQ moves with every
    // change (and takes CHANGEDSINCE); one that volunteers the code without it is not relied on.
    const highestModseq =
      client.capabilities.has('CONDSTORE') && mailbox.highestModseq && !mailbox.noModseq
        ? BigInt(mailbox.highestModseq)
        : null;
    return {
      mailbox,
      uidValidity: Number(mailbox.uidValidity),
      uidNext: mailbox.uidNext ?? null,
      exists: mailbox.exists,
      highestModseq,
      // A server may decline QRESYNC for this SELECT (imapflow then clears the marker).
      qresync:
        useQresync && (mailbox as { qresync?: boolean }).qresync ? { flags, vanished } : null,
    };
  } finally {
    client.off('flags', onFlags);
    client.off('expunge', onExpunge);
  }
}
