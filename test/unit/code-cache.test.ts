/**
 * The code cache of the sync bundle (agent/src/code-cache.ts): the second run takes what the
 * first compiled, a damaged or stale cache is ignored and replaced, earlier builds' caches
 * go, and a cache that cannot be written costs nothing but speed. Each load runs in a process
 * of its own, as `storesync` does (V8 also keeps compiled code in memory within a process).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CODE_CACHE = fileURLToPath(new URL('../../agent/src/code-cache.ts', import.meta.url));

describe('code cache of a CommonJS bundle', function () {
  this.timeout(30_000);
  let dir: string;
  let bundle: string;
  let cacheDir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-code-cache-'));
    bundle = path.join(dir, 'bundle.cjs');
    cacheDir = path.join(dir, 'cache');
    await writeBundle(bundle, 2);
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  async function writeBundle(file: string, factor: number): Promise<void> {
    // Enough functions that a cache has something to hold, and CommonJS's own variables.
    const helpers = Array.from(
      { length: 50 },
      (_, i) => `function h${i}(x) { return x + ${i}; }`,
    ).join('\n');
    await fs.writeFile(
      file,
      `${helpers}\nexports.times = (x) => h0(x) * ${factor};\n` +
        `exports.where = [__filename, __dirname, typeof require, typeof module];\n`,
    );
  }

  /** Loads the bundle in a new process: what it exported, and whether the cache was used. */
  function load(file = bundle, cache: string | null = cacheDir) {
    const script =
      `const { loadBundle } = await import(${JSON.stringify(CODE_CACHE)});` +
      `const b = loadBundle(${JSON.stringify(file)}, ${JSON.stringify(cache)});` +
      `const out = { cacheUsed: b.cacheUsed, times: b.exports.times(5), where: b.exports.where };` +
      `b.saveCache(); console.log(JSON.stringify(out));`;
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    return JSON.parse(output) as { cacheUsed: boolean; times: number; where: unknown[] };
  }

  const caches = async () => (await fs.readdir(cacheDir).catch(() => [])).sort();

  it('runs the bundle as CommonJS, and the next run uses what this one compiled', async () => {
    const first = load();
    assert.equal(first.cacheUsed, false);
    assert.equal(first.times, 10);
    assert.deepEqual(first.where, [bundle, dir, 'function', 'object']);
    assert.equal((await caches()).length, 1);
    const second = load();
    assert.equal(second.cacheUsed, true);
    assert.equal(second.times, 10);
  });

  it('ignores a damaged cache and writes a good one', async () => {
    load();
    const [name] = await caches();
    const file = path.join(cacheDir, name!);
    const data = await fs.readFile(file);
    data[data.length - 1] ^= 0xff;
    await fs.writeFile(file, data);
    assert.equal(load().cacheUsed, false);
    assert.equal(load().cacheUsed, true);
  });

  it('does not use the cache of an earlier build, and removes it once replaced', async () => {
    load();
    const before = await caches();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeBundle(bundle, 3);
    const rebuilt = load();
    assert.equal(rebuilt.cacheUsed, false);
    assert.equal(rebuilt.times, 15, 'the new code ran');
    const after = await caches();
    assert.equal(after.length, 1);
    assert.notDeepEqual(after, before);
    assert.equal(load().cacheUsed, true);
  });

  it('keeps the caches of another installed bundle', async () => {
    const other = path.join(dir, 'other', 'bundle.cjs');
    await fs.mkdir(path.dirname(other));
    await writeBundle(other, 4);
    load();
    assert.equal(load(other).times, 20);
    assert.equal((await caches()).length, 2);
    assert.equal(load().cacheUsed, true);
    assert.equal(load(other).cacheUsed, true);
  });

  it('runs without a cache where none can be written, or none is wanted', async () => {
    await fs.writeFile(cacheDir, 'a file where the directory would be');
    assert.equal(load().times, 10);
    assert.equal(load().cacheUsed, false);
    assert.equal(load(bundle, null).cacheUsed, false);
  });
});
