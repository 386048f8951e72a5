/**
 * How Node.js is started for StoreSync, wherever it is started from: the first line of
 * bin/storesync.js, the service files, `npm start`, the benchmark. They settle memory, not
 * speed, and cannot be set from inside a running process (V8 and the C library size their
 * heaps at start-up). Figures: BENCHMARKS.md.
 *
 *  - V8's young generation at 1 MB semi-spaces instead of up to 16 MB: a sync allocates fast
 *    and briefly (parsed responses, message buffers), which makes V8 grow it to the maximum;
 *  - V8's old generation let grow by half its live size before a full collection, not by a
 *    factor V8 picks (up to 4×) from how cheap its collections were. A download's socket
 *    chunks outlive two young collections while they wait to be written, and what keeps
 *    their memory (outside V8's heap) after that is only the next full collection: the agent,
 *    whose heap is larger than the command's, held 40–57 MB of spent chunks at its peak;
 *    with this flag about 20 MB (peak RSS of its 20k initial sync 140 → 112 MB);
 *  - the C library (glibc) with two malloc arenas, not one per thread of Node's thread pool
 *    (16 threads, for parallel fsyncs), each of which keeps what it freed.
 *
 * Measured on initial syncs, the first and the last: peak RSS 218 → 159 MB at 20,000
 * messages, 238 → 181 MB at 100,000, no slower. (Also tried: glibc's mmap threshold at 128 KB
 * or 1 MB, so that message bodies go back to the system when freed: no lower peak, a third
 * more CPU in page faults.)
 */

/** Node.js options, before the script. */
export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--heap-growing-percent=50',
];

/** Environment for the Node.js process (the glibc ones are ignored elsewhere). */
export const NODE_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The first line of bin/storesync.js: `env -S` passes both to Node. */
export function shebangLine(): string {
  const environment = Object.entries(NODE_ENVIRONMENT).map(([name, value]) => `${name}=${value}`);
  return `#!/usr/bin/env -S ${[...environment, 'node', ...NODE_FLAGS].join(' ')}`;
}
