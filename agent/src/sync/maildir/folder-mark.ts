/**
 * A cheap mark of a Maildir folder's contents: every delivery, flag change (a rename), move
 * or deletion of a message changes the modification and change times of cur/ or new/, so two
 * equal marks mean no file came, went or was renamed in between — without reading the
 * directories, which costs time in proportion to the folder's size.
 *
 * File system clocks are coarse: a change in the same tick as the mark would leave it equal.
 * A mark is therefore only trusted ("settled") when both directories were last changed well
 * before it was taken; any later change then lands on a later tick. How long is "well
 * before" depends on the file system: one that keeps sub-millisecond times (ext4, XFS, Btrfs,
 * tmpfs, APFS, NTFS) ticks every few milliseconds (a kernel jiffy, 1–10 ms; 15.6 ms on
 * Windows); one with whole seconds (FAT: 2 s; HFS+, ext3: 1 s) needs seconds. The change time
 * (ctime) cannot be set back by tools that restore modification times, and the inode number
 * catches a directory replaced by another.
 */
import fs from 'node:fs';
import path from 'node:path';

/** How much older than the mark the last change must be, where times are sub-millisecond. */
export const SETTLED_AFTER_MS_FINE = 50;
/** The same where times are whole seconds (or milliseconds: not proven finer than a second). */
export const SETTLED_AFTER_MS = 2_500;

export interface FolderMark {
  mark: string;
  /** True when the mark may be stored and compared later (see above). */
  settled: boolean;
  /** How long until it would be settled if nothing changes (0 when settled). */
  settlesInMs: number;
}

interface DirectoryTimes {
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** How soon to look again when the file system's clock has not yet passed the last change. */
const CLOCK_PROBE_RETRY_MS = 2;

export interface FolderMarkOptions {
  /**
   * Where the wait for the settle window would be long, ask the file system's own clock
   * instead (see fileSystemNow): a mark is settled as soon as that clock has passed the
   * directories' last change, a tick later (a few ms) rather than SETTLED_AFTER_MS_FINE.
   */
  probeClock?: boolean;
  /** The time the mark is taken at (ms since the epoch); tests set it. */
  now?: number;
}

/** The mark of `<dir>/cur` and `<dir>/new`, or null when either cannot be read. */
export async function folderMark(
  dir: string,
  options: FolderMarkOptions = {},
): Promise<FolderMark | null> {
  try {
    const now = options.now ?? Date.now();
    const mark = markOf(directoryTimes(dir), now);
    if (mark.settled || !options.probeClock || !mark.fine) return mark;
    const fsNow = fileSystemNow(dir);
    if (fsNow === null) return mark;
    // Read after the clock: every change from here on is stamped fsNow or later.
    const stats = directoryTimes(dir);
    const again = markOf(stats, options.now ?? Date.now());
    if (again.settled || !again.fine) return again;
    if (lastChangeOf(stats) < fsNow) return { mark: again.mark, settled: true, settlesInMs: 0 };
    return {
      mark: again.mark,
      settled: false,
      settlesInMs: Math.min(again.settlesInMs, CLOCK_PROBE_RETRY_MS),
    };
  } catch {
    return null;
  }
}

// The stats and the chmod below are done in place, not through the thread pool: each pass
// marks every folder, and a stat takes microseconds, less than the pool's round trip for it.
function directoryTimes(dir: string): DirectoryTimes[] {
  return ['cur', 'new'].map((sub) => fs.statSync(path.join(dir, sub), { bigint: true }));
}

/**
 * The file system's clock now, as it stamps changes: the change time tmp/ gets from a chmod
 * to the mode it already has (tmp/ is not part of the mark, and no file is created). Null
 * where that cannot be done (a directory of another user, or one whose set-ID bits a chmod
 * could drop). A platform whose chmod leaves the change time alone gives an old time: the
 * mark then waits out the window as without this.
 */
function fileSystemNow(dir: string): bigint | null {
  const tmp = path.join(dir, 'tmp');
  try {
    const { mode } = fs.statSync(tmp, { bigint: true });
    // A chmod by a user outside the directory's group would drop its set-group-ID bit.
    if (mode & 0o6000n) return null;
    fs.chmodSync(tmp, Number(mode & 0o1777n));
    return fs.statSync(tmp, { bigint: true }).ctimeNs;
  } catch {
    return null;
  }
}

function lastChangeOf(stats: readonly DirectoryTimes[]): bigint {
  return stats.flatMap((s) => [s.mtimeNs, s.ctimeNs]).reduce((a, b) => (a > b ? a : b));
}

/** The mark of the directories' stats, taken at `now` (ms since the epoch). */
export function markOf(
  stats: readonly DirectoryTimes[],
  now: number,
): FolderMark & { fine: boolean } {
  const times = stats.flatMap((s) => [s.mtimeNs, s.ctimeNs]);
  // A time with a sub-millisecond part proves the file system keeps fine times; whole
  // milliseconds (one chance in a million for a fine one) are taken as coarse, to be safe.
  const fine = times.every((t) => t % 1_000_000n !== 0n);
  const windowNs = BigInt(fine ? SETTLED_AFTER_MS_FINE : SETTLED_AFTER_MS) * 1_000_000n;
  const waitNs = lastChangeOf(stats) + windowNs - BigInt(now) * 1_000_000n;
  return {
    mark: stats.map((s) => `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`).join('/'),
    settled: waitNs < 0n,
    settlesInMs: waitNs < 0n ? 0 : Number(waitNs / 1_000_000n) + 1,
    fine,
  };
}
