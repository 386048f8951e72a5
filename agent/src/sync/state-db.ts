/**
 * The sync state: for every folder its UIDVALIDITY and progress markers, for every message
 * the UID ↔ Maildir file link and the flags last seen in sync (the common base of the
 * three-way merge), and a history of sync runs. SQLite in WAL mode; every batch of
 * deliveries commits in one transaction, fsynced (synchronous=FULL) because a file that
 * exists without its row would be downloaded twice.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { SyncFlags, SyncResult, SyncStats, SyncTrigger } from '../protocol/index.js';

/** Schema changes since version 1, in order: MIGRATIONS[n] takes version n+1 to n+2. */
const MIGRATIONS: readonly string[] = [
  // 2: headers-only downloads mark their message partial until the body is fetched.
  'ALTER TABLE messages ADD COLUMN partial INTEGER NOT NULL DEFAULT 0',
  // 3: the pane finds the item open in Outlook by its Message-ID (normalised; '' = it has
  // none, NULL = not read yet); history lists the accounts of runs still going.
  `ALTER TABLE messages ADD COLUMN message_id TEXT;
   CREATE INDEX IF NOT EXISTS messages_by_message_id ON messages (message_id)
     WHERE message_id IS NOT NULL AND message_id <> '';
   ALTER TABLE sync_runs ADD COLUMN account_ids TEXT;`,
  // 4: each account's Maildir keeps the info separator (":" or, on Windows, ";"/"!") it
  // started with: its file names are only readable with that one.
  `CREATE TABLE IF NOT EXISTS maildir_stores (
     account_id TEXT PRIMARY KEY,
     info_separator TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // 5: a folder left fully in sync keeps the server's message count and a mark of its cur/
  // and new/ directories, so that a later pass with nothing changed on either side can stop
  // after the SELECT instead of reading every file name and every state row.
  `ALTER TABLE folders ADD COLUMN exists_count INTEGER;
   ALTER TABLE folders ADD COLUMN local_mark TEXT;`,
  // 6: whether a folder still owes bodies is asked of every folder in every pass; without
  // an index that walked all of its rows (most folders have no partial message at all).
  `CREATE INDEX IF NOT EXISTS messages_partial ON messages (folder_id) WHERE partial = 1;`,
  // 7: on a server without CONDSTORE, a folder left in sync with the answers every message's
  // flags were read from keeps their digest: the same answers next time, nothing changed.
  `ALTER TABLE folders ADD COLUMN flag_answers TEXT;`,
  // 8: with the Maildir's mark, the digest of the listing it was checked against: a pass that
  // changes the folder itself then checks a new listing by its digest, not by every row.
  `ALTER TABLE folders ADD COLUMN listing_digest TEXT;`,
  // 9: with the digest of answers read by searches, the answers themselves (when short): one
  // search for the messages whose flags differ from them then tells "nothing changed".
  `ALTER TABLE folders ADD COLUMN flag_answer_sets TEXT;`,
  // 10: keywords (flags no Maildir file name carries) of messages deleted on the server
  // because their file left the folder: another mail client may have moved the file to
  // another folder, whose upload then gives the message its keywords back.
  `CREATE TABLE IF NOT EXISTS removed_keywords (
     account_id TEXT NOT NULL,
     base TEXT NOT NULL,
     keywords TEXT NOT NULL,
     removed_at INTEGER NOT NULL,
     PRIMARY KEY (account_id, base)
   ) WITHOUT ROWID;`,
  // 11: the size of the message those flags were removed with (null: removed before): a file
  // of that name must also be that long to take them (names without a unique part repeat).
  // Its "keywords" may now also hold flags with a letter that the server added since.
  `ALTER TABLE removed_keywords ADD COLUMN size INTEGER;`,
];
const SCHEMA_VERSION = 1 + MIGRATIONS.length;

/** Sync runs the history keeps: weeks of background passes, a few MB at most. */
export const RUNS_KEPT = 5000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS folders (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  path TEXT NOT NULL,              -- display path, "/" between levels
  server_path TEXT NOT NULL,       -- as the server names it
  delimiter TEXT,
  uidvalidity INTEGER,
  uidnext INTEGER,
  highestmodseq TEXT,              -- 63-bit: kept as text, compared as BigInt
  last_sync_at INTEGER,
  UNIQUE (account_id, path)
);
CREATE TABLE IF NOT EXISTS messages (
  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  base TEXT NOT NULL,              -- Maildir unique name, without the ":2,…" info
  flags TEXT NOT NULL,             -- IMAP flags last in sync, space separated
  size INTEGER NOT NULL,           -- bytes on disk (LF line endings)
  internal_date INTEGER,
  PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_base ON messages (folder_id, base);
-- Journal of APPENDs in flight: written before the APPEND, removed with the UID's row. After a
-- crash a row says "this file may already be on the server": look for it there first.
CREATE TABLE IF NOT EXISTS pending_appends (
  folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
  base TEXT NOT NULL,
  sha256 TEXT NOT NULL,            -- of the bytes sent (CRLF line endings)
  size INTEGER NOT NULL,           -- of the bytes sent: the server's RFC822.SIZE
  uidnext_before INTEGER NOT NULL, -- the folder's UIDNEXT before the APPEND
  PRIMARY KEY (folder_id, base)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_runs (
  sync_id TEXT PRIMARY KEY,
  trigger TEXT NOT NULL,
  flags TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  result TEXT,
  stats TEXT
);
CREATE TABLE IF NOT EXISTS account_runs (
  sync_id TEXT NOT NULL REFERENCES sync_runs(sync_id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  finished_at INTEGER NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY (sync_id, account_id)
);
`;

export interface FolderState {
  id: number;
  accountId: string;
  path: string;
  serverPath: string;
  delimiter: string | null;
  uidValidity: number | null;
  uidNext: number | null;
  highestModseq: bigint | null;
  lastSyncAt: number | null;
  /** EXISTS at the SELECT of the last pass (null before schema 5 or any pass). */
  existsCount: number | null;
  /** The Maildir directories' mark when the folder was last left fully in sync, else null. */
  localMark: string | null;
  /**
   * Without CONDSTORE: the digest of the answers every message's flags were read from
   * (remote-changes.ts), which the state's flags equalled when the folder was last left in
   * sync; else null.
   */
  flagAnswers: string | null;
  /** The answers of `flagAnswers` when read by searches and short enough to keep, else null. */
  flagAnswerSets: string | null;
  /**
   * The digest of cur/ and new/'s listing (maildir/listing-digest.ts) when `localMark` was
   * recorded, which the state matched then; null when not known.
   */
  listingDigest: string | null;
}

export interface PendingAppend {
  base: string;
  sha256: string;
  size: number;
  uidNextBefore: number;
}

/** What a pass needs of a message it holds (see StateDb.flagRows). */
export type FlagRow = Pick<MessageRow, 'uid' | 'base' | 'flags'>;

export interface MessageRow {
  uid: number;
  base: string;
  /** Shared between rows with the same flags: never changed in place. */
  flags: readonly string[];
  size: number;
  internalDate: number | null;
  /** Only the header block is stored (headers-only sync); the body comes on demand. */
  partial?: boolean;
  /** Normalised (see normalizeMessageId); '' when it has none; undefined/null: not read yet. */
  messageId?: string | null;
}

/** Where the state places a message, for lookups by Message-ID. */
export interface MessagePlace {
  accountId: string;
  folder: string;
  uid: number;
  size: number;
  partial: boolean;
  folderSyncedAt: number | null;
}

export interface FolderCounts {
  path: string;
  messageCount: number;
  partialCount: number;
  lastSyncAt: number | null;
}

export interface RunRecord {
  syncId: string;
  trigger: SyncTrigger;
  flags: SyncFlags;
  accountIds: string[];
  startedAt: number;
  finishedAt: number | null;
  result: SyncResult | null;
  stats: SyncStats | null;
}

/**
 * Message-IDs as compared: without the angle brackets and surrounding space, lower-cased
 * (Outlook and servers disagree on case and brackets; a collision from case alone is not a
 * real-world concern next to a lookup that misses).
 */
export function normalizeMessageId(value: string): string {
  return value.trim().replace(/^<\s*/, '').replace(/\s*>$/, '').toLowerCase();
}

interface FolderRecord {
  id: number;
  account_id: string;
  path: string;
  server_path: string;
  delimiter: string | null;
  uidvalidity: number | null;
  uidnext: number | null;
  highestmodseq: string | null;
  last_sync_at: number | null;
  exists_count: number | null;
  local_mark: string | null;
  flag_answers: string | null;
  listing_digest: string | null;
  flag_answer_sets: string | null;
}

/** How long the keywords of a message whose file left its folder wait for it to turn up. */
const REMOVED_KEYWORDS_KEPT_MS = 30 * 24 * 3600_000;

/** SQLite's answers for a file that is not (or no longer) a database, or has a damaged page. */
export function isDamagedState(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'))
  );
}

