// Preloaded into a `storesync` process by tests (NODE_OPTIONS=--require): appends the name of
// every bundle of dist/cli the process reads to the file STORESYNC_TEST_BUNDLE_READS names, so
// that a test can tell which way a command took.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const out = process.env.STORESYNC_TEST_BUNDLE_READS;
const readFileSync = fs.readFileSync;
fs.readFileSync = function (file, ...rest) {
  if (out && typeof file === 'string' && /[\\/]dist[\\/]cli[\\/][^\\/]+\.c?js$/.test(file))
    fs.appendFileSync(out, `${path.basename(file)}\n`);
  return readFileSync.call(this, file, ...rest);
};
