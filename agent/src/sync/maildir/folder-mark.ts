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
import fs from 'node:fs/promises';
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

/** The mark of `<dir>/cur` and `<dir>/new`, or null when either cannot be read. */
export async function folderMark(dir: string, now = Date.now()): Promise<FolderMark | null> {
  try {
    const stats = await Promise.all(
      ['cur', 'new'].map((sub) => fs.stat(path.join(dir, sub), { bigint: true })),
    );
    return markOf(stats, now);
  } catch {
    return null;
  }
}

/** The mark of the directories' stats, taken at `now` (ms since the epoch). */
export function markOf(stats: readonly DirectoryTimes[], now: number): FolderMark {
  const times = stats.flatMap((s) => [s.mtimeNs, s.ctimeNs]);
  // A time with a sub-millisecond part proves the file system keeps fine times; whole
  // milliseconds (one chance in a million for a fine one) are taken as coarse, to be safe.
  const fine = times.every((t) => t % 1_000_000n !== 0n);
  const windowNs = BigInt(fine ? SETTLED_AFTER_MS_FINE : SETTLED_AFTER_MS) * 1_000_000n;
  const lastChange = times.reduce((a, b) => (a > b ? a : b));
  const waitNs = lastChange + windowNs - BigInt(now) * 1_000_000n;
  return {
    mark: stats.map((s) => `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`).join('/'),
    settled: waitNs < 0n,
    settlesInMs: waitNs < 0n ? 0 : Number(waitNs / 1_000_000n) + 1,
  };
}
