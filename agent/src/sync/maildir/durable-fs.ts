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
import fs from 'node:fs/promises';
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
