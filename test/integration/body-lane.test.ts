/**
 * Downloads over a lane (body-lane.ts): the pass's connection handed over from imapflow, the
 * bodies read straight from the socket, then a new session for the rest of the pass. The
 * lane is taken from a threshold of new messages; here it is lowered to one so that every
 * download takes it, with hostile mail, a body spilled to disk, a cut in the middle of it,
 * and the steps that follow the download in the same pass.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox, type SampleMessage } from '../../agent/src/demo/sample-mail.js';
import { type ErrorEvent, FULL_SYNC } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import {
  imapFlagsOfLetters,
  maildirName,
  splitMaildirName,
} from '../../agent/src/sync/maildir/flags.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { HOSTILE, message } from '../support/hostile-mail.js';
import { readMaildirFolder, tmpIsEmpty } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

/** A message of about `megabytes` MB (above the 8 MB from which bodies are spilled). */
function bigMessage(megabytes: number): Buffer {
  return message([
    `Subject: ${megabytes} MB`,
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    ...Array.from({ length: Math.ceil((megabytes * 1024 * 1024) / 78) }, (_, i) =>
      String(i).padStart(76, 'Q'),
    ),
  ]);
}

const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Draft'];

describe('downloads over a lane', function () {
  this.timeout(180_000);
  let fixture: SyncFixture;
  const imapLog: string[] = [];
  const mail: SampleMessage[] = [
    ...Object.values(HOSTILE).map((raw, i) => ({
      folder: 'INBOX',
      raw,
      // Every combination of system flags turns up, and a keyword.
      flags: [...SYSTEM_FLAGS.filter((_, bit) => i & (1 << bit)), ...(i % 3 ? [] : ['$Label1'])],
      internalDate: new Date(Date.UTC(2024, 0, 1 + i, 8, 30)),
    })),
    {
      folder: 'INBOX',
      raw: bigMessage(10),
      flags: ['\\Flagged'],
      internalDate: new Date(Date.UTC(2024, 5, 1)),
    },
    ...generateMailbox({ count: 40, folders: ['INBOX', 'Lists/dev'], seed: 171 }),
  ];

  const assertIdentical = async (folder: string) => {
    const server = await fixture.dovecot.listMessages(folder);
    const local = await readMaildirFolder(fixture.folderDir(folder));
    assert.equal(local.length, server.length, `${folder}: file count`);
    const byContent = new Map(local.map((f) => [f.data.toString('latin1'), f]));
    for (const m of server) {
      const file = byContent.get(crlfToLf(m.raw).toString('latin1'));
      assert.ok(file, `${folder}: UID ${m.uid} (${m.raw.length} bytes) not stored exactly`);
      const { letters } = splitMaildirName(file.name, ':');
      assert.deepEqual(
        imapFlagsOfLetters(letters).sort(),
        m.flags.filter((f) => SYSTEM_FLAGS.includes(f)).sort(),
        `${folder}: UID ${m.uid} flags`,
      );
    }
    assert.ok(await tmpIsEmpty(fixture.folderDir(folder)), `${folder}: tmp/ left behind`);
  };

  before(async () => {
    fixture = await startSyncFixture({ mail });
  });
  after(async () => fixture?.cleanup());

  it('stores what the server sends, CRLF → LF only, with flags, keywords and dates', async () => {
    const engine = fixture.engine(
      {},
      { laneFrom: 1, protocolLog: (direction, line) => imapLog.push(`${direction} ${line}`) },
    );
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
    assert.equal(done.result, 'ok');
    assert.equal(done.stats.downloaded, mail.length);
    // The bodies came over the lane, not through imapflow's FETCH.
    const fetches = imapLog.filter((l) => /^C \S+ UID FETCH .*BODY\.PEEK\[\]/.test(l));
    assert.equal(fetches.length, 2, fetches.join('\n'));
    assert.ok(
      fetches.every((l) => /^C L\d+ /.test(l)),
      fetches.join('\n'),
    );
    await assertIdentical('INBOX');
    await assertIdentical('Lists/dev');
    // What the state holds for the three-way flag merge: keywords and internal dates too.
    const inbox = fixture.state.folders(fixture.account.id).find((f) => f.path === 'INBOX')!;
    const rows = fixture.state.messages(inbox.id);
    const server = await fixture.dovecot.listMessages('INBOX');
    assert.deepEqual(
      rows.map((r) => [r.uid, [...r.flags].sort()]),
      server.map((m) => [m.uid, m.flags.filter((f) => f !== '\\Recent').sort()]),
    );
    const dated = rows.filter((r) => r.internalDate === Date.UTC(2024, 5, 1));
    assert.equal(dated.length, 1, 'the large message keeps its INTERNALDATE');
  });

  it('leaves the folder in sync: the next pass finds nothing to do', async () => {
    const { done } = await fixture.sync();
    assert.equal(done.result, 'ok');
    assert.deepEqual([done.stats.downloaded, done.stats.flagsPulled], [0, 0]);
    assert.equal(done.stats.foldersUnchanged, done.stats.foldersSynced);
  });

  it('goes on with a new session: the steps after the download still reach the server', async () => {
    // A local flag change and new server mail in one pass: the mail comes over a lane, the
    // flag is pushed afterwards on the session that replaced the lane's.
    const dir = fixture.folderDir('Lists/dev');
    const file = (await readMaildirFolder(dir)).find(
      (f) => !splitMaildirName(f.name, ':').letters.includes('F'),
    );
    assert.ok(file);
    const { base, letters } = splitMaildirName(file.name, ':');
    await fs.rename(
      path.join(dir, file.subdir, file.name),
      path.join(dir, 'cur', maildirName(base, [...letters, 'F'].sort().join(''), ':')),
    );
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 5, folders: ['Lists/dev'], seed: 172 }),
    );
    const engine = fixture.engine({}, { laneFrom: 1 });
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
    assert.equal(done.result, 'ok');
    assert.equal(done.stats.downloaded, 5);
    assert.equal(done.stats.flagsPushed, 1);
    const server = await fixture.dovecot.listMessages('Lists/dev');
    const changed = server.find((m) => crlfToLf(m.raw).equals(file.data));
    assert.ok(changed?.flags.includes('\\Flagged'), 'the flag reached the server');
    await assertIdentical('Lists/dev');
  });

  it('resumes after a cut in the middle of a spilled body, with nothing partial left', async () => {
    const proxy = await startFaultProxy({
      host: fixture.dovecot.host,
      port: fixture.dovecot.port,
    });
    try {
      await fixture.dovecot.appendMessages([
        { folder: 'Big', raw: bigMessage(12), flags: [], internalDate: new Date() },
        ...generateMailbox({ count: 3, folders: ['Big'], seed: 173 }),
      ]);
      // 5 MB into the conversation: inside the 12 MB body.
      proxy.arm({ kind: 'cut-after-server-bytes', bytes: 5 * 1024 * 1024 });
      const engine = fixture.engine(
        {
          imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
          maxConnections: 1,
        },
        { laneFrom: 1 },
      );
      const errors: ErrorEvent[] = [];
      engine.onEvent((e) => e.type === 'error' && errors.push(e));
      const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
      assert.equal(proxy.fired.length, 1, 'the cut happened');
      assert.equal(done.result, 'ok', JSON.stringify(errors));
      assert.ok(errors.some((e) => e.code === 'CONNECTION_LOST' && e.severity === 'warning'));
      await assertIdentical('Big');
    } finally {
      await proxy.close();
    }
  });

  it('keeps every body exact through a download several times larger than what it holds', async () => {
    // 24 MB through one lane, more than it holds at once (about 4 MB of received bodies, 2 MB
    // on their way to disk): reading the socket waits for the disk, and each body is
    // converted where it lies in the socket's chunks, across their boundaries.
    const bulk = Array.from({ length: 60 }, (_, i) => ({
      folder: 'Bulk',
      raw: message([
        `Subject: bulk ${i}`,
        `Message-ID: <bulk-${i}@example.org>`,
        '',
        ...Array.from({ length: 800 + ((i * 37) % 600) }, (_, line) =>
          `${i}:${line}:`.padEnd(40 + ((i + line) % 900), String.fromCharCode(65 + (i % 26))),
        ),
      ]),
      flags: i % 2 ? ['\\Seen'] : [],
      internalDate: new Date(Date.UTC(2024, 1, 1, 0, i)),
    }));
    await fixture.dovecot.appendMessages(bulk);
    const engine = fixture.engine({ maxConnections: 1 }, { laneFrom: 1 });
    const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
    assert.equal(done.result, 'ok');
    assert.ok(done.stats.downloaded >= bulk.length);
    await assertIdentical('Bulk');
  });
});
