import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateDb } from '../../agent/src/sync/state-db.js';

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
      { uid: 42, base: 'base42', flags: ['\\Seen'], size: 100, internalDate: null, partial: false },
    ]);
    assert.equal(state.folders('a')[0]?.uidValidity, 7);
    state.close();
    assert.equal(new Database(file).pragma('user_version', { simple: true }), 2);
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
});
