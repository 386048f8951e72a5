/**
 * What a crash right after an APPEND leaves: the journal row the agent wrote before sending
 * it, and the message on the server, its UID never recorded.
 */
import { createHash } from 'node:crypto';
import { lfToCrlf } from '../../agent/src/sync/maildir/crlf.js';
import type { StateDb } from '../../agent/src/sync/state-db.js';
import type { TestDovecot } from './dovecot.js';

/** Journals `body` (a Maildir file's bytes) as INBOX's APPEND of `base`, then APPENDs it. */
export async function appendLandedBeforeCrash(
  state: StateDb,
  dovecot: TestDovecot,
  base: string,
  body: Buffer,
): Promise<{ folderId: number; wire: Buffer }> {
  const folderId = state.folders('a').find((f) => f.path === 'INBOX')!.id;
  const wire = lfToCrlf(body);
  const client = await dovecot.client();
  try {
    const status = await client.status('INBOX', { uidNext: true });
    if (!status || !status.uidNext) throw new Error('INBOX has no UIDNEXT');
    state.journalAppend(folderId, {
      base,
      sha256: createHash('sha256').update(wire).digest('hex'),
      size: wire.length,
      uidNextBefore: status.uidNext,
    });
    await client.append('INBOX', wire, ['\\Seen']);
  } finally {
    await client.logout();
  }
  return { folderId, wire };
}
