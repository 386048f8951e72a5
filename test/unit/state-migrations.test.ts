/**
 * Upgrade safety: a state.db written by every earlier StoreSync schema opens in this version
 * with all of its rows. Each earlier schema is written out here as it was released (frozen:
 * these strings must never follow later changes to state-db.ts), filled the way a sync of
 * that version filled it, then opened through StateDb.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyStats, type SyncFlags } from '../../agent/src/protocol/index.js';
import { StateDb } from '../../agent/src/sync/state-db.js';

/** Version 1 as first released: no APPEND journal yet. */
const SCHEMA_V1_FIRST = `
CREATE TABLE folders (
  id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, path TEXT NOT NULL, server_path TEXT NOT NULL,
  delimiter TEXT, uidvalidity INTEGER, uidnext INTEGER, highestmodseq TEXT, last_sync_at INTEGER,
  UNIQUE (account_id, path));
CREATE TABLE messages (
  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE, uid INTEGER NOT NULL,
  base TEXT NOT NULL, flags TEXT NOT NULL, size INTEGER NOT NULL, internal_date INTEGER,
  PRIMARY KEY (folder_id, uid)) WITHOUT ROWID;
CREATE INDEX messages_by_base ON messages (folder_id, base);
CREATE TABLE sync_runs (
  sync_id TEXT PRIMARY KEY, trigger TEXT NOT NULL, flags TEXT NOT NULL, started_at INTEGER NOT NULL,
  finished_at INTEGER, result TEXT, stats TEXT);
CREATE TABLE account_runs (
  sync_id TEXT NOT NULL REFERENCES sync_runs(sync_id) ON DELETE CASCADE, account_id TEXT NOT NULL,
  finished_at INTEGER NOT NULL, result TEXT NOT NULL, PRIMARY KEY (sync_id, account_id));
PRAGMA user_version = 1;
`;

/** Version 1 once uploads were journalled (the version number did not change). */
const SCHEMA_V1 = SCHEMA_V1_FIRST.replace(
  'PRAGMA user_version = 1;',
  `CREATE TABLE pending_appends (
     folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE, base TEXT NOT NULL,
     sha256 TEXT NOT NULL, size INTEGER NOT NULL, uidnext_before INTEGER NOT NULL,
     PRIMARY KEY (folder_id, base)) WITHOUT ROWID;
   PRAGMA user_version = 1;`,
);

/** Version 2: headers-only messages are marked partial. */
const SCHEMA_V2 = SCHEMA_V1.replace(
  'PRAGMA user_version = 1;',
  `ALTER TABLE messages ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
   PRAGMA user_version = 2;`,
);

/** Version 3: Message-IDs for the pane's lookups; runs list their accounts. */
const SCHEMA_V3 = SCHEMA_V2.replace(
  'PRAGMA user_version = 2;',
  `ALTER TABLE messages ADD COLUMN message_id TEXT;
   CREATE INDEX messages_by_message_id ON messages (message_id)
     WHERE message_id IS NOT NULL AND message_id <> '';
   ALTER TABLE sync_runs ADD COLUMN account_ids TEXT;
   PRAGMA user_version = 3;`,
);

/** Version 4: each account's Maildir keeps its info separator. */
const SCHEMA_V4 = SCHEMA_V3.replace(
  'PRAGMA user_version = 3;',
  `CREATE TABLE maildir_stores (
     account_id TEXT PRIMARY KEY,
     info_separator TEXT NOT NULL
   ) WITHOUT ROWID;
   PRAGMA user_version = 4;`,
);

/** Version 5: folders keep their message count and a mark of their directories. */
const SCHEMA_V5 = SCHEMA_V4.replace(
  'PRAGMA user_version = 4;',
  `ALTER TABLE folders ADD COLUMN exists_count INTEGER;
   ALTER TABLE folders ADD COLUMN local_mark TEXT;
   PRAGMA user_version = 5;`,
);

/** Version 6: an index finds the folders that still owe bodies. */
const SCHEMA_V6 = SCHEMA_V5.replace(
  'PRAGMA user_version = 5;',
  `CREATE INDEX messages_partial ON messages (folder_id) WHERE partial = 1;
   PRAGMA user_version = 6;`,
);

