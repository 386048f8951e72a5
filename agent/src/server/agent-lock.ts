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

export interface LockHolder {
  pid: number;
  /** What holds it: the long-running agent or a one-shot `sync --once`. */
  role: 'agent' | 'sync';
  startedAt: number;
  /** Where the agent listens, once it does. */
  url?: string;
  port?: number;
  /** Its local socket for the command line (local-socket.ts), where it has one. */
  socket?: string;
}

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

export function lockFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.lock');
}

function kernelLockFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.lock.db');
}

/**
 * The live holder of the dataDir's lock as its file names it, or null (no file, or a dead
 * holder's leftover: its pid is gone, or is now another process's, started after the lock
 * was written).
 */
export function readLockHolder(dataDir: string): LockHolder | null {
  let holder: LockHolder;
  try {
    holder = JSON.parse(fs.readFileSync(lockFileOf(dataDir), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
  if (typeof holder?.pid !== 'number' || !processAlive(holder.pid)) return null;
  const started = processStartTime(holder.pid);
  const reused =
    started !== null &&
    typeof holder.startedAt === 'number' &&
    started > holder.startedAt + CLOCK_STEP_ALLOWANCE_MS;
  return reused ? null : holder;
}

/**
 * A process's start read from /proc follows the wall clock as it is now: set forward since
 * (NTP at boot), it looks later than it was. Steps within this much are not taken for a
 * pid used again.
 */
const CLOCK_STEP_ALLOWANCE_MS = 60_000;

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
    const lock = new DataDirLock(
      file,
      { pid: process.pid, role, startedAt: Date.now() },
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

/** Whether a process of this pid runs (another user's counts: it cannot be signalled). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process killed (kill -9) whose parent has not collected it yet still takes signals, but
 * runs no more: on Linux its state in /proc says so. Elsewhere, or unreadable: not known.
 */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (command) S …": the command may hold spaces and parentheses; the state follows
    // the last ")".
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/** Linux's clock ticks per second in /proc (USER_HZ: 100 on every architecture it runs on). */
const USER_HZ = 100;

/**
 * When a process started (ms since the epoch), from /proc: boot time plus its start in
 * ticks since boot. Null where unknown. Whole seconds of boot time: up to a second early.
 */
function processStartTime(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(command)": state is the 3rd field, starttime the 22nd.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || boot === undefined) return null;
    return Number(boot) * 1000 + (ticks * 1000) / USER_HZ;
  } catch {
    return null;
  }
}
