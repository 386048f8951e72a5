/**
 * Bundles the compiled agent (dist/agent, from tsc) into dist/cli: an entry that loads the
 * command line, and one chunk per command with shared chunks between them, so that starting
 * `storesync` reads a handful of files instead of resolving and compiling about a thousand
 * modules one by one. A one-shot `storesync sync` starts ~0.2 s sooner (BENCHMARKS.md).
 *
 * Left to node_modules: better-sqlite3 (a native addon) and office-addin-manifest (it reads
 * files that sit next to its code). Identifiers are kept, so stack traces in logs name the
 * functions; the source maps (`node --enable-source-maps`) lead back to the TypeScript.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = 'dist/cli';
rmSync(outdir, { recursive: true, force: true }); // no chunk of an earlier build lingers

await build({
  entryPoints: ['dist/agent/cli.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'office-addin-manifest'],
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // Bundled CommonJS packages call require() for Node's own modules (and optional ones).
  banner: {
    js: "import { createRequire as __storesyncRequire } from 'node:module'; const require = __storesyncRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