/** Version 7: folders keep the digest of the flag answers they were left in sync with. */
const SCHEMA_V7 = SCHEMA_V6.replace(
  'PRAGMA user_version = 6;',
  `ALTER TABLE folders ADD COLUMN flag_answers TEXT;
   PRAGMA user_version = 7;`,
);

/** Version 8: with a folder's mark, the digest of the listing it was checked against. */
const SCHEMA_V8 = SCHEMA_V7.replace(
  'PRAGMA user_version = 7;',
  `ALTER TABLE folders ADD COLUMN listing_digest TEXT;
   PRAGMA user_version = 8;`,
);

/** Version 9: with the digest of flag answers, the answers themselves when short. */
const SCHEMA_V9 = SCHEMA_V8.replace(
  'PRAGMA user_version = 8;',
  `ALTER TABLE folders ADD COLUMN flag_answer_sets TEXT;
   PRAGMA user_version = 9;`,
);

/** Version 10: the keywords of messages whose file left the folder, kept for a while. */
const SCHEMA_V10 = SCHEMA_V9.replace(
  'PRAGMA user_version = 9;',
  `CREATE TABLE removed_keywords (
     account_id TEXT NOT NULL, base TEXT NOT NULL, keywords TEXT NOT NULL,
     removed_at INTEGER NOT NULL, PRIMARY KEY (account_id, base)
   ) WITHOUT ROWID;
   PRAGMA user_version = 10;`,
);

/** The versions written out above: every one before the current schema must be here. */
const EARLIER_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

const FLAGS: SyncFlags = {
  uploadHierarchy: true,
  downloadHierarchy: true,
  uploadContents: true,
  downloadContents: true,
  headersOnly: false,
  onDemand: false,
};
const STATS = { ...emptyStats(), downloaded: 3, foldersSynced: 2, bytes: 5120 };
const T0 = Date.UTC(2025, 2, 1, 8, 0, 0);

