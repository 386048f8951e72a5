/**
 * On a server without CONDSTORE every pass reads the flags of every message it holds. A large
 * folder's are read with one UID SEARCH per flag instead of one FETCH line per message; both
 * ways must tell exactly the same: each message's flags (keywords too) and which are gone.
 */
import assert from 'node:assert/strict';
import type { ImapFlow, SearchObject } from 'imapflow';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { openFolder } from '../../agent/src/sync/open-folder.js';
import {
  expandSequenceSet,
  flagsDifferFromRecorded,
  heldUidsOf,
  recordableAnswerSets,
  remoteChanges,
  searchIsCheaper,
  type RemoteChanges,
} from '../../agent/src/sync/remote-changes.js';
import type { FolderState } from '../../agent/src/sync/state-db.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';

const COUNT = 90;

/** A spread of flags: system flags, $Forwarded, keywords, several at once, none at all. */
function flagsOf(uid: number): string[] {
  const flags: string[] = [];
  if (uid % 2 === 0) flags.push('\\Seen');
  if (uid % 3 === 0) flags.push('\\Flagged');
  if (uid % 5 === 0) flags.push('\\Answered');
  if (uid % 7 === 0) flags.push('$Forwarded');
  if (uid % 11 === 0) flags.push('\\Draft');
  if (uid % 13 === 0) flags.push('\\Deleted');
  if (uid % 4 === 1) flags.push('Junk');
  if (uid % 6 === 5) flags.push('$label1');
  return flags;
}

const NEVER_OPENED: FolderState = {
  id: 1,
  accountId: 'a',
  path: 'INBOX',
  serverPath: 'INBOX',
  delimiter: '/',
  uidValidity: null,
  uidNext: null,
  highestModseq: null,
  lastSyncAt: null,
  existsCount: null,
  localMark: null,
  flagAnswers: null,
  flagAnswerSets: null,
  listingDigest: null,
};

