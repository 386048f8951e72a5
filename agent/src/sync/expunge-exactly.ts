/**
 * Removing exactly the messages meant from the selected folder. UID EXPUNGE (UIDPLUS) does
 * that; a plain EXPUNGE, all a server without UIDPLUS has, removes every message flagged
 * \Deleted — also those another client or the user (a Maildir "T") flagged and did not mean
 * to remove yet. Those have \Deleted cleared for the EXPUNGE and set again after it, as RFC
 * 4315 advises clients of such servers. imapflow's MOVE without the MOVE extension ends in
 * the same EXPUNGE, so a move is made of a COPY and this.
 */
import type { ImapFlow } from 'imapflow';
import { SyncFailure } from './errors.js';
import { sequenceSetOf } from './remote-changes.js';

export async function expungeExactly(client: ImapFlow, uids: readonly number[]): Promise<void> {
  const range = sequenceSetOf([...uids].sort((a, b) => a - b));
  if (client.capabilities.has('UIDPLUS')) {
    stillConnected(client, await client.messageDelete(range, { uid: true }));
    return;
  }
  const ours = new Set(uids);
  const marked = (await client.search({ deleted: true }, { uid: true })) || [];
  const others = marked.filter((uid) => !ours.has(uid)).sort((a, b) => a - b);
  const othersRange = sequenceSetOf(others);
  if (others.length > 0)
    stillConnected(
      client,
      await client.messageFlagsRemove(othersRange, ['\\Deleted'], { uid: true }),
    );
  try {
    stillConnected(client, await client.messageDelete(range, { uid: true }));
  } finally {
    if (others.length > 0) await client.messageFlagsAdd(othersRange, ['\\Deleted'], { uid: true });
  }
}

/**
 * imapflow answers a STORE, EXPUNGE, COPY or MOVE it could not complete with false rather
 * than an error. With the connection lost meanwhile (the command never sent, or its answer
 * never read) the server may not have done it: going on would record in the state a
 * deletion or a flag the server does not have, and the next pass would download the message
 * again or take the flag off the file. A refusal on a live connection is the caller's to
 * weigh.
 */
export function stillConnected(client: ImapFlow, done: boolean | undefined): void {
  if (done === true || client.usable) return;
  throw new SyncFailure(
    'CONNECTION_LOST',
    'Connection to the server lost before it confirmed a change; the next sync makes it again',
  );
}

/** Moves exactly these messages; false (nothing removed) if the server would not copy them. */
export async function moveExactly(
  client: ImapFlow,
  uids: readonly number[],
  destination: string,
): Promise<boolean> {
  const range = sequenceSetOf([...uids].sort((a, b) => a - b));
  if (client.capabilities.has('MOVE')) {
    const moved = await client.messageMove(range, destination, { uid: true });
    stillConnected(client, moved !== false);
    return moved !== false;
  }
  const copied = await client.messageCopy(range, destination, { uid: true });
  stillConnected(client, copied !== false);
  if (!copied) return false;
  await expungeExactly(client, uids);
  return true;
}
