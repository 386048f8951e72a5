/** Reads a Maildir folder back for assertions: every message file with its flag letters. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { splitMaildirName } from '../../agent/src/sync/maildir/flags.js';

export interface StoredMessage {
  subdir: 'cur' | 'new';
  name: string;
  letters: string;
  data: Buffer;
}

export async function readMaildirFolder(dir: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (const subdir of ['cur', 'new'] as const) {
    const names = await fs.readdir(path.join(dir, subdir)).catch(() => [] as string[]);
    for (const name of names) {
      out.push({
        subdir,
        name,
        letters: splitMaildirName(name).letters,
        data: await fs.readFile(path.join(dir, subdir, name)),
      });
    }
  }
  return out;
}

export async function tmpIsEmpty(dir: string): Promise<boolean> {
  return (await fs.readdir(path.join(dir, 'tmp')).catch(() => [])).length === 0;
}
