/**
 * Runs a CommonJS bundle with a V8 code cache: the bytecode of the functions a run compiled,
 * kept on disk so that the next run skips parsing and compiling them. `storesync sync` is
 * short (a no-change pass: a few tenths of a second) and compiling its code is a seventh of
 * that. Node 22 has this built in (module.enableCompileCache); on Node 20 only a script run
 * through `vm.Script` can take a cache, hence a CommonJS bundle (scripts/bundle-cli.mjs).
 *
 * The cache is an optimisation and never a risk to a run: it is keyed by the bundle's size
 * and modification time (V8 itself checks only the source's length) and by the V8 version,
 * carries a checksum of its own (a damaged file is ignored, not fed to V8), is written to a
 * temporary name and renamed, and any failure to read or write it just means compiling as
 * usual. It lives in the user's cache directory (platform-paths.ts), not beside the bundle,
 * which may be read-only.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { defaultCacheDirFor } from './platform-paths.js';

const MAGIC = Buffer.from('SSv8');
const DIGEST_BYTES = 32;

export interface LoadedBundle<T> {
  exports: T;
  /** Whether V8 took the cache (false: none yet, or it was stale or damaged). */
  readonly cacheUsed: boolean;
  /** Writes the cache from what this run compiled, unless the one used is current. */
  saveCache(): void;
}

/**
 * Runs the `storesync` CLI from its CommonJS bundle with the user's code cache: what
 * bin/storesync.js does for `storesync sync`. Resolves to the exit code.
 */
export async function runCachedCli(bundleFile: string, argv: string[]): Promise<number> {
  const bundle = loadBundle<{ main(argv: string[]): Promise<number> }>(
    bundleFile,
    defaultCacheDirFor(),
  );
  const code = await bundle.exports.main(argv);
  // A run that went through has compiled what the next one needs.
  if (code === 0) bundle.saveCache();
  return code;
}

/** `cacheDir` null: no cache, the bundle is compiled as `require` would. */
export function loadBundle<T>(file: string, cacheDir: string | null): LoadedBundle<T> {
  // V8 drops the bytecode of functions unused for a while (bytecode flushing): after a long
  // run, such as a first sync, the start-up code would be missing from the cache it writes.
  // Set in every run alike, before anything is compiled: V8 checks caches against its flags.
  if (cacheDir) v8.setFlagsFromString('--no-flush-bytecode');
  const source = fs.readFileSync(file, 'utf8');
  const prefix = cachePrefix(file);
  const cacheFile = cacheDir ? path.join(cacheDir, cacheName(file, prefix)) : null;
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  const module = { exports: {} as T };
  const run = script.runInThisContext() as (
    exports: T,
    require: NodeJS.Require,
    module: { exports: T },
    filename: string,
    dirname: string,
  ) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return {
    get exports() {
      return module.exports;
    },
    cacheUsed,
    saveCache() {
      if (cacheUsed || !cacheFile) return;
      try {
        writeCache(cacheFile, prefix, script.createCachedData());
      } catch {
        // No cache this time: the next run compiles, as this one did.
      }
    },
  };
}

/** The CommonJS function wrapper, as Node's own loader applies it. */
function wrap(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
}

/**
 * One name per installed bundle (its path), build (size and time) and V8 version: a rebuilt
 * bundle never meets an old cache, and two installations do not take turns with one.
 */
function cacheName(file: string, prefix: string): string {
  const { size, mtimeMs } = fs.statSync(file);
  const v8 = process.versions.v8.replace(/[^\w.-]/g, '_');
  return `${prefix}${v8}-${size}-${Math.trunc(mtimeMs)}.cache`;
}

/** The start of the names of one installed bundle's caches, its current and earlier builds'. */
function cachePrefix(file: string): string {
  const where = createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 12);
  return `${path.basename(file, path.extname(file))}-${where}-`;
}

function readCache(cacheFile: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const header = MAGIC.length + DIGEST_BYTES;
  if (data.length <= header || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = data.subarray(header);
  const digest = data.subarray(MAGIC.length, header);
  return digestOf(payload).equals(digest) ? payload : undefined;
}

/** `prefix`: the names of this bundle's caches, this one and those of earlier builds. */
function writeCache(cacheFile: string, prefix: string, payload: Buffer): void {
  const cacheDir = path.dirname(cacheFile);
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, Buffer.concat([MAGIC, digestOf(payload), payload]), {
      mode: 0o600,
    });
    fs.renameSync(temporary, cacheFile);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  // Caches of earlier builds of the same bundle are of no more use.
  for (const name of fs.readdirSync(cacheDir)) {
    if (name.startsWith(prefix) && name.endsWith('.cache') && name !== path.basename(cacheFile))
      fs.rmSync(path.join(cacheDir, name), { force: true });
  }
}

function digestOf(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest();
}
