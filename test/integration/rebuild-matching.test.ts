/**
 * Matching files to the server's messages again, when the state is lost or the server
 * renumbers a folder, with messages that make it hard: bytes a Maildir file cannot give back
 * as the server has them ("\r\r\n" stored as "\r\n"), Message-IDs a careless reading finds
 * elsewhere than the server does, header blocks a headers-only pass stored, and two messages
 * alike in Message-ID and size. Each time: nothing downloaded or uploaded again, one copy
 * on each side.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { appendLandedBeforeCrash } from '../support/crash-appends.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const sorted = (all: Buffer[]) => all.map((b) => b.toString('latin1')).sort();
const inInbox = (raws: Buffer[]) =>
  raws.map((raw, i) => ({
    folder: 'INBOX',
    raw,
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2024, 0, 1 + i)),
  }));

async function sync(fixture: SyncFixture, headersOnly = false) {
  const { done, errors } = await fixture.sync({ ...FULL_SYNC, headersOnly });
  assert.deepEqual(
    errors.filter((e) => e.severity !== 'info'),
    [],
  );
  assert.equal(done.result, 'ok');
  return done.stats;
}

/** What a server restored from a backup does: the same messages under a new UIDVALIDITY. */
async function renumber(fixture: SyncFixture) {
  const { dovecot } = fixture;
  await dovecot.stop();
  for (const name of await fs.readdir(dovecot.maildirRoot))
    if (name === 'dovecot-uidlist' || name.startsWith('dovecot.index'))
      await fs.rm(path.join(dovecot.maildirRoot, name));
  await new Promise((resolve) => setTimeout(resolve, 1100)); // a UIDVALIDITY of another second
  await dovecot.restart();
}

async function assertOneCopyEach(fixture: SyncFixture, count: number) {
  const server = await fixture.dovecot.listMessages('INBOX');
  const local = await readMaildirFolder(fixture.folderDir('INBOX'));
  assert.equal(server.length, count, 'messages on the server');
  assert.deepEqual(sorted(local.map((m) => m.data)), sorted(server.map((m) => crlfToLf(m.raw))));
}

const CASES: Record<string, Buffer> = {
  // Served as "line\r\r\n", stored as "line\r\n": its file is that message, not a new one.
  'a CR before a line end': bytes('Message-ID: <crcr@x>\r\nSubject: s\r\n\r\nline\r\r\r\nend\r\n'),
  'a lone CR before a "Message-ID:" inside a field': bytes(
    'X-A: 1\rMessage-ID: <fake@x>\r\nMessage-ID: <real@x>\r\n\r\nb\r\n',
  ),
  'no header block, a "Message-ID:" line in the body': bytes(
    '\r\nbody\r\nMessage-ID: <inbody@x>\r\n\r\nmore\r\n',
  ),
  'all header, its Message-ID after 64 KB': bytes(
    Array.from({ length: 6000 }, (_, i) => `X-H${i}: v${i}\r\n`).join('') +
      'Message-ID: <late@x>\r\n',
  ),
};

/** Files written here whose server copy reads otherwise than a careless reading of them. */
const LOCAL_CASES: Record<string, Buffer> = {
  // The server keeps the NUL and serves it as 0x80.
  'a NUL in its Message-ID': bytes('Subject: nul\0here\nMessage-ID: <nul\0id@x>\n\nbody\0\n'),
  // A line ended by LF alone, then an empty line ended by CRLF: the header block ends there,
  // and the "Message-ID:" line is in the body.
  'a header block closed by "\\n\\r\\n"': bytes(
    'Subject: mixed\n\r\nMessage-ID: <in-body@x>\n\nbody\n',
  ),
};