export class StateDb {
  private db!: Database.Database;
  private statements!: Statements;
  /**
   * Set when the file was damaged and set aside: the state starts empty and the next sync
   * rebuilds it from the Maildir and the server (matching by Message-ID, size and content,
   * so nothing is downloaded or uploaded twice). Says where the damaged file went.
   */
  recovered: { damagedCopy: string; reason: string } | null = null;
  /**
   * How many times the file was set aside since this process opened it. A folder or message
   * id read before a change of it means nothing (or another row) in the new file.
   */
  generation = 0;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      this.open();
    } catch (err) {
      if (!isDamagedState(err)) throw err;
      this.setAsideDamaged(err);
    }
  }

  private open(): void {
    const db = openDatabase(this.file);
    try {
      this.db = db;
      this.migrate();
      this.statements = prepareStatements(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Moves a damaged file (and its WAL) aside for support and starts an empty state in its
   * place, to be rebuilt by the next pass. A damaged page may be found long after the open
   * (the pages of a folder that had not changed are not read): the engine calls this then,
   * once no pass holds ids read from the old file.
   */
  setAsideDamaged(err: unknown): void {
    try {
      this.db?.close();
    } catch {
      // Busy with a statement or already closed: the file is moved away all the same.
    }
    const damagedCopy = `${this.file}.damaged-${Date.now()}`;
    try {
      for (const suffix of ['', '-wal', '-shm']) {
        if (fs.existsSync(this.file + suffix))
          fs.renameSync(this.file + suffix, damagedCopy + suffix);
      }
    } catch (failed) {
      // Not moved (a read-only directory): the file as it is, open again, serves what it can.
      if (this.db && !this.db.open) this.open();
      throw failed;
    }
    this.recovered = { damagedCopy, reason: (err as Error)?.message ?? String(err) };
    this.generation += 1;
    this.open();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${this.file} was written by a newer StoreSync (schema ${version}); upgrade StoreSync to use it`,
      );
    }
    // A damaged file fails here (SQLITE_NOTADB / SQLITE_CORRUPT) rather than mid-sync.
    this.db.pragma('schema_version');
    this.db.transaction(() => {
      this.db.exec(SCHEMA); // version 1, for a new file
      for (let v = Math.max(version, 1); v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v - 1]!);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  close(): void {
    this.db.close();
  }

  /** The folder's row, created on first sight. */
  folder(
    accountId: string,
    displayPath: string,
    serverPath: string,
    delimiter: string | null,
  ): FolderState {
    let record = this.statements.folder.get(accountId, displayPath);
    if (!record) {
      this.statements.insertFolder.run(accountId, displayPath, serverPath, delimiter);
      record = this.statements.folder.get(accountId, displayPath)!;
    } else if (record.server_path !== serverPath || record.delimiter !== delimiter) {
      this.statements.updateFolderName.run(serverPath, delimiter, record.id);
      record = { ...record, server_path: serverPath, delimiter };
    }
    return toFolderState(record);
  }

  /** The folder's row if it has one (unlike folder(), creates nothing). */
  knownFolder(accountId: string, displayPath: string): FolderState | null {
    const record = this.statements.folder.get(accountId, displayPath);
    return record ? toFolderState(record) : null;
  }

  folders(accountId: string): FolderState[] {
    return this.statements.foldersOf.all(accountId).map(toFolderState);
  }

  messages(folderId: number): MessageRow[] {
    const flagsOf = sharedFlagArrays();
    return this.statements.messages.all(folderId).map((row) => ({
      uid: row.uid,
      base: row.base,
      flags: flagsOf(row.flags),
      size: row.size,
      internalDate: row.internal_date,
      partial: row.partial === 1,
      messageId: row.message_id,
    }));
  }

  /**
   * Each message's UID, file name (base) and flags, ascending UIDs: what a pass compares, read
   * without the columns it does not need (a pass over 100,000 messages makes 100,000 of these).
   */
  flagRows(folderId: number): FlagRow[] {
    const flagsOf = sharedFlagArrays();
    const rows: FlagRow[] = [];
    for (const [uid, base, flags] of this.statements.flagRows.iterate(folderId)) {
      rows.push({ uid, base, flags: flagsOf(flags) });
    }
    return rows;
  }

  /** The rows of these UIDs that the folder holds (others are left out), ascending UIDs. */
  flagRowsOf(folderId: number, uids: Iterable<number>): FlagRow[] {
    const flagsOf = sharedFlagArrays();
    const rows: FlagRow[] = [];
    const list = JSON.stringify([...uids]);
    for (const [uid, base, flags] of this.statements.flagRowsIn.iterate(folderId, list)) {
      rows.push({ uid, base, flags: flagsOf(flags) });
    }
    return rows;
  }

  /** How many messages the folder's state holds. */
  messageCount(folderId: number): number {
    return this.statements.messageCount.get(folderId) ?? 0;
  }

  /** The UIDs the folder's state holds, ascending. */
  uids(folderId: number): number[] {
    return this.statements.uids.all(folderId);
  }

  /** The highest UID the folder's state holds; 0 when it holds none. */
  highestUid(folderId: number): number {
    return this.statements.highestUid.get(folderId) ?? 0;
  }

  /** The file names (bases) of the folder's messages, without reading whole rows. */
  messageBases(folderId: number): Set<string> {
    return new Set(this.statements.bases.all(folderId));
  }

  /** The size of the message held under this file name (base), or null if none is. */
  sizeOfBase(folderId: number, base: string): number | null {
    return this.statements.sizeOfBase.get(folderId, base) ?? null;
  }

  /**
   * Each message's file name (base) and flags, one at a time: for walks over a whole folder
   * that need no more, without building its rows all at once. The flags arrays are shared
   * between messages with the same flags (never change them in place).
   */
  *messageBasesAndFlags(folderId: number): Generator<{ base: string; flags: readonly string[] }> {
    const flagsOf = sharedFlagArrays();
    for (const [base, stored] of this.statements.basesAndFlags.iterate(folderId)) {
      yield { base, flags: flagsOf(stored) };
    }
  }

  /** Messages whose Message-ID has not been read from their file yet. */
  messagesWithoutMessageId(folderId: number): Array<{ uid: number; base: string }> {
    return this.statements.withoutMessageId.all(folderId);
  }

  /** Records Message-IDs read from files ('' for a message that has none). */
  setMessageIds(folderId: number, ids: ReadonlyArray<{ uid: number; messageId: string }>): void {
    this.db.transaction(() => {
      for (const { uid, messageId } of ids)
        this.statements.setMessageId.run(messageId, folderId, uid);
    })();
  }

  /** Every stored copy of the message with this Message-ID, in any account. */
  placesOfMessage(messageId: string): MessagePlace[] {
    const key = normalizeMessageId(messageId);
    if (key === '') return [];
    return this.statements.byMessageId.all(key).map((row) => ({
      accountId: row.account_id,
      folder: row.path,
      uid: row.uid,
      size: row.size,
      partial: row.partial === 1,
      folderSyncedAt: row.last_sync_at,
    }));
  }

  folderCounts(accountId: string): FolderCounts[] {
    return this.statements.folderCounts.all(accountId).map((row) => ({
      path: row.path,
      messageCount: row.messages,
      partialCount: row.partials,
      lastSyncAt: row.last_sync_at,
    }));
  }

  /** Runs newest first, started before `before` (ms), at most `limit`. */
  recentRuns(limit: number, before = Number.MAX_SAFE_INTEGER): RunRecord[] {
    return this.statements.recentRuns.all(before, limit).map((row) => ({
      syncId: row.sync_id,
      trigger: row.trigger as SyncTrigger,
      flags: JSON.parse(row.flags) as SyncFlags,
      accountIds: row.account_ids ? (JSON.parse(row.account_ids) as string[]) : [],
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      result: row.result as SyncResult | null,
      stats: row.stats ? (JSON.parse(row.stats) as SyncStats) : null,
    }));
  }

  maxUid(folderId: number): number {
    return this.statements.maxUid.get(folderId)?.max ?? 0;
  }

  private insertRow(folderId: number, row: MessageRow): void {
    this.statements.insertMessage.run(
      folderId,
      row.uid,
      row.base,
      row.flags.join(' '),
      row.size,
      row.internalDate,
      row.partial ? 1 : 0,
      row.messageId ?? null,
    );
  }

  /** Records a batch of delivered messages in one durable transaction. */
  readonly recordMessages = (folderId: number, rows: readonly MessageRow[]): void => {
    this.db.transaction(() => {
      for (const row of rows) {
        this.insertRow(folderId, row);
      }
    })();
  };

  pendingAppends(folderId: number): PendingAppend[] {
    return this.statements.pendingAppends.all(folderId).map((r) => ({
      base: r.base,
      sha256: r.sha256,
      size: r.size,
      uidNextBefore: r.uidnext_before,
    }));
  }

  /** Journals an APPEND about to be sent; durable before the bytes leave. */
  journalAppend(folderId: number, append: PendingAppend): void {
    this.statements.insertPendingAppend.run(
      folderId,
      append.base,
      append.sha256,
      append.size,
      append.uidNextBefore,
    );
  }

  /** The APPEND landed as `row.uid` (or never did, when row is null): one transaction. */
  settleAppend(folderId: number, base: string, row: MessageRow | null): void {
    this.db.transaction(() => {
      if (row) {
        this.insertRow(folderId, row);
      }
      this.statements.deletePendingAppend.run(folderId, base);
    })();
  }

  /** Rows of messages linked to files already here (adoptFilesOfNewMessages). One transaction. */
  addMessages(folderId: number, rows: readonly MessageRow[]): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const row of rows) this.insertRow(folderId, row);
    })();
  }

  /**
   * After the server renumbered a folder: its messages under their new UIDs, the new
   * UIDVALIDITY, and no modseq or journal from the old numbering. One transaction.
   */
  replaceFolderMessages(folderId: number, rows: readonly MessageRow[], uidValidity: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM messages WHERE folder_id = ?').run(folderId);
      this.db.prepare('DELETE FROM pending_appends WHERE folder_id = ?').run(folderId);
      for (const row of rows) {
        this.insertRow(folderId, row);
      }
      this.db
        .prepare(
          'UPDATE folders SET uidvalidity = ?, uidnext = NULL, highestmodseq = NULL WHERE id = ?',
        )
        .run(uidValidity, folderId);
    })();
  }

  /** A partial message's full body is now in its file. */
  markComplete(folderId: number, uid: number, size: number): void {
    this.db
      .prepare('UPDATE messages SET partial = 0, size = ? WHERE folder_id = ? AND uid = ?')
      .run(size, folderId, uid);
  }

  /**
   * The info separator of the account's Maildir: the one recorded when the store began, or
   * `proposed` (then recorded) for a new store. A store from before this was recorded used
   * ":", which is what `proposed` is on the platforms it could have been written on.
   */
  maildirInfoSeparator(accountId: string, proposed: string): string {
    const get = () =>
      this.db
        .prepare<[string], { info_separator: string }>(
          'SELECT info_separator FROM maildir_stores WHERE account_id = ?',
        )
        .get(accountId)?.info_separator;
    const recorded = get();
    if (recorded !== undefined) return recorded;
    this.db
      .prepare('INSERT OR IGNORE INTO maildir_stores (account_id, info_separator) VALUES (?, ?)')
      .run(accountId, proposed);
    return get()!;
  }

  /** Forgets a folder with its messages and journal (the folder is gone from both sides). */
  deleteFolder(folderId: number): void {
    this.db.prepare('DELETE FROM folders WHERE id = ?').run(folderId);
  }

  /**
   * New base flags and forgotten (expunged) messages of one folder, in one transaction, with
   * the flags no name carries of messages whose file left the folder (`keywords`: the
   * keywords, and the flags with a letter the server added since the base; see
   * `flagsOfFileElsewhere`).
   */
  applyFolderChanges(
    folderId: number,
    flags: ReadonlyArray<{ uid: number; flags: readonly string[] }>,
    deletedUids: readonly number[],
    removedKeywords: ReadonlyArray<{ base: string; keywords: readonly string[] }> = [],
    now = Date.now(),
  ): void {
    if (flags.length === 0 && deletedUids.length === 0) return;
    this.db.transaction(() => {
      // The recorded flag answers no longer describe these rows; were this pass cut short,
      // the same answers coming back (a change undone) must not read as "nothing changed".
      this.statements.forgetFlagAnswers.run(folderId);
      for (const row of flags)
        this.statements.updateFlags.run(row.flags.join(' '), folderId, row.uid);
      if (removedKeywords.length > 0) {
        this.statements.pruneRemovedKeywords.run(now - REMOVED_KEYWORDS_KEPT_MS);
        for (const { base, keywords } of removedKeywords)
          this.statements.rememberRemovedKeywords.run({
            base,
            keywords: keywords.join(' '),
            now,
            folderId,
          });
      }
      for (const uid of deletedUids) this.statements.deleteMessage.run(folderId, uid);
    })();
  }

  /**
   * The flags a file new to this folder had as a message of another folder of the account:
   * the same file (by its base name and its size) held there now (a copy: `held`, every flag
   * of its row), or deleted there because it left (a move: `removed`, the flags its name may
   * not carry, see `applyFolderChanges`).
   */
  flagsOfFileElsewhere(
    folderId: number,
    base: string,
    size: number,
  ): { held: string[]; removed: string[] } {
    const flagsIn = (lists: string[]) => [
      ...new Set(lists.flatMap((flags) => flags.split(' ').filter(Boolean))),
    ];
    return {
      held: flagsIn(this.statements.flagsOfBaseElsewhere.all(base, size, folderId, folderId)),
      removed: flagsIn(this.statements.removedKeywords.all(folderId, base, size)),
    };
  }

  /** The file was uploaded with its keywords: they are no longer waiting for it. */
  forgetRemovedKeywords(folderId: number, base: string): void {
    this.statements.forgetRemovedKeywords.run(folderId, base);
  }

  markFolderSynced(
    folderId: number,
    marks: {
      uidValidity: number;
      uidNext: number | null;
      highestModseq: bigint | null;
      exists?: number | null;
      /** Only for a pass that left both sides in sync (see sync-folder.ts). */
      localMark?: string | null;
      /** Only for a pass after which the state's flags equal these answers (sync-folder.ts). */
      flagAnswers?: string | null;
      /** Those answers themselves, when kept (remote-changes.ts recordableAnswerSets). */
      flagAnswerSets?: string | null;
      /** The digest of the listing `localMark` vouches for (only with it). */
      listingDigest?: string | null;
    },
  ): void {
    const write = () =>
      this.statements.markSynced.run(
        marks.uidValidity,
        marks.uidNext,
        marks.highestModseq === null ? null : marks.highestModseq.toString(),
        Date.now(),
        marks.exists ?? null,
        marks.localMark ?? null,
        marks.flagAnswers ?? null,
        marks.flagAnswers ? (marks.flagAnswerSets ?? null) : null,
        marks.localMark ? (marks.listingDigest ?? null) : null,
        folderId,
      );
    // A folder's first UIDVALIDITY (or a new one) says which UIDs its rows hold: that one is
    // waited for. Anything else here only spares the next pass work.
    if (this.statements.uidValidityOf.get(folderId) === marks.uidValidity) {
      this.withoutWaitingForTheDisk(write);
    } else {
      write();
    }
  }

  /** A pass found these folders unchanged: only their "last synced" time moves (one commit). */
  touchFoldersSynced(folderIds: readonly number[]): void {
    if (folderIds.length === 0) return;
    const now = Date.now();
    this.withoutWaitingForTheDisk(() =>
      this.db.transaction(() => {
        for (const id of folderIds) this.statements.touchSynced.run(now, id);
      })(),
    );
  }

  /** Whether any message of the folder is stored headers-only. */
  hasPartialMessages(folderId: number): boolean {
    return this.statements.hasPartial.get(folderId) !== undefined;
  }

  /** Whether an APPEND of the folder may be in flight from an interrupted run. */
  hasPendingAppends(folderId: number): boolean {
    return this.statements.hasPendingAppend.get(folderId) !== undefined;
  }

  accountCounts(accountId: string): { folders: number; messages: number } {
    return this.statements.counts.get({ account: accountId }) ?? { folders: 0, messages: 0 };
  }

  lastAccountRun(accountId: string): { finishedAt: number; result: SyncResult } | null {
    const row = this.statements.lastAccountRun.get(accountId);
    return row ? { finishedAt: row.finished_at, result: row.result as SyncResult } : null;
  }

  startRun(
    syncId: string,
    trigger: SyncTrigger,
    flags: SyncFlags,
    startedAt: number,
    accountIds: readonly string[],
  ): void {
    this.withoutWaitingForTheDisk(() =>
      this.statements.insertRun.run(
        syncId,
        trigger,
        JSON.stringify(flags),
        startedAt,
        JSON.stringify(accountIds),
      ),
    );
  }

  /**
   * Ends the runs a process that died (kill -9, a power cut) left without an end: with the
   * dataDir's lock held, none of them is running, and every pane and `storesync status` would
   * show them running for ever. Their result is `error` (they did not finish), their end is
   * their start (when they stopped is not known, and a made-up duration would mislead), their
   * counts unknown. Returns how many there were.
   */
  endRunsLeftRunning(): number {
    return this.statements.endRunsLeftRunning.run().changes;
  }

  /**
   * Records the run's end, and forgets the runs older than the newest RUNS_KEPT: the agent
   * runs for months, a pass at every announcement of new mail, and every snapshot a pane
   * gets reads this history.
   */
  finishRun(syncId: string, result: SyncResult, stats: SyncStats, finishedAt: number): void {
    this.withoutWaitingForTheDisk(() =>
      this.db.transaction(() => {
        this.statements.finishRun.run(finishedAt, result, JSON.stringify(stats), syncId);
        this.statements.pruneRuns.run(RUNS_KEPT);
      })(),
    );
  }

  finishAccountRun(
    syncId: string,
    accountId: string,
    result: SyncResult,
    finishedAt: number,
  ): void {
    this.withoutWaitingForTheDisk(() =>
      this.statements.insertAccountRun.run(syncId, accountId, finishedAt, result),
    );
  }

  /**
   * Commits a write that only saves time later — a folder's counters and mark, "last synced"
   * times, the run history — without waiting for the disk (synchronous=NORMAL for it): lost
   * in a power cut, the next pass redoes work it could have skipped, nothing more. The WAL
   * keeps commits in order, so the next fsynced commit (a batch of messages) or checkpoint
   * makes it durable too, and none can survive a cut that an earlier one did not. Rows that
   * say which file holds which message are always committed with an fsync.
   */
  private withoutWaitingForTheDisk<T>(write: () => T): T {
    if (this.db.inTransaction) return write();
    this.db.pragma('synchronous = NORMAL');
    try {
      return write();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }
}

/** Every statement the state runs, prepared once per open database. */
function prepareStatements(db: Database.Database) {
  return {
    folder: db.prepare<[string, string], FolderRecord>(
      'SELECT * FROM folders WHERE account_id = ? AND path = ?',
    ),
    insertFolder: db.prepare(
      'INSERT INTO folders (account_id, path, server_path, delimiter) VALUES (?, ?, ?, ?)',
    ),
    updateFolderName: db.prepare('UPDATE folders SET server_path = ?, delimiter = ? WHERE id = ?'),
    foldersOf: db.prepare<[string], FolderRecord>(
      'SELECT * FROM folders WHERE account_id = ? ORDER BY path',
    ),
    messages: db.prepare<
      [number],
      {
        uid: number;
        base: string;
        flags: string;
        size: number;
        internal_date: number | null;
        partial: number;
        message_id: string | null;
      }
    >(
      'SELECT uid, base, flags, size, internal_date, partial, message_id FROM messages WHERE folder_id = ? ORDER BY uid',
    ),
    maxUid: db.prepare<[number], { max: number | null }>(
      'SELECT MAX(uid) AS max FROM messages WHERE folder_id = ?',
    ),
    insertMessage: db.prepare(
      'INSERT OR REPLACE INTO messages (folder_id, uid, base, flags, size, internal_date, partial, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    pendingAppends: db.prepare<
      [number],
      { base: string; sha256: string; size: number; uidnext_before: number }
    >('SELECT base, sha256, size, uidnext_before FROM pending_appends WHERE folder_id = ?'),
    insertPendingAppend: db.prepare(
      'INSERT OR REPLACE INTO pending_appends (folder_id, base, sha256, size, uidnext_before) VALUES (?, ?, ?, ?, ?)',
    ),
    deletePendingAppend: db.prepare('DELETE FROM pending_appends WHERE folder_id = ? AND base = ?'),
    updateFlags: db.prepare('UPDATE messages SET flags = ? WHERE folder_id = ? AND uid = ?'),
    deleteMessage: db.prepare('DELETE FROM messages WHERE folder_id = ? AND uid = ?'),
    markSynced: db.prepare(
      'UPDATE folders SET uidvalidity = ?, uidnext = ?, highestmodseq = ?, last_sync_at = ?, exists_count = ?, local_mark = ?, flag_answers = ?, flag_answer_sets = ?, listing_digest = ? WHERE id = ?',
    ),
    touchSynced: db.prepare('UPDATE folders SET last_sync_at = ? WHERE id = ?'),
    forgetFlagAnswers: db.prepare(
      'UPDATE folders SET flag_answers = NULL, flag_answer_sets = NULL WHERE id = ? AND flag_answers IS NOT NULL',
    ),
    highestUid: db
      .prepare<[number], number | null>('SELECT max(uid) FROM messages WHERE folder_id = ?')
      .pluck(),
    uidValidityOf: db
      .prepare<[number], number | null>('SELECT uidvalidity FROM folders WHERE id = ?')
      .pluck(),
    messageCount: db
      .prepare<[number], number>('SELECT count(*) FROM messages WHERE folder_id = ?')
      .pluck(),
    uids: db
      .prepare<[number], number>('SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid')
      .pluck(),
    flagRowsIn: db
      .prepare<[number, string], [number, string, string]>(
        'SELECT uid, base, flags FROM messages WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid',
      )
      .raw(),
    bases: db.prepare<[number], string>('SELECT base FROM messages WHERE folder_id = ?').pluck(),
    sizeOfBase: db
      .prepare<[number, string], number>(
        'SELECT size FROM messages INDEXED BY messages_by_base WHERE folder_id = ? AND base = ?',
      )
      .pluck(),
    basesAndFlags: db
      .prepare<[number], [string, string]>('SELECT base, flags FROM messages WHERE folder_id = ?')
      .raw(),
    flagRows: db
      .prepare<[number], [number, string, string]>(
        'SELECT uid, base, flags FROM messages WHERE folder_id = ? ORDER BY uid',
      )
      .raw(),
    hasPartial: db.prepare<[number], { one: number }>(
      'SELECT 1 AS one FROM messages WHERE folder_id = ? AND partial = 1 LIMIT 1',
    ),
    hasPendingAppend: db.prepare<[number], { one: number }>(
      'SELECT 1 AS one FROM pending_appends WHERE folder_id = ? LIMIT 1',
    ),
    counts: db.prepare<{ account: string }, { folders: number; messages: number }>(
      `SELECT (SELECT COUNT(*) FROM folders WHERE account_id = @account) AS folders,
              (SELECT COUNT(*) FROM messages m JOIN folders f ON f.id = m.folder_id
                WHERE f.account_id = @account) AS messages`,
    ),
    lastAccountRun: db.prepare<[string], { finished_at: number; result: string }>(
      'SELECT finished_at, result FROM account_runs WHERE account_id = ? ORDER BY finished_at DESC LIMIT 1',
    ),
    insertRun: db.prepare(
      'INSERT INTO sync_runs (sync_id, trigger, flags, started_at, account_ids) VALUES (?, ?, ?, ?, ?)',
    ),
    setMessageId: db.prepare('UPDATE messages SET message_id = ? WHERE folder_id = ? AND uid = ?'),
    withoutMessageId: db.prepare<[number], { uid: number; base: string }>(
      'SELECT uid, base FROM messages WHERE folder_id = ? AND message_id IS NULL',
    ),
    byMessageId: db.prepare<
      [string],
      {
        account_id: string;
        path: string;
        uid: number;
        size: number;
        partial: number;
        last_sync_at: number | null;
      }
    >(
      `SELECT f.account_id, f.path, m.uid, m.size, m.partial, f.last_sync_at
         FROM messages m JOIN folders f ON f.id = m.folder_id
        WHERE m.message_id = ? ORDER BY f.account_id, f.path, m.uid`,
    ),
    folderCounts: db.prepare<
      [string],
      { path: string; messages: number; partials: number; last_sync_at: number | null }
    >(
      // Counted from the indexes, not the rows (every summary the pane gets asks this):
      // ~0.5 ms at 20,000 messages where a join grouped over the rows took 4–20 ms.
      `SELECT f.path,
              (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id) AS messages,
              (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id AND m.partial = 1)
                AS partials,
              f.last_sync_at
         FROM folders f WHERE f.account_id = ? ORDER BY f.path`,
    ),
    recentRuns: db.prepare<
      [number, number],
      {
        sync_id: string;
        trigger: string;
        flags: string;
        account_ids: string | null;
        started_at: number;
        finished_at: number | null;
        result: string | null;
        stats: string | null;
      }
    >(
      `SELECT r.sync_id, r.trigger, r.flags, r.started_at, r.finished_at, r.result, r.stats,
              COALESCE(r.account_ids,
                (SELECT json_group_array(a.account_id) FROM account_runs a
                  WHERE a.sync_id = r.sync_id)) AS account_ids
         FROM sync_runs r WHERE r.started_at < ? ORDER BY r.started_at DESC LIMIT ?`,
    ),
    flagsOfBaseElsewhere: db
      .prepare<[string, number, number, number], string>(
        `SELECT m.flags FROM folders f JOIN messages m INDEXED BY messages_by_base
            ON m.folder_id = f.id AND m.base = ? AND m.size = ?
          WHERE f.account_id = (SELECT account_id FROM folders WHERE id = ?) AND f.id <> ?`,
      )
      .pluck(),
    removedKeywords: db
      .prepare<[number, string, number], string>(
        'SELECT keywords FROM removed_keywords WHERE account_id = (SELECT account_id FROM folders WHERE id = ?) AND base = ? AND (size IS NULL OR size = ?)',
      )
      .pluck(),
    // Before the row goes, in the same transaction: its size comes with it.
    rememberRemovedKeywords: db.prepare(
      `INSERT OR REPLACE INTO removed_keywords (account_id, base, keywords, removed_at, size)
         SELECT f.account_id, @base, @keywords, @now,
                (SELECT m.size FROM messages m WHERE m.folder_id = f.id AND m.base = @base)
           FROM folders f WHERE f.id = @folderId`,
    ),
    forgetRemovedKeywords: db.prepare(
      'DELETE FROM removed_keywords WHERE account_id = (SELECT account_id FROM folders WHERE id = ?) AND base = ?',
    ),
    pruneRemovedKeywords: db.prepare('DELETE FROM removed_keywords WHERE removed_at < ?'),
    finishRun: db.prepare(
      'UPDATE sync_runs SET finished_at = ?, result = ?, stats = ? WHERE sync_id = ?',
    ),
    endRunsLeftRunning: db.prepare(
      "UPDATE sync_runs SET finished_at = started_at, result = 'error' WHERE finished_at IS NULL",
    ),
    // All but the newest RUNS_KEPT, by rowid: the order they started in, whatever the clock
    // did, and a range, not a sort. Their account_runs go with them (ON DELETE CASCADE).
    pruneRuns: db.prepare<[number]>(
      'DELETE FROM sync_runs WHERE rowid <= (SELECT MAX(rowid) FROM sync_runs) - ?',
    ),
    insertAccountRun: db.prepare(
      'INSERT OR REPLACE INTO account_runs (sync_id, account_id, finished_at, result) VALUES (?, ?, ?, ?)',
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function openDatabase(file: string): Database.Database {
  // The user's only, whatever the umask or the dataDir's mode: folder names, Message-IDs and
  // the history are private. SQLite gives the -wal and -shm files the database file's mode.
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Stored flags ("\Seen \Flagged") → an array, one frozen array per distinct value: a folder
 * has few distinct flag sets, and every full pass reads tens of thousands of rows.
 */
function sharedFlagArrays(): (stored: string) => readonly string[] {
  const arrays = new Map<string, readonly string[]>();
  return (stored) => {
    let flags = arrays.get(stored);
    if (!flags) {
      flags = Object.freeze(stored === '' ? [] : stored.split(' '));
      arrays.set(stored, flags);
    }
    return flags;
  };
}

function toFolderState(record: FolderRecord): FolderState {
  return {
    id: record.id,
    accountId: record.account_id,
    path: record.path,
    serverPath: record.server_path,
    delimiter: record.delimiter,
    uidValidity: record.uidvalidity,
    uidNext: record.uidnext,
    highestModseq: record.highestmodseq === null ? null : BigInt(record.highestmodseq),
    lastSyncAt: record.last_sync_at,
    existsCount: record.exists_count ?? null,
    localMark: record.local_mark ?? null,
    flagAnswers: record.flag_answers ?? null,
    flagAnswerSets: record.flag_answer_sets ?? null,
    listingDigest: record.listing_digest ?? null,
  };
}
