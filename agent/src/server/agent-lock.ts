/**
 * One agent per dataDir: two processes syncing the same Maildir and state would each think
 * the other's changes were the user's. Two files:
 *
 * - `agent.lock.db`, the lock itself: an SQLite file held in an exclusive transaction for as
 *   long as the holder runs. The kernel's record lock under it is freed when the holder
 *   exits however it exits (kill -9, power cut), so a dead holder never blocks the next
 *   start and two starters can never both win, as they could by removing a leftover file.
 * - `agent.lock`, who holds it: pid, role, start, and where the agent listens, for the CLI.
 *   Written by the holder once it has the lock; a dead holder's may be left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lockFileOf, processStartTicks, readLockHolder, type LockHolder } from './lock-holder.js';

export { lockFileOf, readLockHolder, type LockHolder } from './lock-holder.js';

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    /** Null: the holder has not said who it is yet (it is starting). */
    readonly holder: LockHolder | null,
  ) {
    super(
      holder === null
        ? `another StoreSync process is starting for ${dataDir}; stop it first, or give this one another dataDir`
        : holder.role === 'agent'
          ? `another StoreSync agent (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ''}) is already running for ${dataDir}; stop it first, or give this one another dataDir`
          : `a \`storesync sync\` (pid ${holder.pid}) is running for ${dataDir}; wait for it to finish, or give this one another dataDir`,
    );
  }
}

function kernelLockFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.lock.db');
}

/**
 * Lock files this process holds. A file naming our own pid is ours only if listed here;
 * otherwise it is a leftover of an earlier process that had the same pid (in a container the
 * agent is often pid 1 at every start).
 */
const heldHere = new Set<string>();

/** How long a starter waits for a holder that has the lock to say who it is. */
const HOLDER_NAMED_WITHIN_MS = 1000;

export class DataDirLock {
  private released = false;

  private constructor(
    private readonly file: string,
    private holder: LockHolder,
    private readonly kernelLock: Database.Database,
  ) {}

  /** Takes the dataDir's lock or throws DataDirLockedError naming who holds it. */
  static acquire(dataDir: string, role: LockHolder['role']): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = lockFileOf(dataDir);
    const kernelLock = takeKernelLock(kernelLockFileOf(dataDir));
    if (!kernelLock) throw new DataDirLockedError(dataDir, waitForHolder(dataDir));
    // A holder the file names that runs, though the lock was free, is an agent of a version
    // that only wrote the file (an upgrade while it runs): it is respected.
    const named = readLockHolder(dataDir);
    if (named && (named.pid !== process.pid || heldHere.has(file))) {
      kernelLock.close();
      throw new DataDirLockedError(dataDir, named);
    }
    const startTicks = processStartTicks(process.pid);
    const lock = new DataDirLock(
      file,
      {
        pid: process.pid,
        role,
        startedAt: Date.now(),
        ...(startTicks !== null ? { startTicks } : {}),
      },
      kernelLock,
    );
    lock.writeHolder();
    heldHere.add(file);
    return lock;
  }

  /** Adds where the agent listens, for `storesync status|pair|open`. */
  update(fields: Partial<Pick<LockHolder, 'url' | 'port' | 'socket'>>): void {
    if (this.released) return;
    this.holder = { ...this.holder, ...fields };
    this.writeHolder();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    // The file first, while the lock still keeps the next holder from writing its own.
    try {
      const current = JSON.parse(fs.readFileSync(this.file, 'utf8')) as LockHolder;
      if (current.pid === process.pid) fs.rmSync(this.file, { force: true });
    } catch {
      // Already gone.
    }
    this.kernelLock.close();
  }

  /** Whole or not at all: a reader never sees a half-written file. */
  private writeHolder(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.holder) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

/** The exclusive transaction on the lock file, or null if another connection holds it. */
function takeKernelLock(file: string): Database.Database | null {
  // No busy timeout: a holder keeps it for its whole life, waiting would not help.
  const db = new Database(file, { timeout: 0 });
  try {
    fs.chmodSync(file, 0o600);
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return null;
    throw err;
  }
}

/** Who holds the lock, once it has said so (it writes the file right after taking it). */
function waitForHolder(dataDir: string): LockHolder | null {
  const until = Date.now() + HOLDER_NAMED_WITHIN_MS;
  for (;;) {
    const holder = readLockHolder(dataDir);
    if (holder || Date.now() >= until) return holder;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}
