/**
 * Who holds a dataDir's lock, as the file `agent.lock` names it: read by the command line to
 * find the running agent, without loading what taking the lock needs (agent-lock.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface LockHolder {
  pid: number;
  /** What holds it: the long-running agent or a one-shot `sync --once`. */
  role: 'agent' | 'sync';
  startedAt: number;
  /**
   * When the holder started, in the system's clock ticks since boot (Linux): unlike a wall
   * time, it names the process whatever the clock did since.
   */
  startTicks?: number;
  /** Where the agent listens, once it does. */
  url?: string;
  port?: number;
  /** Its local socket for the command line (local-socket.ts), where it has one. */
  socket?: string;
}

export function lockFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.lock');
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
  const ticks = processStartTicks(holder.pid);
  if (typeof holder.startTicks === 'number' && ticks !== null)
    return ticks === holder.startTicks ? holder : null;
  // Written by a version that kept no ticks: by the wall clock, allowing for its steps.
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
  const ticks = processStartTicks(pid);
  if (ticks === null) return null;
  try {
    const boot = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1];
    return boot === undefined ? null : Number(boot) * 1000 + (ticks * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** When a process started, in clock ticks since boot, from /proc (Linux); null elsewhere. */
export function processStartTicks(pid: number): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(command)": state is the 3rd field, starttime the 22nd.
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}
