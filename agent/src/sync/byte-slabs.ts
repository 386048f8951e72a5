/**
 * Reusable memory for message bodies on their way from the socket to their files.
 *
 * Why not keep the socket's own chunks (as the lane did before): a chunk held until its
 * message is written outlives V8's young collections and is promoted, and V8 counts the
 * memory behind promoted buffers against the old generation's limit. Over a download that
 * made a full (mark-compact) collection every ~10 MB received: ~200 of them in a 20,000-
 * message initial sync, about a fifth of its CPU time, while the spent chunks waited for the
 * next one to be freed (BENCHMARKS.md, 40). Copied into slabs as they arrive, the chunks die
 * young like any short-lived object; the slabs are allocated once and used again as soon as
 * every body in them has been written.
 *
 * A slab is used again only after each body gathered into it was `release()`d, which its
 * owner does once the file is written. A body that is dropped without it (a failure, a
 * cancel) keeps its slabs from coming back: they are then simply left to the collector.
 */

interface Slab {
  readonly bytes: Buffer;
  used: number;
  /** Bodies with bytes in it that were not released yet. */
  holds: number;
}

export class ByteSlabs {
  private current: Slab | null = null;
  private readonly idle: Slab[] = [];

  constructor(
    private readonly slabBytes = 1024 * 1024,
    /** Emptied slabs kept for use again; beyond it they go to the collector. */
    private readonly keepIdle = 8,
  ) {}

  /** A body to copy bytes into. */
  gather(): GatheredBytes {
    return new GatheredBytes(this);
  }

  /** Slabs waiting to be used again (for tests). */
  idleSlabs(): number {
    return this.idle.length;
  }

  /** @internal The slab to copy into: the current one, or the next when it is full. */
  room(): Slab {
    const current = this.current;
    if (current && current.used < current.bytes.length) return current;
    const next = this.idle.pop() ?? {
      bytes: Buffer.allocUnsafeSlow(this.slabBytes),
      used: 0,
      holds: 0,
    };
    this.current = next;
    if (current && current.holds === 0) this.recycle(current);
    return next;
  }

  /** @internal One body's bytes in `slab` were written. */
  letGo(slab: Slab): void {
    slab.holds -= 1;
    if (slab.holds === 0 && slab !== this.current) this.recycle(slab);
  }

  private recycle(slab: Slab): void {
    if (this.idle.length >= this.keepIdle) return;
    slab.used = 0;
    this.idle.push(slab);
  }
}

/** One body's bytes, copied into slabs in the order they were appended. */
export class GatheredBytes {
  /** Runs of the body, each within one slab. */
  private readonly runs: Array<{ slab: Slab; start: number; end: number }> = [];
  private released = false;
  size = 0;

  constructor(private readonly slabs: ByteSlabs) {}

  append(bytes: Uint8Array): void {
    if (this.released) throw new Error('bytes appended to a released body');
    let from = 0;
    while (from < bytes.length) {
      const slab = this.slabs.room();
      const count = Math.min(bytes.length - from, slab.bytes.length - slab.used);
      slab.bytes.set(bytes.subarray(from, from + count), slab.used);
      const last = this.runs[this.runs.length - 1];
      if (last && last.slab === slab && last.end === slab.used) last.end += count;
      else {
        this.runs.push({ slab, start: slab.used, end: slab.used + count });
        slab.holds += 1;
      }
      slab.used += count;
      from += count;
      this.size += count;
    }
  }

  /** The bytes as pieces, one per slab they lie in: valid until `release()`. */
  pieces(): Buffer[] {
    return this.runs.map((run) => run.slab.bytes.subarray(run.start, run.end));
  }

  /** The body was written (or is not wanted): its slabs may be used again. Once only counts. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const run of this.runs) this.slabs.letGo(run.slab);
  }
}