/** What a version-1 sync of one account with two folders left behind. */
function fillVersion1(db: Database.Database, options: { journal: boolean }): void {
  db.prepare(
    `INSERT INTO folders (id, account_id, path, server_path, delimiter, uidvalidity, uidnext, highestmodseq, last_sync_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(1, 'work', 'INBOX', 'INBOX', '/', 1_700_000_001, 4, '9223372036854775000', T0 + 60_000);
  db.prepare(
    `INSERT INTO folders (id, account_id, path, server_path, delimiter, uidvalidity, uidnext, highestmodseq, last_sync_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(2, 'work', 'Archive/2024', 'Archive.2024', '.', 1_700_000_002, 2, null, T0 + 61_000);
  const message = db.prepare(
    'INSERT INTO messages (folder_id, uid, base, flags, size, internal_date) VALUES (?, ?, ?, ?, ?, ?)',
  );
  message.run(1, 1, '1740816000.M1P100Q1.host', '\\Seen', 2048, T0 - 86_400_000);
  message.run(1, 3, '1740816000.M2P100Q2.host', '\\Seen \\Flagged $Label1', 1024, T0);
  message.run(2, 1, '1740816000.M3P100Q3.host', '', 2048, null);
  if (options.journal) {
    db.prepare('INSERT INTO pending_appends VALUES (?, ?, ?, ?, ?)').run(
      1,
      '1740816100.M9P100Q9.host',
      'a'.repeat(64),
      777,
      4,
    );
  }
  db.prepare(
    'INSERT INTO sync_runs (sync_id, trigger, flags, started_at, finished_at, result, stats) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run('run-1', 'cli', JSON.stringify(FLAGS), T0, T0 + 62_000, 'ok', JSON.stringify(STATS));
  db.prepare('INSERT INTO account_runs VALUES (?, ?, ?, ?)').run(
    'run-1',
    'work',
    T0 + 62_000,
    'ok',
  );
}

describe('state database upgrades from every earlier schema', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-migrate-'));
    file = path.join(dir, 'state.db');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function write(schema: string, fill: (db: Database.Database) => void): void {
    const db = new Database(file);
    db.exec(schema);
    fill(db);
    db.close();
  }

  function userVersion(at = file): number {
    const db = new Database(at, { readonly: true });
    try {
      return db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  }

  /** The schema version this StoreSync writes: that of a new file. */
  function currentVersion(): number {
    const fresh = path.join(dir, 'fresh.db');
    new StateDb(fresh).close();
    return userVersion(fresh);
  }

  it('has a fixture for every earlier schema version (add one with each migration)', () => {
    const current = currentVersion();
    assert.deepEqual(
      EARLIER_VERSIONS,
      Array.from({ length: current - 1 }, (_, i) => i + 1),
      `state-db.ts is at schema ${current}: write version ${current - 1} out in this file`,
    );
  });

  /** The version-1 rows, as this version reads them. */
  function assertVersion1RowsKept(state: StateDb): void {
    const folders = state.folders('work');
    assert.deepEqual(
      folders.map((f) => [f.id, f.path, f.serverPath, f.delimiter, f.uidValidity, f.uidNext]),
      [
        [2, 'Archive/2024', 'Archive.2024', '.', 1_700_000_002, 2],
        [1, 'INBOX', 'INBOX', '/', 1_700_000_001, 4],
      ],
    );
    // 63-bit modseqs survive as text, not rounded through a double.
    assert.equal(folders[1]!.highestModseq, 9223372036854775000n);
    assert.equal(folders[1]!.lastSyncAt, T0 + 60_000);
    assert.deepEqual(state.messages(1), [
      {
        uid: 1,
        base: '1740816000.M1P100Q1.host',
        flags: ['\\Seen'],
        size: 2048,
        internalDate: T0 - 86_400_000,
        partial: false,
        messageId: null,
      },
      {
        uid: 3,
        base: '1740816000.M2P100Q2.host',
        flags: ['\\Seen', '\\Flagged', '$Label1'],
        size: 1024,
        internalDate: T0,
        partial: false,
        messageId: null,
      },
    ]);
    assert.deepEqual(state.messages(2)[0]?.flags, []);
    assert.equal(state.maxUid(1), 3);
    assert.deepEqual(state.accountCounts('work'), { folders: 2, messages: 3 });
    assert.deepEqual(state.lastAccountRun('work'), { finishedAt: T0 + 62_000, result: 'ok' });
    // Runs from before account_ids existed name their accounts from account_runs.
    assert.deepEqual(state.recentRuns(10), [
      {
        syncId: 'run-1',
        trigger: 'cli',
        flags: FLAGS,
        accountIds: ['work'],
        startedAt: T0,
        finishedAt: T0 + 62_000,
        result: 'ok',
        stats: STATS,
      },
    ]);
    // Messages of older versions are queued for the Message-ID index, and then found by it.
    assert.deepEqual(
      state.messagesWithoutMessageId(1).map((m) => m.uid),
      [1, 3],
    );
    state.setMessageIds(1, [{ uid: 3, messageId: 'abc@example.com' }]);
    assert.deepEqual(
      state.placesOfMessage('<ABC@example.com>').map((p) => [p.accountId, p.folder, p.uid]),
      [['work', 'INBOX', 3]],
    );
  }

  it('version 1 as first released (no APPEND journal): every row kept, the journal added', () => {
    write(SCHEMA_V1_FIRST, (db) => fillVersion1(db, { journal: false }));
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.deepEqual(state.pendingAppends(1), []);
      // The table the first release lacked works: an upload can be journalled and settled.
      state.journalAppend(1, { base: 'new', sha256: 'b'.repeat(64), size: 10, uidNextBefore: 4 });
      assert.equal(state.pendingAppends(1).length, 1);
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 1 with an upload in flight: rows and the journal entry kept', () => {
    write(SCHEMA_V1, (db) => fillVersion1(db, { journal: true }));
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      // After the upgrade the crash-recovery path still finds the APPEND to look for.
      assert.deepEqual(state.pendingAppends(1), [
        { base: '1740816100.M9P100Q9.host', sha256: 'a'.repeat(64), size: 777, uidNextBefore: 4 },
      ]);
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 2: headers-only messages stay partial, full ones complete', () => {
    write(SCHEMA_V2, (db) => {
      fillVersion1(db, { journal: true });
      // A headers-only sync of version 2: two messages whose bodies were not fetched yet.
      db.prepare(
        'UPDATE messages SET partial = 1, size = 400 WHERE folder_id = 1 AND uid = 3',
      ).run();
      db.prepare(
        'INSERT INTO messages (folder_id, uid, base, flags, size, internal_date, partial) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(2, 2, '1740816000.M4P100Q4.host', '\\Answered', 350, T0, 1);
      db.prepare(
        'INSERT INTO sync_runs (sync_id, trigger, flags, started_at, finished_at, result, stats) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(
        'run-2',
        'schedule',
        JSON.stringify({ ...FLAGS, headersOnly: true }),
        T0 + 3_600_000,
        null,
        null,
        null,
      );
    });
    const state = new StateDb(file);
    try {
      assert.deepEqual(
        state.messages(1).map((m) => [m.uid, m.partial, m.size]),
        [
          [1, false, 2048],
          [3, true, 400],
        ],
      );
      assert.deepEqual(
        state.messages(2).map((m) => [m.uid, m.partial, m.flags]),
        [
          [1, false, []],
          [2, true, ['\\Answered']],
        ],
      );
      assert.deepEqual(
        state.folderCounts('work').map((c) => [c.path, c.messageCount, c.partialCount]),
        [
          ['Archive/2024', 2, 1],
          ['INBOX', 2, 1],
        ],
      );
      // The unfinished run (the agent stopped mid-way) is listed, newest first.
      const runs = state.recentRuns(10);
      assert.deepEqual(
        runs.map((r) => [r.syncId, r.result, r.flags.headersOnly]),
        [
          ['run-2', null, true],
          ['run-1', 'ok', false],
        ],
      );
      assert.equal(state.pendingAppends(1).length, 1);
      // Fetching a body later completes the partial message, as in version 2.
      state.markComplete(1, 3, 1024);
      assert.deepEqual(
        state.messages(1).map((m) => [m.uid, m.partial, m.size]),
        [
          [1, false, 2048],
          [3, false, 1024],
        ],
      );
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 3: Message-IDs and the accounts of each run kept', () => {
    write(SCHEMA_V3, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare(
        "UPDATE messages SET message_id = 'abc@example.com' WHERE folder_id = 1 AND uid = 3",
      ).run();
      db.prepare("UPDATE messages SET message_id = '' WHERE folder_id = 1 AND uid = 1").run();
      db.prepare('UPDATE messages SET partial = 1 WHERE folder_id = 2 AND uid = 1').run();
      db.prepare(
        'INSERT INTO sync_runs (sync_id, trigger, flags, started_at, finished_at, result, stats, account_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        'run-3',
        'user',
        JSON.stringify({ ...FLAGS, onDemand: true }),
        T0 + 7_200_000,
        null,
        null,
        null,
        JSON.stringify(['work', 'home']),
      );
    });
    const state = new StateDb(file);
    try {
      assert.deepEqual(
        state.messages(1).map((m) => [m.uid, m.messageId]),
        [
          [1, ''],
          [3, 'abc@example.com'],
        ],
      );
      // Both were read already: '' means "has none", not "not read yet".
      assert.deepEqual(state.messagesWithoutMessageId(1), []);
      assert.deepEqual(
        state.placesOfMessage('<abc@EXAMPLE.com>').map((p) => [p.folder, p.uid, p.partial]),
        [['INBOX', 3, false]],
      );
      assert.equal(state.messages(2)[0]?.partial, true);
      // A run still going names its accounts from account_ids; an older one from account_runs.
      assert.deepEqual(
        state.recentRuns(10).map((r) => [r.syncId, r.accountIds]),
        [
          ['run-3', ['work', 'home']],
          ['run-1', ['work']],
        ],
      );
      // What version 4 added works on the upgraded file: a store keeps its first separator.
      assert.equal(state.maildirInfoSeparator('work', ':'), ':');
      assert.equal(state.maildirInfoSeparator('work', ';'), ':');
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 4: the info separator kept; folders gain no mark, so their next pass is full', () => {
    write(SCHEMA_V4, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ';')").run();
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.equal(state.maildirInfoSeparator('work', ':'), ';');
      // No pass of version 5 has vouched for these folders yet.
      assert.deepEqual(
        state.folders('work').map((f) => [f.path, f.existsCount, f.localMark]),
        [
          ['Archive/2024', null, null],
          ['INBOX', null, null],
        ],
      );
      // What version 5 added works on the upgraded file.
      state.markFolderSynced(1, {
        uidValidity: 1_700_000_001,
        uidNext: 4,
        highestModseq: 9223372036854775001n,
        exists: 2,
        localMark: '12:34:56/78:90:12',
      });
      const inbox = state.folders('work').find((f) => f.path === 'INBOX')!;
      assert.deepEqual(
        [inbox.existsCount, inbox.localMark, inbox.highestModseq],
        [2, '12:34:56/78:90:12', 9223372036854775001n],
      );
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 5: marks kept, partial messages found through the new index', () => {
    write(SCHEMA_V5, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ':')").run();
      db.prepare('UPDATE folders SET exists_count = 2, local_mark = ? WHERE id = 1').run(
        '12:34:56/78:90:12',
      );
      db.prepare('UPDATE messages SET partial = 1 WHERE folder_id = 2 AND uid = 1').run();
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      const inbox = state.folders('work').find((f) => f.path === 'INBOX')!;
      assert.deepEqual([inbox.existsCount, inbox.localMark], [2, '12:34:56/78:90:12']);
      assert.equal(state.hasPartialMessages(1), false);
      assert.equal(state.hasPartialMessages(2), true);
    } finally {
      state.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      const plan = db
        .prepare('EXPLAIN QUERY PLAN SELECT 1 FROM messages WHERE folder_id = ? AND partial = 1')
        .all(1) as Array<{ detail: string }>;
      assert.match(plan.map((p) => p.detail).join(' '), /messages_partial/);
    } finally {
      db.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 6: marks kept; no folder has flag answers yet, so its next pass reads every flag', () => {
    write(SCHEMA_V6, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ':')").run();
      db.prepare('UPDATE folders SET exists_count = 1, local_mark = ? WHERE id = 2').run(
        '1:2:3/4:5:6',
      );
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.deepEqual(
        state.folders('work').map((f) => [f.path, f.existsCount, f.localMark, f.flagAnswers]),
        [
          ['Archive/2024', 1, '1:2:3/4:5:6', null],
          ['INBOX', null, null, null],
        ],
      );
      // What version 7 added works on the upgraded file, and a pass that records none clears it.
      const archive = { uidValidity: 1_700_000_002, uidNext: 2, highestModseq: null, exists: 1 };
      state.markFolderSynced(2, { ...archive, flagAnswers: 'search:1:abc=' });
      assert.equal(state.folders('work')[0]!.flagAnswers, 'search:1:abc=');
      assert.equal(state.highestUid(2), 1);
      state.markFolderSynced(2, archive);
      assert.equal(state.folders('work')[0]!.flagAnswers, null);
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 7: marks and flag answers kept; no listing digest yet, and one is kept with a mark', () => {
    write(SCHEMA_V7, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ':')").run();
      db.prepare(
        'UPDATE folders SET exists_count = 1, local_mark = ?, flag_answers = ? WHERE id = 2',
      ).run('1:2:3/4:5:6', 'search:1:abc=');
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.deepEqual(
        state.folders('work').map((f) => [f.path, f.localMark, f.flagAnswers, f.listingDigest]),
        [
          ['Archive/2024', '1:2:3/4:5:6', 'search:1:abc=', null],
          ['INBOX', null, null, null],
        ],
      );
      // What version 8 added works on the upgraded file: kept with a mark, never without one.
      const archive = { uidValidity: 1_700_000_002, uidNext: 2, highestModseq: null, exists: 1 };
      state.markFolderSynced(2, { ...archive, localMark: '1:2:9/4:5:9', listingDigest: '1:a:b' });
      assert.equal(state.folders('work')[0]!.listingDigest, '1:a:b');
      state.markFolderSynced(2, { ...archive, listingDigest: '1:a:b' });
      assert.deepEqual(
        [state.folders('work')[0]!.localMark, state.folders('work')[0]!.listingDigest],
        [null, null],
      );
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 8: marks, flag answers and listing digests kept; answers kept whole only with their digest', () => {
    write(SCHEMA_V8, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ':')").run();
      db.prepare(
        'UPDATE folders SET exists_count = 1, local_mark = ?, flag_answers = ?, listing_digest = ? WHERE id = 2',
      ).run('1:2:3/4:5:6', 'search:1:abc=', '1:a:b');
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.deepEqual(
        state
          .folders('work')
          .map((f) => [f.path, f.localMark, f.flagAnswers, f.listingDigest, f.flagAnswerSets]),
        [
          ['Archive/2024', '1:2:3/4:5:6', 'search:1:abc=', '1:a:b', null],
          ['INBOX', null, null, null, null],
        ],
      );
      // What version 9 added works on the upgraded file: the answers go with their digest, and
      // go when it goes (a pass that records none, or a change applied to the rows).
      const archive = { uidValidity: 1_700_000_002, uidNext: 2, highestModseq: null, exists: 1 };
      const sets = '{"digest":"search:1:abd="}';
      state.markFolderSynced(2, { ...archive, flagAnswers: 'search:1:abd=', flagAnswerSets: sets });
      assert.equal(state.folders('work')[0]!.flagAnswerSets, sets);
      state.applyFolderChanges(2, [{ uid: 1, flags: ['\\Seen'] }], []);
      assert.deepEqual(
        [state.folders('work')[0]!.flagAnswers, state.folders('work')[0]!.flagAnswerSets],
        [null, null],
      );
      state.markFolderSynced(2, { ...archive, flagAnswerSets: sets });
      assert.equal(state.folders('work')[0]!.flagAnswerSets, null, 'never without a digest');
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 9: flag answers kept; the keywords of a message whose file left wait for it elsewhere', () => {
    const sets = '{"digest":"search:1:abc="}';
    write(SCHEMA_V9, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO maildir_stores VALUES ('work', ':')").run();
      db.prepare(
        'UPDATE folders SET exists_count = 1, local_mark = ?, flag_answers = ?, listing_digest = ?, flag_answer_sets = ? WHERE id = 2',
      ).run('1:2:3/4:5:6', 'search:1:abc=', '1:a:b', sets);
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      assert.deepEqual(
        state.folders('work').map((f) => [f.path, f.flagAnswers, f.flagAnswerSets]),
        [
          ['Archive/2024', 'search:1:abc=', sets],
          ['INBOX', null, null],
        ],
      );
      // What versions 10 and 11 added works on the upgraded file. The row in INBOX is found
      // from the other folder while it is there, by its name and its size...
      const moved = '1740816000.M2P100Q2.host';
      const none = { held: [], removed: [] };
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 1024), {
        held: ['\\Seen', '\\Flagged', '$Label1'],
        removed: [],
      });
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 1025), none);
      assert.deepEqual(state.flagsOfFileElsewhere(1, moved, 1024), none);
      // ...and what it kept once deleted there because its file left, with the row's size.
      state.applyFolderChanges(1, [], [3], [{ base: moved, keywords: ['$Label1'] }]);
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 1024), {
        held: [],
        removed: ['$Label1'],
      });
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 999), none);
      state.forgetRemovedKeywords(2, moved);
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 1024), none);
      // Kept for a while, not for ever: the next removal clears those of long ago. A base
      // with no row (size unknown) is matched by its name alone.
      const day = 24 * 3600_000;
      state.applyFolderChanges(1, [], [1], [{ base: 'old', keywords: ['a'] }], T0);
      state.applyFolderChanges(2, [], [1], [{ base: 'new', keywords: ['b'] }], T0 + 31 * day);
      assert.deepEqual(state.flagsOfFileElsewhere(2, 'old', 1), none);
      assert.deepEqual(state.flagsOfFileElsewhere(1, 'new', 1), { held: [], removed: ['b'] });
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('version 10: flags kept for a file that left, without a size, still wait for it', () => {
    const moved = '1740816000.M2P100Q2.host';
    write(SCHEMA_V10, (db) => {
      fillVersion1(db, { journal: false });
      db.prepare("INSERT INTO removed_keywords VALUES ('work', 'left.host', '$Label2', ?)").run(T0);
    });
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
      // Kept before sizes were: any size takes them.
      assert.deepEqual(state.flagsOfFileElsewhere(2, 'left.host', 777), {
        held: [],
        removed: ['$Label2'],
      });
      // Kept now: the size of the row deleted with them.
      state.applyFolderChanges(1, [], [3], [{ base: moved, keywords: ['\\Flagged'] }], T0);
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 1024).removed, ['\\Flagged']);
      assert.deepEqual(state.flagsOfFileElsewhere(2, moved, 777).removed, []);
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });

  it('an upgraded file opens again unchanged (migrations run once)', () => {
    write(SCHEMA_V1, (db) => fillVersion1(db, { journal: true }));
    new StateDb(file).close();
    const state = new StateDb(file);
    try {
      assertVersion1RowsKept(state);
    } finally {
      state.close();
    }
    assert.equal(userVersion(), currentVersion());
  });
});
