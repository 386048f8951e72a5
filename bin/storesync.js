#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// Entry point for the `storesync` command: runs the compiled agent CLI. The first line starts
// Node with StoreSync's memory settings (agent/src/launch-settings.ts, which a test keeps it
// equal to); `node bin/storesync.js` runs without them.

// Downloads fsync a whole batch of files at once; libuv runs each fsync on a thread of its
// pool (4 by default), so a larger pool lets the disk flush more of them together. It must
// be set before anything starts the pool, hence before the CLI is loaded.
process.env.UV_THREADPOOL_SIZE ??= '16';

// The bundled CLI (scripts/bundle-cli.mjs): a few files to load instead of a thousand modules.
const { main } = await import('../dist/cli/cli.js');

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
