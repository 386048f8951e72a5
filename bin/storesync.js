#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --heap-growing-percent=50
// Entry point for the `storesync` command: runs the compiled agent CLI. The first line starts
// Node with StoreSync's memory settings (agent/src/launch-settings.ts, which a test keeps it
// equal to); `node bin/storesync.js` runs without them. A CommonJS script (bin/package.json):
// Node starts one faster than an ES module.
'use strict';

// Downloads fsync a whole batch of files at once; libuv runs each fsync on a thread of its
// pool (4 by default), so a larger pool lets the disk flush more of them together. It must
// be set before anything starts the pool, hence before the CLI is loaded.
process.env.UV_THREADPOOL_SIZE ??= '16';

// The bundled CLI (scripts/bundle-cli.mjs): a few files to load instead of a thousand modules.
// `storesync sync`, often run by scripts and timers where start-up is most of a quick pass,
// has a bundle of its own that runs with a V8 code cache (agent/src/code-cache.ts).
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'cli');
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
// Beside a running agent, `sync` is first tried the quick way (sync-fast-path.ts), which says
// null whenever the whole CLI is needed.
const runSync = () =>
  require(path.join(dist, 'code-cache.cjs')).runCachedCli(
    path.join(dist, 'sync.cjs'),
    process.argv,
  );
const run =
  command === 'sync'
    ? require(path.join(dist, 'sync-fast-path.cjs'))
        .syncThroughRecordedAgent(process.argv)
        .then((code) => code ?? runSync())
    : import('../dist/cli/cli.js').then((cli) => cli.main(process.argv));

run.then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
