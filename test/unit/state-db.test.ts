import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeMessageId, RUNS_KEPT, StateDb } from '../../agent/src/sync/state-db.js';
import { FULL_SYNC, emptyStats } from '../../agent/src/protocol/index.js';

describe('sync state database', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-state-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('upgrades a version 1 file, keeping its messages', () => {
    const file = path.join(dir, 'state.db');
    const v1 = new Database(file);
    v1.exec(`
      CREATE TABLE folders (id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, path TEXT NOT NULL, server_path TEXT NOT NULL,
        delimiter TEXT, uidvalidity INTEGER, uidnext INTEGER, highestmodseq TEXT, last_sync_at INTEGER, UNIQUE (account_id, path));
      CREATE TABLE messages (folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE, uid INTEGER NOT NULL,
        base TEXT NOT NULL, flags TEXT NOT NULL, size INTEGER NOT NULL, internal_date INTEGER, PRIMARY KEY (folder_id, uid)) WITHOUT ROWID;
      INSERT INTO folders (id, account_id, path, server_path, delimiter, uidvalidity) VALUES (1, 'a', 'INBOX', 'INBOX', '/', 7);
      INSERT INTO messages VALUES (1, 42, 'base42', '\\Seen', 100, NULL);
      PRAGMA user_version = 1;
    `);
    v1.close();
    const state = new StateDb(file);
    assert.deepEqual(state.messages(1), [
      {
        uid: 42,
        base: 'base42',
        flags: ['\\Seen'],
        size: 100,
        internalDate: null,
        partial: false,
        messageId: null,
      },
    ]);
    assert.equal(state.folders('a')[0]?.uidValidity, 7);
    state.close();
    assert.equal(new Database(file).pragma('user_version', { simple: true }), 11);
    // Rows from before Message-IDs were kept are listed for the index to fill in.
    const again = new StateDb(file);
    assert.deepEqual(again.messagesWithoutMessageId(1), [{ uid: 42, base: 'base42' }]);
    again.close();
  });

  it('keeps the database readable by the user only, whatever the umask', () => {
    const previous = process.umask(0o022);
    try {
      const fresh = path.join(dir, 'private.db');
      const state = new StateDb(fresh);
      state.folder('a', 'INBOX', 'INBOX', '/');
      for (const suffix of ['', '-wal', '-shm'])
        assert.equal(fs.statSync(fresh + suffix).mode & 0o777, 0o600, `state.db${suffix}`);
      state.close();
    } finally {
      process.umask(previous);
    }
  });

  it('refuses a file from a newer version instead of damaging it', () => {
    const file = path.join(dir, 'state.db');
    const future = new Database(file);
    future.pragma('user_version = 99');
    future.close();
    assert.throws(() => new StateDb(file), /newer StoreSync \(schema 99\)/);
  });

  it('forgets a folder with its messages and journal in one go', () => {
    const state = new StateDb(path.join(dir, 'state.db'));
    const folder = state.folder('a', 'Old', 'Old', '/');
    state.recordMessages(folder.id, [
      { uid: 1, base: 'b1', flags: [], size: 1, internalDate: null },
    ]);
    state.journalAppend(folder.id, { base: 'b2', sha256: 'x', size: 2, uidNextBefore: 2 });
    state.deleteFolder(folder.id);
    assert.deepEqual(state.messages(folder.id), []);
    assert.deepEqual(state.pendingAppends(folder.id), []);
    assert.deepEqual(state.folders('a'), []);
    state.close();
  });

  it('finds a message by its Message-ID however Outlook writes it', () => {
    const state = new StateDb(path.join(dir, 'state.db'));
    const inbox = state.folder('work', 'INBOX', 'INBOX', '/');
    const archive = state.folder('work', 'Archive', 'Archive', '/');
    state.recordMessages(inbox.id, [
      {
        uid: 5,
        base: 'b5',
        flags: [],
        size: 10,
        internalDate: null,
        messageId: normalizeMessageId('<Abc.1@Example.COM>'),
      },
      { uid: 6, base: 'b6', flags: [], size: 10, internalDate: null, messageId: '' },
    ]);
    state.recordMessages(archive.id, [
      {
        uid: 9,
        base: 'b9',
        flags: [],
        size: 12,
        internalDate: null,
        partial: true,
        messageId: normalizeMessageId('<abc.1@example.com>'),
      },
    ]);
    const places = state.placesOfMessage(' abc.1@EXAMPLE.com ');
    assert.deepEqual(
      places.map((p) => [p.folder, p.uid, p.partial]),
      [
        ['Archive', 9, true],
        ['INBOX', 5, false],
      ],
    );
    assert.deepEqual(state.placesOfMessage('<>'), [], 'an empty id matches nothing');
    assert.deepEqual(
      state.folderCounts('work').map((f) => [f.path, f.messageCount, f.partialCount]),
      [
        ['Archive', 1, 1],
        ['INBOX', 2, 0],
      ],
    );
    state.close();
  });

  it('lists runs newest first, with their accounts even while running', () => {
    const state = new StateDb(path.join(dir, 'state.db'));
    state.startRun('r1', 'schedule', FULL_SYNC, 1000, ['work']);
    state.finishRun('r1', 'ok', { ...emptyStats(), downloaded: 3 }, 1500);
    state.startRun('r2', 'user', FULL_SYNC, 2000, ['work', 'home']);
    const runs = state.recentRuns(10);
    assert.deepEqual(
      runs.map((r) => [r.syncId, r.result, r.accountIds, r.stats?.downloaded ?? null]),
      [
        ['r2', null, ['work', 'home'], null],
        ['r1', 'ok', ['work'], 3],
      ],
    );
    assert.deepEqual(
      state.recentRuns(10, 2000).map((r) => r.syncId),
      ['r1'],
      'paging back by start time',
    );
    state.close();
  });

  it('keeps the newest runs only, with their accounts, however many ran', () => {
    const state = new StateDb(path.join(dir, 'state.db'));
    const runs = RUNS_KEPT + 50;
    for (let i = 1; i <= runs; i++) {
      state.startRun(`r${i}`, 'schedule', FULL_SYNC, i * 1000, ['work']);
      state.finishAccountRun(`r${i}`, 'work', 'ok', i * 1000 + 500);
      state.finishRun(`r${i}`, 'ok', emptyStats(), i * 1000 + 500);
    }
    const kept = state.recentRuns(runs);
    assert.equal(kept.length, RUNS_KEPT);
    assert.equal(kept[0]!.syncId, `r${runs}`);
    assert.equal(kept.at(-1)!.syncId, `r${runs - RUNS_KEPT + 1}`);
    assert.deepEqual(state.lastAccountRun('work'), { finishedAt: runs * 1000 + 500, result: 'ok' });
    state.close();
    const db = new Database(path.join(dir, 'state.db'), { readonly: true });
    const count = (table: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.deepEqual([count('sync_runs'), count('account_runs')], [RUNS_KEPT, RUNS_KEPT]);
    db.close();
  });
});
