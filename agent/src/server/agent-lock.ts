/**
 * One agent per dataDir: two processes syncing the same Maildir and state would each think
 * the other's changes were the user's. The lock is a file naming its holder; a holder that
 * died (kill -9, power cut) leaves it behind, and the next start sees the pid is gone and
 * takes over. The file also tells the CLI where the running agent listens.
 */
import fs from 'node:fs';
import path from 'node:path';

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
    readonly holder: LockHolder,
  ) {
    super(
      holder.role === 'agent'
        ? `another StoreSync agent (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ''}) is already running for ${dataDir}; stop it first, or give this one another dataDir`
        : `a \`storesync sync\` (pid ${holder.pid}) is running for ${dataDir}; wait for it to finish, or give this one another dataDir`,
    );
  }
}

export function lockFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.lock');
}

/** The live holder of the dataDir's lock, or null (no lock, or a dead holder's leftover). */
export function readLockHolder(dataDir: string): LockHolder | null {
  let holder: LockHolder;
  try {
    holder = JSON.parse(fs.readFileSync(lockFileOf(dataDir), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
  return typeof holder?.pid === 'number' && processAlive(holder.pid) ? holder : null;
}

/**
 * Lock files this process holds. A lock naming our own pid is ours only if listed here;
 * otherwise it is a leftover of an earlier process that had the same pid (in a container the
 * agent is often pid 1 at every start).
 */
const heldHere = new Set<string>();

export class DataDirLock {
  private released = false;

  private constructor(
    private readonly file: string,
    private holder: LockHolder,
  ) {}

  /** Takes the dataDir's lock or throws DataDirLockedError naming who holds it. */
  static acquire(dataDir: string, role: LockHolder['role']): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = lockFileOf(dataDir);
    const holder: LockHolder = { pid: process.pid, role, startedAt: Date.now() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify(holder) + '\n', { flag: 'wx', mode: 0o600 });
        heldHere.add(file);
        return new DataDirLock(file, holder);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = readLockHolder(dataDir);
      if (current && (current.pid !== process.pid || heldHere.has(file)))
        throw new DataDirLockedError(dataDir, current);
      // Its holder is gone. Two starters may both see that: only one wins the `wx` above.
      fs.rmSync(file, { force: true });
    }
    throw new Error(`could not take the lock ${file}; remove it if no StoreSync is running`);
  }

  /** Adds where the agent listens, for `storesync status|pair|open`. */
  update(fields: Partial<Pick<LockHolder, 'url' | 'port' | 'socket'>>): void {
    if (this.released) return;
    this.holder = { ...this.holder, ...fields };
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.holder) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    try {
      const current = JSON.parse(fs.readFileSync(this.file, 'utf8')) as LockHolder;
      if (current.pid === process.pid) fs.rmSync(this.file, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
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
