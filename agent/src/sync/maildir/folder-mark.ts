/**
 * A cheap mark of a Maildir folder's contents: every delivery, flag change (a rename), move
 * or deletion of a message changes the modification and change times of cur/ or new/, so two
 * equal marks mean no file came, went or was renamed in between — without reading the
 * directories, which costs time in proportion to the folder's size.
 *
 * File system clocks are coarse (a few ms on Linux, 1–2 s on FAT and HFS+): a change in the
 * same tick as the mark would leave it equal. A mark is therefore only trusted ("settled")
 * when both directories were last changed well before it was taken; any later change then
 * lands on a later tick. The change time (ctime) cannot be set back by tools that restore
 * modification times, and the inode number catches a directory replaced by another.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** How much older than the mark the last change must be for the mark to be trusted. */
export const SETTLED_AFTER_MS = 2_500;

export interface FolderMark {
  mark: string;
  /** True when the mark may be stored and compared later (see above). */
  settled: boolean;
}

/** The mark of `<dir>/cur` and `<dir>/new`, or null when either cannot be read. */
export async function folderMark(dir: string, now = Date.now()): Promise<FolderMark | null> {
  try {
    const stats = await Promise.all(
      ['cur', 'new'].map((sub) => fs.stat(path.join(dir, sub), { bigint: true })),
    );
    const nowNs = BigInt(now) * 1_000_000n;
    const settledBefore = nowNs - BigInt(SETTLED_AFTER_MS) * 1_000_000n;
    return {
      mark: stats.map((s) => `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`).join('/'),
      settled: stats.every((s) => s.mtimeNs < settledBefore && s.ctimeNs < settledBefore),
    };
  } catch {
    return null;
  }
}
