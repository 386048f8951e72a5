/**
 * The server renumbers a folder (new UIDVALIDITY, new UIDs): our files are matched to its
 * messages again, nothing is downloaded twice, and a flag change made here before the
 * renumbering still reaches the server. The user is told (an informational UIDVALIDITY_CHANGED
 * event) without the run failing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import type { DoneEvent, ErrorEvent } from '../../agent/src/protocol/index.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirName } from '../../agent/src/sync/maildir/flags.js';
import type { TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';

describe('server renumbers a folder (UIDVALIDITY change)', function () {
  let fixture: SyncFixture;
  let dovecot: TestDovecot;
  const inbox = () => fixture.folderDir('INBOX');

  let events: ErrorEvent[] = [];
  async function sync(): Promise<DoneEvent> {
    const { done, errors } = await fixture.sync();
    assert.equal(done.result, 'ok', JSON.stringify(done));
    events = errors;
    return done;
  }

  async function uidValidity(): Promise<bigint> {
    const client = await dovecot.client();
    const mailbox = await client.mailboxOpen('INBOX', { readOnly: true });
    await client.logout();
    return mailbox.uidValidity;
  }

  before(async () => {
    fixture = await startSyncFixture({
      mail: generateMailbox({ count: 30, folders: ['INBOX'], seed: 41 }).map((m) => ({
        ...m,
        flags: ['\\Seen'],
      })),
    });
    dovecot = fixture.dovecot;
    assert.equal((await sync()).stats.downloaded, 30);
  });

  after(async () => fixture?.cleanup());

  it('matches the files again, downloads only what is really new, keeps local changes', async () => {
    // A change here, not yet synced.
    const [flagged] = await readMaildirFolder(inbox());
    const base = flagged!.name.slice(0, flagged!.name.lastIndexOf(':2,'));
    await fs.rename(
      path.join(inbox(), flagged!.subdir, flagged!.name),
      path.join(inbox(), 'cur', maildirName(base, 'FS')),
    );

    const before = await renumberInbox();
    const [fresh] = generateMailbox({ count: 1, folders: ['INBOX'], seed: 4242 });
    await dovecot.appendMessages([fresh!]);

    const done = await sync();
    assert.equal(done.stats.downloaded, 1, 'only the new message');
    assert.equal(done.stats.uploaded, 0, 'nothing sent back');
    assert.equal(done.stats.flagsPushed, 1, 'the local change survived the renumbering');

    const server = await dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(inbox());
    assert.equal(local.length, server.length);
    const localBytes = new Set(local.map((m) => m.data.toString('latin1')));
    for (const m of server)
      assert.ok(localBytes.has(crlfToLf(m.raw).toString('latin1')), `UID ${m.uid} has its file`);
    const serverFlagged = server.find((m) => crlfToLf(m.raw).equals(flagged!.data));
    assert.ok(serverFlagged?.flags.includes('\\Flagged'));

    // Told, as news rather than a failure (the run above was ok).
    assert.equal(events.length, 1, JSON.stringify(events));
    const [event] = events;
    assert.equal(event!.code, 'UIDVALIDITY_CHANGED');
    assert.equal(event!.severity, 'info');
    assert.equal(event!.retryable, false);
    assert.equal(event!.folder, 'INBOX');
    assert.ok(event!.message.includes(`${before} → ${await uidValidity()}`), event!.message);
    assert.match(event!.message, /30 messages matched again, 1 new to download/);
    assert.match(event!.hint, /Nothing is lost/);
  });

  it('then syncs incrementally under the new numbering', async () => {
    const done = await sync();
    assert.deepEqual(
      [done.stats.downloaded, done.stats.uploaded, done.stats.flagsPushed, done.stats.flagsPulled],
      [0, 0, 0, 0],
    );
    assert.deepEqual(events, [], 'nothing to tell once matched');
  });

  it('sync --once --json: exits 0 and lists the renumbering', async () => {
    // A Maildir and state of its own, filled by a first run.
    const cliDir = path.join(fixture.dir, 'cli');
    await fs.mkdir(cliDir);
    const configFile = await writeTestConfig(cliDir, dovecot, {
      passwordEnv: fixture.passwordEnv,
    });
    const cli = () => runCli(['sync', '--config', configFile, '--once', '--json']);
    let result = await cli();
    assert.equal(result.code, 0, result.stderr + result.stdout);

    await renumberInbox();
    result = await cli();
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop()!);
    assert.equal(summary.ok, true);
    assert.deepEqual(
      summary.errors.map((e: { code: string; folder: string }) => [e.code, e.folder]),
      [['UIDVALIDITY_CHANGED', 'INBOX']],
    );
  });

  /** The server loses its UID list and index: it numbers every message afresh. */
  async function renumberInbox(): Promise<bigint> {
    const before = await uidValidity();
    await dovecot.stop();
    for (const name of await fs.readdir(dovecot.maildirRoot)) {
      if (name === 'dovecot-uidlist' || name.startsWith('dovecot.index'))
        await fs.rm(path.join(dovecot.maildirRoot, name));
    }
    await new Promise((r) => setTimeout(r, 1100)); // UIDVALIDITY is a timestamp
    await dovecot.restart();
    assert.notEqual(await uidValidity(), before, 'the server did renumber');
    return before;
  }
});
