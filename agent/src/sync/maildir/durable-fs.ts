/**
 * Renames and fsyncs with each platform's semantics.
 *
 * Windows: a rename fails (EPERM, EBUSY, EACCES) while another process has the file or its
 * target open, which virus scanners and search indexers do for a moment after every write;
 * the rename is retried with backoff before the error is believed. Directories cannot be
 * opened for fsync there: NTFS journals the rename itself, so the directory step is skipped.
 * macOS: Node's fsync/fdatasync already use F_FULLFSYNC, which also flushes the drive's cache.
 * Linux: fsync the file, rename, fsync the directory (the rename's durability).
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PlatformName } from './folder-names.js';

const TRANSIENT_ON_WINDOWS = new Set(['EPERM', 'EBUSY', 'EACCES']);
/** Waits between attempts: about 2.5 s in all, longer than a scanner holds a new file. */
const BACKOFF_MS = [10, 20, 40, 80, 160, 320, 640, 1280];

export interface RenameOptions {
  platform?: PlatformName | NodeJS.Platform;
  /** The rename to attempt (fs.rename); replaceable so the retry policy can be exercised. */
  rename?: (from: string, to: string) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

export async function renameDurably(
  from: string,
  to: string,
  options: RenameOptions = {},
): Promise<void> {
  const rename = options.rename ?? fs.rename;
  const platform = options.platform ?? process.platform;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (platform !== 'win32' || !TRANSIENT_ON_WINDOWS.has(code) || attempt >= BACKOFF_MS.length)
        throw err;
      await sleep(BACKOFF_MS[attempt]!);
    }
  }
}

/**
 * A rename done on this thread: on a local disk it takes microseconds in the kernel, less
 * than the thread pool's round trip for it (BENCHMARKS.md, 32). Only a rename Windows refuses
 * for a moment goes on to renameDurably's retries, and only then is a promise returned.
 */
export function renameHere(
  from: string,
  to: string,
  options: RenameOptions & { renameSync?: (from: string, to: string) => void } = {},
): void | Promise<void> {
  try {
    (options.renameSync ?? fsSync.renameSync)(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if ((options.platform ?? process.platform) !== 'win32' || !TRANSIENT_ON_WINDOWS.has(code))
      throw err;
    return renameDurably(from, to, options);
  }
}

/** Calls in place between two turns of the event loop (see eachInSlices). */
const SLICE = 64;

/**
 * Runs a quick file-system call (a rename, a removal, a check that a file is there) for each
 * item on this thread, letting the event loop turn after every SLICE of them: on a network
 * file system, where each may take a millisecond, panes and IDLE sessions wait at most one
 * slice. A call that returns a promise (a retried rename) is waited for.
 */
export async function eachInSlices<T>(
  items: readonly T[],
  work: (item: T) => void | Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % SLICE === 0) await nextTurn();
    const pending = work(items[i]!);
    if (pending) await pending;
  }
}

/** Makes the entries of a directory (renames, creations, removals) durable. */
export async function fsyncDirectory(
  dir: string,
  platform: PlatformName | NodeJS.Platform = process.platform,
): Promise<void> {
  if (platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
