/**
 * Changes on both sides of messages we already hold, on every kind of server: with QRESYNC
 * (Dovecot, Fastmail), CONDSTORE only (Gmail) and neither (Exchange Online). Server flag
 * changes reach the files, file flag changes reach the server, server expunges remove files,
 * and an unchanged folder costs as little as the server allows (checked on the IMAP log).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { ImapFlow } from 'imapflow';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { FULL_SYNC, type DoneEvent } from '../../agent/src/protocol/index.js';
import type { SyncEngine } from '../../agent/src/sync/engine.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirName } from '../../agent/src/sync/maildir/flags.js';
import type { TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder, type StoredMessage } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const SERVERS = [
  { name: 'QRESYNC', capabilities: {} },
  { name: 'CONDSTORE without QRESYNC (Gmail-like)', capabilities: { qresync: false } },
  { name: 'neither CONDSTORE nor QRESYNC (Exchange-like)', capabilities: { condstore: false } },
] as const;

for (const server of SERVERS) {
  describe(`incremental two-way sync, server with ${server.name}`, function () {
    let fixture: SyncFixture;
    let dovecot: TestDovecot;
    let engine: SyncEngine;
    let imapLog: string[] = [];
    const inbox = () => fixture.folderDir('INBOX');

    async function sync(): Promise<DoneEvent> {
      imapLog = [];
      const done = await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done;
      assert.equal(done.result, 'ok', JSON.stringify(done));
      return done;
    }

    /** The file holding a server message, found by its content. */
    async function fileOf(uid: number): Promise<StoredMessage | undefined> {
      const message = (await dovecot.listMessages('INBOX')).find((m) => m.uid === uid);
      assert.ok(message, `server has no UID ${uid}`);
      const bytes = crlfToLf(message.raw);
      return (await readMaildirFolder(inbox())).find((f) => f.data.equals(bytes));
    }

    async function serverFlags(uid: number): Promise<string[]> {
      const message = (await dovecot.listMessages('INBOX')).find((m) => m.uid === uid);
      return (message?.flags ?? []).filter((f) => f !== '\\Recent').sort();
    }

    const commands = () =>
      imapLog
        .filter((l) => l.startsWith('C '))
        .map((l) => l.slice(2).split(' ').slice(1).join(' '));

    before(async () => {
      fixture = await startSyncFixture({
        dovecot: { capabilities: server.capabilities },
        mail: generateMailbox({ count: 40, folders: ['INBOX', 'Archive'], seed: 21 }).map((m) => ({
          ...m,
          flags: ['\\Seen'],
        })),
      });
      dovecot = fixture.dovecot;
      engine = fixture.engine(
        {},
        { protocolLog: (direction, line) => imapLog.push(`${direction} ${line}`) },
      );
    });

    after(async () => fixture?.cleanup());

    it('downloads everything at first', async () => {
      const done = await sync();
      assert.equal(done.stats.downloaded, 40);
      // Two folders, maxConnections 2 (the default): one connection each, in parallel.
      const logins = imapLog.filter((l) => /^C \S+ (LOGIN|AUTHENTICATE) /i.test(l));
      assert.equal(logins.length, 2, imapLog.filter((l) => l.startsWith('C ')).join('\n'));
    });

    it('resyncs an unchanged store as cheaply as the server allows', async () => {
      const done = await sync();
      assert.deepEqual(
        [
          done.stats.downloaded,
          done.stats.flagsPulled,
          done.stats.flagsPushed,
          done.stats.expungedLocal,
        ],
        [0, 0, 0, 0],
      );
      const sent = commands();
      const fetches = sent.filter((c) => /^(UID )?FETCH/i.test(c));
      const searches = sent.filter((c) => /^(UID )?SEARCH/i.test(c));
      assert.deepEqual(searches, [], 'no SEARCH: UIDNEXT and the counts say nothing is new');
      if (server.name === 'QRESYNC') {
        // Dovecot also offers LIST-STATUS: the listing's counters answer for every folder.
        assert.deepEqual(fetches, [], 'QRESYNC: nothing fetched');
        assert.deepEqual(
          sent.filter((c) => /^(SELECT|EXAMINE) /i.test(c)),
          [],
          'LIST-STATUS: no folder opened',
        );
        assert.ok(
          sent.some((c) => /^LIST .*RETURN \(STATUS \(.*HIGHESTMODSEQ/.test(c)),
          sent.join('\n'),
        );
      } else if (server.name.startsWith('CONDSTORE')) {
        assert.deepEqual(fetches, [], 'CONDSTORE: HIGHESTMODSEQ did not move');
      } else {
        // Without CONDSTORE the only way to see flag changes is one FLAGS scan per folder.
        assert.equal(fetches.length, 2, fetches.join('\n'));
        for (const f of fetches) assert.match(f, /^UID FETCH 1:\d+ \(UID FLAGS\)$/);
      }
    });

    it('applies changes from both sides: flags merged per flag, server expunges removed', async () => {
      // Server side: UID 1 flagged instead of seen, UID 2 answered, UID 3 expunged,
      // UID 5 marked unread. Local side: UID 4 and UID 5 flagged (UID 5: both sides changed it).
      await dovecot.setFlags('INBOX', 1, ['\\Flagged']);
      await dovecot.setFlags('INBOX', 2, ['\\Seen', '\\Answered']);
      await dovecot.setFlags('INBOX', 5, []);
      for (const uid of [4, 5]) {
        const file = (await fileOf(uid))!;
        const base = file.name.slice(0, file.name.lastIndexOf(':2,'));
        await fs.rename(
          path.join(inbox(), file.subdir, file.name),
          path.join(inbox(), 'cur', maildirName(base, 'FS')),
        );
      }
      const file3 = (await fileOf(3))!;
      const client = await dovecot.client();
      await client.mailboxOpen('INBOX');
      await client.messageDelete('3', { uid: true });
      await client.logout();

      const done = await sync();
      assert.equal(done.stats.flagsPulled, 3, 'UIDs 1, 2, 5 renamed');
      assert.equal(done.stats.flagsPushed, 2, 'UIDs 4, 5 stored');
      assert.equal(done.stats.expungedLocal, 1);
      assert.equal((await fileOf(1))?.letters, 'F');
      assert.equal((await fileOf(2))?.letters, 'RS');
      assert.equal((await fileOf(4))?.letters, 'FS');
      assert.equal((await fileOf(5))?.letters, 'F');
      assert.deepEqual(await serverFlags(4), ['\\Flagged', '\\Seen']);
      assert.deepEqual(await serverFlags(5), ['\\Flagged']);
      const names = (await readMaildirFolder(inbox())).map((f) => f.name);
      assert.ok(!names.includes(file3.name), 'the expunged message file is gone');
      assert.equal(names.length, (await dovecot.listMessages('INBOX')).length);
    });

    it('finds what another client delivered and expunged between this pass opening the folder and its upload', async () => {
      // The delivery gets a UID below the upload's: the upload is then the highest UID held.
      await fs.writeFile(
        path.join(inbox(), 'new', '1700000300.here.host'),
        'Subject: written here\nMessage-ID: <here@storesync.test>\n\nbody\n',
      );
      const theirs = generateMailbox({ count: 1, folders: ['INBOX'], seed: 23 });
      const [gone] = await dovecot.listMessages('INBOX');
      const realAppend = ImapFlow.prototype.append;
      let meanwhile = false;
      ImapFlow.prototype.append = async function (this: ImapFlow, ...args) {
        if (!meanwhile) {
          meanwhile = true;
          await dovecot.appendMessages(theirs);
          const other = await dovecot.client();
          await other.mailboxOpen('INBOX');
          await other.messageDelete(String(gone!.uid), { uid: true });
          await other.logout();
        }
        return realAppend.apply(this, args);
      } as typeof realAppend;
      try {
        assert.equal((await sync()).stats.uploaded, 1);
      } finally {
        ImapFlow.prototype.append = realAppend;
      }
      // A flag changed here as well, so that the next pass reads the state's rows up front.
      const [flagged] = (await readMaildirFolder(inbox())).filter(
        (f) => f.subdir === 'cur' && !f.letters.includes('F'),
      );
      const base = flagged!.name.slice(0, flagged!.name.lastIndexOf(':2,'));
      await fs.rename(
        path.join(inbox(), 'cur', flagged!.name),
        path.join(inbox(), 'cur', maildirName(base, [...`F${flagged!.letters}`].sort().join(''))),
      );
      const next = await sync();
      assert.deepEqual(
        [next.stats.downloaded, next.stats.expungedLocal, next.stats.flagsPushed],
        [1, 1, 1],
      );
      const server = (await dovecot.listMessages('INBOX'))
        .map((m) => crlfToLf(m.raw).toString('latin1'))
        .sort();
      const local = (await readMaildirFolder(inbox())).map((f) => f.data.toString('latin1')).sort();
      assert.deepEqual(local, server);
    });

    it('then finds nothing more to do', async () => {
      const done = await sync();
      assert.deepEqual(
        [
          done.stats.downloaded,
          done.stats.flagsPulled,
          done.stats.flagsPushed,
          done.stats.expungedLocal,
        ],
        [0, 0, 0, 0],
      );
    });
  });
}
