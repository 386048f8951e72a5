#!/usr/bin/env node
// Entry point for the `storesync` command: runs the compiled agent CLI.
import { main } from '../dist/agent/cli.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