describe('matching files to messages again with hard messages', function () {
  this.timeout(120_000);
  let fixture: SyncFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  for (const [name, raw] of Object.entries(CASES)) {
    for (const how of ['the state lost', 'the folder renumbered'] as const) {
      it(`${name}: ${how}`, async () => {
        fixture = await startSyncFixture({ mail: inInbox([raw]) });
        assert.equal((await sync(fixture)).downloaded, 1);
        await assertOneCopyEach(fixture, 1);
        if (how === 'the state lost') await fixture.discardState();
        else await renumber(fixture);
        const stats = await sync(fixture);
        assert.deepEqual([stats.downloaded, stats.uploaded], [0, 0], 'downloaded, uploaded');
        await assertOneCopyEach(fixture, 1);
      });
    }
  }

  for (const [name, raw] of Object.entries(LOCAL_CASES)) {
    for (const how of ['the state lost', 'the folder renumbered'] as const) {
      it(`a file uploaded from here, ${name}: ${how}`, async () => {
        fixture = await startSyncFixture();
        await sync(fixture); // creates the local INBOX
        const file = path.join(fixture.folderDir('INBOX'), 'cur', '1700000009.mine.host:2,S');
        await fs.writeFile(file, raw);
        assert.equal((await sync(fixture)).uploaded, 1);
        if (how === 'the state lost') await fixture.discardState();
        else await renumber(fixture);
        const stats = await sync(fixture);
        assert.deepEqual([stats.downloaded, stats.uploaded], [0, 0], 'downloaded, uploaded');
        assert.equal((await fixture.dovecot.listMessages('INBOX')).length, 1);
        assert.equal((await readMaildirFolder(fixture.folderDir('INBOX'))).length, 1);
        assert.ok((await fs.readFile(file)).equals(raw), 'the file changed');
      });
    }
  }

  it('header blocks a headers-only pass stored, the state lost: none uploaded as a message', async () => {
    const raws = [
      bytes('Message-ID: <plain@x>\r\nSubject: plain\r\n\r\nan ordinary body\r\n'),
      bytes('Subject: no id\r\n\r\nanother body\r\n'),
      // No header field: its header block is the blank line alone.
      bytes('\r\nSubject: in the body\r\n'),
    ];
    fixture = await startSyncFixture({ mail: inInbox(raws) });
    assert.equal((await sync(fixture, true)).downloaded, 3);
    await fixture.discardState();
    const stats = await sync(fixture, true);
    assert.deepEqual([stats.uploaded, stats.downloaded], [0, 0]);
    assert.equal((await fixture.dovecot.listMessages('INBOX')).length, 3);
    // And a full pass still completes them: the rows know they are header blocks.
    await sync(fixture);
    await assertOneCopyEach(fixture, 3);
  });

  it('two messages alike in Message-ID and size: each file stays with its own', async () => {
    const a = bytes('Message-ID: <list@x>\r\nSubject: copy\r\n\r\nbody A\r\n');
    const b = bytes('Message-ID: <list@x>\r\nSubject: copy\r\n\r\nbody B\r\n');
    fixture = await startSyncFixture({ mail: inInbox([a, b]) });
    await sync(fixture);
    // The server loses A (restored from an older backup, say) and renumbers.
    const client = await fixture.dovecot.client();
    await client.mailboxOpen('INBOX');
    const [first] = await fixture.dovecot.listMessages('INBOX');
    assert.ok(first!.raw.equals(a));
    await client.messageDelete(String(first!.uid), { uid: true });
    await client.logout();
    await renumber(fixture);
    await sync(fixture);
    await sync(fixture);
    await assertOneCopyEach(fixture, 2);
  });

  for (const kind of ['with a Message-ID', 'without one', 'as header blocks'] as const) {
    it(`copies alike byte for byte with other flags each, ${kind}, the state lost: each keeps its flags`, async () => {
      const raw = bytes(
        `${kind === 'without one' ? '' : 'Message-ID: <twin@x>\r\n'}Subject: twin\r\n\r\nbody\r\n`,
      );
      const flagSets = [[], ['\\Seen'], ['\\Flagged'], ['\\Answered', '\\Seen']];
      fixture = await startSyncFixture({
        mail: flagSets.map((flags) => ({ ...inInbox([raw])[0]!, flags })),
      });
      const headersOnly = kind === 'as header blocks';
      await sync(fixture, headersOnly);
      await fixture.discardState();
      // The files made again in another order than the server's (whichever way the directory
      // lists them, by creation or against it): a file meets another copy's message first.
      const cur = path.join(fixture.folderDir('INBOX'), 'cur');
      const files = (await readMaildirFolder(fixture.folderDir('INBOX'))).sort((x, y) =>
        x.name.localeCompare(y.name),
      );
      for (const [i, file] of [...files.slice(1), files[0]!].entries()) {
        await fs.rm(path.join(cur, file.name));
        await fs.writeFile(
          path.join(cur, `${1700000000 + i}.copy.host:2,${file.letters}`),
          file.data,
        );
      }
      const names = async () =>
        (await readMaildirFolder(fixture!.folderDir('INBOX'))).map((m) => m.name).sort();
      const before = await names();
      const stats = await sync(fixture, headersOnly);
      assert.deepEqual(
        [stats.downloaded, stats.uploaded, stats.flagsPulled, stats.flagsPushed],
        [0, 0, 0, 0],
        'downloaded, uploaded, flags pulled and pushed',
      );
      assert.deepEqual(await names(), before);
      assert.deepEqual(
        (await fixture.dovecot.listMessages('INBOX')).map((m) => m.flags.sort()),
        flagSets,
      );
    });
  }

  it('finds by its Message-ID a message whose header block passes 64 KB, downloaded over a lane', async () => {
    const big = bytes(
      Array.from({ length: 6000 }, (_, i) => `X-H${i}: v${i}\r\n`).join('') +
        'Message-ID: <big-header@x>\r\n\r\nbody\r\n',
    );
    // Enough new messages for the download to take a lane of its own.
    const fillers = Array.from({ length: 70 }, (_, i) =>
      bytes(`Message-ID: <f${i}@x>\r\n\r\nfill\r\n`),
    );
    fixture = await startSyncFixture({ mail: inInbox([big, ...fillers]) });
    const engine = fixture.engine();
    assert.equal((await engine.start({ flags: FULL_SYNC, trigger: 'cli' }).done).result, 'ok');
    const found = await engine.lookupMessage('<big-header@x>');
    assert.deepEqual(
      found.map((place) => place.folder),
      ['INBOX'],
    );
  });

  for (const [how, raw] of [
    [
      'by Message-ID and bytes',
      bytes('Message-ID: <estimated@x>\r\nSubject: s\r\n\r\nthe body\r\n'),
    ],
    ['without a Message-ID, by bytes', bytes('Subject: no id\r\n\r\nthe body\r\n')],
  ] as const) {
    it(`the state lost, and the server reports a size other than it serves: matched ${how}`, async () => {
      fixture = await startSyncFixture({ mail: inInbox([raw]) });
      await sync(fixture);
      await fixture.discardState();
      const proxy = await startFaultProxy({
        host: fixture.dovecot.host,
        port: fixture.dovecot.port,
      });
      try {
        // As some servers do, an estimate: a few bytes more than the message has.
        proxy.arm({
          kind: 'edit-server-line',
          pattern: /^\* \d+ FETCH \(.*RFC822\.SIZE \d+/,
          edit: (line) =>
            line.replace(/RFC822\.SIZE (\d+)/, (_, n) => `RFC822.SIZE ${Number(n) + 7}`),
        });
        const { done, errors } = await fixture.sync(undefined, {
          imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
          maxConnections: 1,
        });
        assert.equal(proxy.fired.length, 1, 'the size was doctored');
        assert.deepEqual(errors, []);
        assert.deepEqual([done.stats.downloaded, done.stats.uploaded], [0, 0]);
        await assertOneCopyEach(fixture, 1);
      } finally {
        await proxy.close();
      }
    });
  }

  it('an APPEND a crash left unconfirmed, then the folder renumbered: the file is that message', async () => {
    const raw = bytes('Message-ID: <kept@x>\r\nSubject: s\r\n\r\nbody\r\n');
    fixture = await startSyncFixture({ mail: inInbox([raw]) });
    await sync(fixture);
    const body = bytes('Message-ID: <journalled@x>\nSubject: mine\n\nwritten here\n');
    const base = '1700000008.journalled.otherclient';
    await fs.writeFile(path.join(fixture.folderDir('INBOX'), 'cur', `${base}:2,S`), body);
    const { folderId } = await appendLandedBeforeCrash(fixture.state, fixture.dovecot, base, body);
    await renumber(fixture);
    const stats = await sync(fixture);
    assert.deepEqual([stats.downloaded, stats.uploaded], [0, 0], 'downloaded, uploaded');
    await assertOneCopyEach(fixture, 2);
    assert.deepEqual(fixture.state.pendingAppends(folderId), []);
  });
});