describe('reading every flag without CONDSTORE', function () {
  this.timeout(60_000);
  let dovecot: TestDovecot;
  let client: ImapFlow;
  const known = Array.from({ length: COUNT }, (_, i) => i + 1);
  const expunged = [10, 45, 90];

  before(async () => {
    dovecot = await startTestDovecot({ capabilities: { condstore: false } });
    await dovecot.appendMessages(generateMailbox({ count: COUNT, folders: ['INBOX'], seed: 21 }));
    client = await dovecot.client();
    await client.mailboxOpen('INBOX');
    for (const uid of known) {
      await client.messageFlagsSet(String(uid), flagsOf(uid), { uid: true });
    }
    await client.messageDelete(expunged.join(','), { uid: true });
  });
  after(async () => {
    await client?.logout().catch(() => client.close());
    await dovecot?.cleanup();
  });

  /** The changes as the engine reads them, and the commands it sent to read them. */
  async function read(
    flagScan: 'search' | 'fetch',
    recorded: string | null = null,
  ): Promise<{ changes: RemoteChanges; sent: string[] }> {
    const opened = await openFolder(client, 'INBOX', NEVER_OPENED, true);
    assert.equal(opened.highestModseq, null, 'the server must have no CONDSTORE here');
    const sent: string[] = [];
    const search = client.search.bind(client);
    const fetch = client.fetch.bind(client);
    client.search = ((...args: Parameters<ImapFlow['search']>) => {
      sent.push('SEARCH');
      return search(...args);
    }) as ImapFlow['search'];
    client.fetch = ((...args: Parameters<ImapFlow['fetch']>) => {
      sent.push('FETCH');
      return fetch(...args);
    }) as ImapFlow['fetch'];
    try {
      return {
        changes: await remoteChanges(client, opened, null, heldUidsOf(known), 0, flagScan, {
          recorded,
        }),
        sent,
      };
    } finally {
      client.search = search;
      client.fetch = fetch;
    }
  }

  const sortedFlags = (changes: RemoteChanges, uid: number) =>
    (changes.flags.get(uid) ?? []).filter((f) => f !== '\\Recent').sort();

  it('tells by SEARCH exactly what FETCH tells: every flag and keyword, every expunge', async () => {
    const byFetch = await read('fetch');
    const bySearch = await read('search');
    // What the FETCH says is gone, a UID SEARCH confirms before any file is deleted.
    assert.deepEqual(byFetch.sent, ['FETCH', 'SEARCH']);
    assert.ok(!bySearch.sent.includes('FETCH'), bySearch.sent.join(' '));
    assert.ok(bySearch.sent.length >= 7, 'one SEARCH for the UIDs, one per flag');

    assert.deepEqual(
      [...bySearch.changes.vanished].sort((a, b) => a - b),
      expunged,
    );
    assert.deepEqual(
      [...byFetch.changes.vanished].sort((a, b) => a - b),
      expunged,
    );
    for (const uid of known) {
      if (expunged.includes(uid)) continue;
      const expected = flagsOf(uid).sort();
      assert.deepEqual(sortedFlags(byFetch.changes, uid), expected, `FETCH, UID ${uid}`);
      assert.deepEqual(sortedFlags(bySearch.changes, uid), expected, `SEARCH, UID ${uid}`);
    }
  });

  for (const way of ['search', 'fetch'] as const) {
    it(`by ${way.toUpperCase()}: the same answers give the same digest, which stands for no change`, async () => {
      const sortedUids = (uids: Set<number>) => [...uids].sort((a, b) => a - b);
      const first = (await read(way)).changes.answers!;
      assert.ok(first.digest.startsWith(`${way}:${COUNT}:`), first.digest);
      // The answers the state was left equal to: no flag to compare, what vanished still told.
      const same = (await read(way, first.digest)).changes;
      assert.equal(same.answers!.digest, first.digest);
      assert.equal(same.flags.size, 0);
      assert.deepEqual(sortedUids(same.vanished), expunged);

      await dovecot.setFlags('INBOX', 20, [...flagsOf(20), '\\Flagged']);
      try {
        const changed = (await read(way, first.digest)).changes;
        assert.notEqual(changed.answers!.digest, first.digest);
        assert.deepEqual(sortedFlags(changed, 20), [...flagsOf(20), '\\Flagged'].sort());
        assert.deepEqual(sortedFlags(changed, 21), flagsOf(21).sort());
        assert.deepEqual(sortedUids(changed.vanished), expunged);
      } finally {
        await dovecot.setFlags('INBOX', 20, flagsOf(20));
      }
      // Undone: the answers, and so the digest, are the first ones again.
      assert.equal((await read(way)).changes.answers!.digest, first.digest);
    });
  }

  it('tells by one SEARCH whether any flag differs from recorded answers, whichever flag it is', async () => {
    const answers = (await read('search')).changes.answers!;
    const sets = recordableAnswerSets(answers);
    assert.ok(sets, 'answers this short are kept');
    const commands: string[] = [];
    /** As in a pass: the SELECT first, which also brings other sessions' changes into view. */
    const differ = async (
      digest = answers.digest,
      kept: string = sets,
      answer?: () => ReturnType<ImapFlow['search']>,
    ) => {
      const opened = await openFolder(client, 'INBOX', NEVER_OPENED, true);
      commands.length = 0;
      const search = client.search.bind(client);
      client.search = ((query: SearchObject, options?: Parameters<ImapFlow['search']>[1]) => {
        commands.push(JSON.stringify(query));
        return answer ? answer() : search(query, options);
      }) as ImapFlow['search'];
      try {
        return await flagsDifferFromRecorded(client, opened, COUNT, digest, kept);
      } finally {
        client.search = search;
      }
    };
    assert.equal(await differ(), false);
    assert.equal(commands.length, 1, 'one search, however many flags');

    // Each kind of change: a system flag set and cleared, $Forwarded, a keyword set and cleared.
    const changes: Array<[number, string[]]> = [
      [20, [...flagsOf(20), '\\Flagged']],
      [2, flagsOf(2).filter((f) => f !== '\\Seen')],
      [8, [...flagsOf(8), '$Forwarded']],
      [3, [...flagsOf(3), 'Junk']],
      [5, flagsOf(5).filter((f) => f !== 'Junk')],
      [11, flagsOf(11).filter((f) => f !== '$label1')],
    ];
    for (const [uid, flags] of changes) {
      await dovecot.setFlags('INBOX', uid, flags);
      try {
        assert.equal(await differ(), true, `UID ${uid}: ${flags.join(' ')}`);
      } finally {
        await dovecot.setFlags('INBOX', uid, flagsOf(uid));
      }
    }
    assert.equal(await differ(), false, 'every change undone');

    // Cannot tell, so the searches decide: sets that are not the digest's, a refused search.
    assert.equal(await differ('search:90:another'), null);
    const kept = JSON.parse(sets) as { sets: string[] };
    const tampered = { ...kept, sets: ['1:90', ...kept.sets.slice(1)] };
    assert.equal(await differ(answers.digest, JSON.stringify(tampered)), null);
    for (const damaged of ['not json', 'null', '{}', JSON.stringify({ ...kept, flags: null })])
      assert.equal(await differ(answers.digest, damaged), null, damaged);
    const numbers = { ...kept, sets: kept.sets.map((_, i) => i) };
    assert.equal(await differ(answers.digest, JSON.stringify(numbers)), null);
    assert.equal(await differ(answers.digest, sets, () => Promise.resolve(false)), null);
  });

  it('keeps no sets for answers read by FETCH, or too long for one command', async () => {
    assert.equal(recordableAnswerSets((await read('fetch')).changes.answers), null);
    const answers = (await read('search')).changes.answers!;
    assert.ok(answers.by === 'search');
    const scattered = Array.from({ length: 2000 }, (_, i) => 2 * i + 1);
    assert.equal(recordableAnswerSets({ ...answers, answers: [scattered] }), null);
  });

  it('fails the folder, deleting nothing, when the server does not say which messages it has', async () => {
    const opened = await openFolder(client, 'INBOX', NEVER_OPENED, true);
    const search = client.search.bind(client);
    // Refuses only the search for the UIDs present (no flag in it), as a server may say NO.
    client.search = ((query: SearchObject, options?: Parameters<ImapFlow['search']>[1]) =>
      Object.keys(query).join() === 'uid'
        ? Promise.resolve(false)
        : search(query, options)) as ImapFlow['search'];
    try {
      await assert.rejects(remoteChanges(client, opened, null, heldUidsOf(known), 0, 'search'), {
        code: 'SERVER_NO',
        message: /nothing is deleted/,
      });
    } finally {
      client.search = search;
    }
  });

  it('picks SEARCH where it costs less than a FETCH line per message, by the round trip', () => {
    assert.equal(searchIsCheaper(2_000, 8, 1), true);
    assert.equal(searchIsCheaper(100, 8, 1), false);
    assert.equal(searchIsCheaper(2_000, 8, 30), false); // a distant server
    assert.equal(searchIsCheaper(100_000, 8, 30), true);
  });

  it('expands sequence sets, ranges either way round', () => {
    assert.deepEqual([...expandSequenceSet('')], []);
    assert.deepEqual([...expandSequenceSet('1:3,7,10:9')], [1, 2, 3, 7, 9, 10]);
  });
});
