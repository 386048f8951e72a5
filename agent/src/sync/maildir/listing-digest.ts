/**
 * A digest of a Maildir folder's listing: the names in cur/ and new/ (not those starting with
 * ".", which are no messages by the convention), as a sum of a 64-bit hash of each name and
 * their count. A sum, so that it can follow changes without the listing: a rename takes the
 * old name's hash away and adds the new one's.
 *
 * What it is for: the last pass that left a folder in sync recorded the digest of a listing
 * it had checked against the state. A pass that finds the Maildir as then (its mark) and
 * changes it only by its own renames, deliveries and removals knows the digest the listing
 * must have now; a listing with that digest is that listing, so nothing else changed it and
 * it still matches the state, without reading the state's rows again (BENCHMARKS.md, 21).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export type ListedSubdir = 'cur' | 'new';

export class ListingDigest {
  private constructor(
    private count: number,
    private high: number,
    private low: number,
  ) {}

  static empty(): ListingDigest {
    return new ListingDigest(0, 0, 0);
  }

  /** A digest as `toString` wrote it, or null if it is not one. */
  static parse(text: string | null): ListingDigest | null {
    const match = text === null ? null : /^(\d+):([0-9a-f]{8}):([0-9a-f]{8})$/.exec(text);
    if (!match) return null;
    return new ListingDigest(Number(match[1]), parseInt(match[2]!, 16), parseInt(match[3]!, 16));
  }

  copy(): ListingDigest {
    return new ListingDigest(this.count, this.high, this.low);
  }

  add(subdir: ListedSubdir, name: string): void {
    if (name.startsWith('.')) return;
    const [high, low] = nameHash(subdir, name);
    this.count += 1;
    this.high = (this.high + high) >>> 0;
    this.low = (this.low + low) >>> 0;
  }

  remove(subdir: ListedSubdir, name: string): void {
    if (name.startsWith('.')) return;
    const [high, low] = nameHash(subdir, name);
    this.count -= 1;
    this.high = (this.high - high) >>> 0;
    this.low = (this.low - low) >>> 0;
  }

  equals(other: ListingDigest | null): boolean {
    return (
      other !== null &&
      other.count === this.count &&
      other.high === this.high &&
      other.low === this.low
    );
  }

  toString(): string {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    return `${this.count}:${hex(this.high)}:${hex(this.low)}`;
  }
}

/** The digest of what cur/ and new/ hold now (a missing directory holds nothing). */
export async function readListingDigest(dir: string): Promise<ListingDigest> {
  const digest = ListingDigest.empty();
  for (const subdir of ['cur', 'new'] as const) {
    const names = await fs.readdir(path.join(dir, subdir)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const name of names) digest.add(subdir, name);
  }
  return digest;
}

/**
 * Two independent 32-bit hashes of "subdir/name" (cyrb53's mixing, two seeds' worth of
 * lanes): 64 bits, so that another program's rename giving the same sum is out of reach.
 * Not cryptographic, and it need not be: the names are the user's own files.
 */
function nameHash(subdir: ListedSubdir, name: string): [number, number] {
  let h1 = subdir === 'cur' ? 0xdeadbeef : 0x41c6ce57;
  let h2 = subdir === 'cur' ? 0x41c6ce57 : 0xdeadbeef;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}
