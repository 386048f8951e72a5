/**
 * Reads the rotated log as one stream of lines: every file oldest first, then whatever is
 * appended, moving to the next file when pino-roll rotates. The first poll returns all that is
 * there; later polls return only new complete lines, so `storesync logs --follow` is the same
 * loop as `storesync logs`.
 */
import fs from 'node:fs/promises';
import { listLogFiles, type LogFile } from './log-files.js';

const NEWLINE = 0x0a;

export class LogFollower {
  private current: LogFile | null = null;
  private offset = 0;
  /** The start of a line whose end is not written yet. Bytes: it may end mid-character. */
  private partial: Buffer = Buffer.alloc(0);

  constructor(private readonly dir: string) {}

  /** Complete lines not returned before, in the order they were written. */
  async poll(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const files = await listLogFiles(this.dir);
      if (!this.current) {
        if (files.length === 0) return lines;
        this.current = files[0]!;
        this.offset = 0;
      }
      const current: LogFile = this.current;
      const next = files.find((f) => f.number > current.number);
      await this.readNew(lines);
      if (!next) return lines;
      // A newer file exists, so this one is complete. Read it once more: lines may have been
      // added between the read above and the rotation that created the newer file.
      await this.readNew(lines);
      if (this.partial.length > 0) lines.push(this.partial.toString('utf8'));
      this.partial = Buffer.alloc(0);
      this.current = next;
      this.offset = 0;
    }
  }

  private async readNew(lines: string[]): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.current!.path, 'r');
    } catch (err) {
      // Rotated away (maxFiles reached) before we got to it: nothing more to read there.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size < this.offset) this.offset = 0; // truncated by hand: start over
      if (size === this.offset) return;
      const chunk = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
      this.offset += bytesRead;
      const data = Buffer.concat([this.partial, chunk.subarray(0, bytesRead)]);
      const end = data.lastIndexOf(NEWLINE);
      this.partial = end < 0 ? data : data.subarray(end + 1);
      if (end < 0) return;
      for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
        if (line !== '') lines.push(line);
      }
    } finally {
      await handle.close();
    }
  }
}
