/**
 * A fresh, empty filesystem per tool and round, so no run inherits another's page cache,
 * directory fragmentation or deleted-inode backlog. As root: a new ext4 (journal on, lazy
 * init off so nothing zeroes inode tables mid-run) on a sparse loop image; otherwise a plain
 * directory (say so in the results: figures then depend on what ran before).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export type ScratchKind = 'ext4' | 'dir';

export interface Scratch {
  dir: string;
  remove(): Promise<void>;
}

export function defaultScratchKind(): ScratchKind {
  return process.getuid?.() === 0 ? 'ext4' : 'dir';
}

export async function makeScratch(
  parent: string,
  name: string,
  kind: ScratchKind,
  size: { bytes: number; files: number },
): Promise<Scratch> {
  const dir = path.join(parent, name);
  // A run that was killed may have left its image mounted here.
  if (kind === 'ext4') {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {
      // not mounted: the usual case
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  if (kind === 'dir') {
    return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
  }
  const image = `${dir}.img`;
  const megabytes = Math.ceil((size.bytes * 1.3) / 1e6) + 512;
  execFileSync('truncate', ['-s', `${megabytes}M`, image]);
  execFileSync('mkfs.ext4', [
    '-q',
    '-F',
    '-N',
    String(size.files * 3 + 20_000),
    '-E',
    'lazy_itable_init=0,lazy_journal_init=0',
    image,
  ]);
  execFileSync('mount', ['-o', 'loop', image, dir]);
  return {
    dir,
    remove: async () => {
      try {
        execFileSync('umount', [dir]);
      } catch {
        execFileSync('umount', ['-l', dir]);
      }
      await fs.rm(image, { force: true });
      await fs.rmdir(dir).catch(() => undefined);
    },
  };
}
