/**
 * A server that answers wrongly (Dovecot behind a proxy that leaves one response line out,
 * as broken servers do): without CONDSTORE, a message missing from the FETCH of every flag is
 * not taken as expunged (its file stays), and a message a download never got is fetched by a
 * later pass, though its UID is below the highest held.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { FULL_SYNC, type ErrorEvent } from '../../agent/src/protocol/index.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

/** INBOX's files hold exactly the server's messages (CRLF → LF), no more, no fewer. */
async function assertInboxIdentical(fixture: SyncFixture): Promise<void> {
  const server = (await fixture.dovecot.listMessages('INBOX'))
    .map((m) => crlfToLf(m.raw).toString('latin1'))
    .sort();
  const local = (await readMaildirFolder(fixture.folderDir('INBOX')))
    .map((m) => m.data.toString('latin1'))
    .sort();
  assert.equal(local.length, server.length, 'files vs messages');
  assert.ok(
    local.every((m, i) => m === server[i]),
    'contents differ',
  );
}

describe('a server that leaves responses out (no CONDSTORE)', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;
  const throughProxy = () => ({
    imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port },
    maxConnections: 1,
  });

  const assertIdentical = () => assertInboxIdentical(fixture);

  before(async () => {
    fixture = await startSyncFixture({
      dovecot: { capabilities: { condstore: false } },
      // A small folder: its flags are read with one FETCH.
      mail: generateMailbox({ count: 12, folders: ['INBOX'], seed: 41 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
    const { done, errors } = await fixture.sync(undefined, throughProxy());
    assert.deepEqual(errors, []);
    assert.equal(done.stats.downloaded, 12);
  });
  after(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  it('keeps the file of a message the FETCH of every flag left out', async () => {
    const [, second] = await fixture.dovecot.listMessages('INBOX');
    proxy.arm({
      kind: 'drop-server-line',
      pattern: new RegExp(
        `^\\* \\d+ FETCH \\((UID ${second!.uid} FLAGS|FLAGS \\(.*\\) UID ${second!.uid}\\))`,
      ),
    });
    const { done, errors } = await fixture.sync(undefined, throughProxy());
    assert.equal(proxy.fired.length, 1, 'the line was left out');
    assert.deepEqual(errors, []);
    assert.equal(done.stats.expungedLocal, 0);
    await assertIdentical();
  });

  it('fetches in a later pass a message an earlier download never got, below the highest held', async () => {
    // As a pass leaves it when the server answered a FETCH of new messages without one of
    // them (Exchange does, for a message it cannot convert): neither a row nor a file.
    const folder = fixture.state.folders('a').find((f) => f.path === 'INBOX')!;
    const rows = fixture.state.messages(folder.id);
    const lost = rows[5]!;
    fixture.state.applyFolderChanges(folder.id, [], [lost.uid]);
    const [file] = (await readMaildirFolder(fixture.folderDir('INBOX'))).filter((m) =>
      m.name.startsWith(lost.base),
    );
    await fs.rm(path.join(fixture.folderDir('INBOX'), file!.subdir, file!.name));
    assert.ok(lost.uid < rows.at(-1)!.uid, 'below the highest held');

    const { done, errors } = await fixture.sync(undefined, throughProxy());
    assert.deepEqual(errors, []);
    assert.equal(done.stats.downloaded, 1);
    assert.equal(done.stats.uploaded, 0);
    await assertIdentical();
    const again = await fixture.sync(undefined, throughProxy());
    assert.equal(again.done.stats.downloaded, 0);
  });

  it('syncs a folder the server lists twice, and INBOX also listed as "Inbox", once', async () => {
    await fixture.dovecot.appendMessages(
      generateMailbox({ count: 4, folders: ['INBOX'], seed: 43 }),
    );
    const before = (await fixture.dovecot.listMessages('INBOX')).length;
    proxy.arm({
      kind: 'edit-server-line',
      pattern: /^\* LIST \([^)]*\) "[^"]*" "?INBOX"?\r\n$/,
      edit: (line) => line + line + line.replace(/INBOX/, 'Inbox'),
    });
    const { done, errors } = await fixture.sync(undefined, {
      ...throughProxy(),
      maxConnections: 3,
    });
    assert.equal(proxy.fired.length, 2, 'the listing was doctored');
    assert.deepEqual(errors, []);
    assert.equal(done.stats.foldersSynced, 1, 'INBOX once');
    assert.equal(done.stats.downloaded, 4);
    assert.equal(done.stats.uploaded, 0);
    assert.equal((await fixture.dovecot.listMessages('INBOX')).length, before);
    await assertIdentical();
  });

  for (const [what, uidFor] of [
    ['a UID that was not asked for', () => 4_000_000],
    ['the UID of the message before it', (uid: number) => uid - 1],
  ] as const) {
    it(`stores nothing under ${what}, and gets the message in the next pass`, async () => {
      await fixture.dovecot.appendMessages(
        generateMailbox({ count: 3, folders: ['INBOX'], seed: what.length }),
      );
      const middle = (await fixture.dovecot.listMessages('INBOX')).at(-2)!;
      const fired = proxy.fired.length;
      proxy.arm({
        kind: 'edit-server-line',
        pattern: new RegExp(`^\\* \\d+ FETCH \\(UID ${middle.uid} .*BODY\\[\\] \\{\\d+\\}\\r\\n$`),
        edit: (line) => line.replace(`UID ${middle.uid} `, `UID ${uidFor(middle.uid)} `),
      });
      const first = await fixture.sync(undefined, throughProxy());
      assert.equal(proxy.fired.length, fired + 1, 'the answer was doctored');
      assert.equal(first.done.result, 'ok');
      assert.deepEqual(
        first.errors.map((e) => [e.code, e.severity, e.message]),
        [
          [
            'MESSAGE_UNAVAILABLE',
            'warning',
            `The server did not send a message of "INBOX" when asked (UID ${middle.uid})`,
          ],
        ],
      );
      assert.equal(first.done.stats.downloaded, 2);
      assert.equal(first.done.stats.uploaded, 0, 'no copy went back to the server');
      const second = await fixture.sync(undefined, throughProxy());
      assert.deepEqual(second.errors, []);
      assert.equal(second.done.stats.downloaded, 1);
      assert.equal(second.done.stats.uploaded, 0);
      await assertIdentical();
    });
  }

  it('counts each folder once when a dropped connection made the pass start again', async () => {
    await fixture.dovecot.appendMessages([
      ...generateMailbox({ count: 2, folders: ['INBOX'], seed: 44 }),
      {
        folder: 'Zeta',
        raw: Buffer.from(
          'Subject: cut-here-marker\r\nMessage-ID: <cut@example.com>\r\n\r\nbody\r\n',
        ),
        flags: [],
        internalDate: new Date('2024-01-01T00:00:00Z'),
      },
    ]);
    // INBOX goes first (one connection); the cut comes in the middle of Zeta's download.
    proxy.arm({ kind: 'cut-when-server-says', pattern: /cut-here-marker/ });
    const { done } = await fixture.sync(undefined, throughProxy());
    assert.equal(done.result, 'ok');
    assert.ok(
      proxy.fired.some((f) => f.kind === 'cut-when-server-says'),
      'the cut happened',
    );
    const { foldersSynced, foldersUnchanged, foldersFailed } = done.stats;
    assert.equal(foldersSynced + foldersUnchanged + foldersFailed, 2, JSON.stringify(done.stats));
    assert.equal(done.stats.downloaded, 3, 'what each attempt stored still counts');
  });

  it('shows an ALERT the server sends once per run, as a warning, and the run goes on', async () => {
    // Heard twice in the pass: at login and again when INBOX is opened.
    for (const pattern of [/^\S+ OK .*Logged in/, /^\S+ OK \[READ-(WRITE|ONLY)\]/]) {
      proxy.arm({
        kind: 'edit-server-line',
        pattern,
        edit: (line) => `* OK [ALERT] Your mailbox is 95% full\r\n${line}`,
      });
    }
    const fired = proxy.fired.length;
    const { done, errors } = await fixture.sync(undefined, throughProxy());
    assert.equal(proxy.fired.length, fired + 2, 'both were sent');
    assert.equal(done.result, 'ok');
    const alerts = errors.filter((e) => e.code === 'SERVER_ALERT');
    assert.equal(alerts.length, 1, JSON.stringify(errors));
    assert.equal(alerts[0]!.severity, 'warning');
    assert.equal(alerts[0]!.message, 'The server says: Your mailbox is 95% full');
    assert.match(alerts[0]!.hint, /asked for this to be shown to you/);
  });
});

describe('a server whose FETCH answer cannot be read (CONDSTORE and QRESYNC offered)', function () {
  this.timeout(120_000);
  let fixture: SyncFixture;
  let proxy: FaultProxy;

  beforeEach(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 6, folders: ['INBOX'], seed: 47 }),
    });
    proxy = await startFaultProxy({ host: fixture.dovecot.host, port: fixture.dovecot.port });
  });
  afterEach(async () => {
    await proxy?.close();
    await fixture?.cleanup();
  });

  // A literal whose length is not what its header announced: the bytes after it are no
  // longer where the answer's grammar puts them, so the message (and, when it announced
  // more, the one after it) cannot be told apart from the rest.
  for (const [how, by] of [
    ['longer', 50],
    ['shorter', -50],
  ] as const)
    for (const [over, laneFrom] of [
      ["on the pass's session", undefined],
      ['over a download lane', 1],
    ] as const)
      it(`stores no wrong message when a literal announces ${Math.abs(by)} bytes ${how} than it holds (${over}), warns, and the next pass gets the rest`, async () => {
        const third = (await fixture.dovecot.listMessages('INBOX'))[2]!;
        proxy.arm({
          kind: 'edit-server-line',
          pattern: new RegExp(`^\\* \\d+ FETCH \\(UID ${third.uid} .*BODY\\[\\] \\{\\d+\\}\\r\\n$`),
          edit: (line) => line.replace(/\{(\d+)\}/, (_, n: string) => `{${Number(n) + by}}`),
        });
        const engine = fixture.engine(
          { imap: { ...fixture.account.imap, host: proxy.host, port: proxy.port } },
          { laneFrom },
        );
        const errors: ErrorEvent[] = [];
        engine.onEvent((e) => e.type === 'error' && errors.push(e));
        const done = await engine.start({ flags: FULL_SYNC, trigger: 'user' }).done;
        assert.equal(proxy.fired.length, 1, 'the answer was doctored');
        assert.equal(done.result, 'ok', JSON.stringify(errors));
        assert.deepEqual(
          errors.map((e) => [e.code, e.severity, e.folder]),
          [['MESSAGE_UNAVAILABLE', 'warning', 'INBOX']],
        );
        assert.match(errors[0]!.message, new RegExp(`UID ${third.uid}\\b`));
        const server = new Set(
          (await fixture.dovecot.listMessages('INBOX')).map((m) =>
            crlfToLf(m.raw).toString('latin1'),
          ),
        );
        const local = await readMaildirFolder(fixture.folderDir('INBOX'));
        assert.equal(local.length, 6 - (by > 0 ? 2 : 1), 'the unreadable ones left out');
        for (const file of local)
          assert.ok(server.has(file.data.toString('latin1')), `${file.name} is a server message`);

        // With QRESYNC, the SELECT of the next pass names changes only: the count tells.
        const again = await fixture.sync();
        assert.deepEqual(again.errors, []);
        assert.equal(again.done.stats.downloaded, by > 0 ? 2 : 1);
        assert.equal(again.done.stats.uploaded, 0);
        await assertInboxIdentical(fixture);
        const third_ = await fixture.sync();
        assert.equal(third_.done.stats.foldersUnchanged, 1, 'then in sync');
      });
});
