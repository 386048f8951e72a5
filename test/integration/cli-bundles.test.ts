/**
 * The built CLI bundles (scripts/bundle-cli.mjs): the sync bundle runs through vm.Script,
 * which cannot load ES modules, so it must hold no import(); the quick way in for `sync`
 * must stay small; and no bundle names a directory of the machine that built it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

const DIST = path.resolve('dist', 'cli');

describe('the built CLI bundles', () => {
  it('the sync bundle loads everything with require(), never import()', async () => {
    const source = await fs.readFile(path.join(DIST, 'sync.cjs'), 'utf8');
    const calls = source.match(/(?<![\w$.])import\s*\(/g) ?? [];
    assert.deepEqual(calls, []);
    assert.match(source, /require\("node:child_process"\)/, 'the one dynamic import is there');
  });

  it('the quick way in for `sync` reads a small file first, and neither engine nor schemas', async () => {
    const first = await fs.readFile(path.join(DIST, 'sync-fast-path.cjs'), 'utf8');
    const second = await fs.readFile(path.join(DIST, 'sync-through-recorded-agent.cjs'), 'utf8');
    // Every one-shot run reads the first: the record lookup, and the second step's name.
    assert.ok(first.length < 16 * 1024, `${first.length} bytes`);
    assert.match(first, /require\("\.\/sync-through-recorded-agent\.cjs"\)/);
    for (const absent of ['commander', 'zod', 'SyncReport'])
      assert.ok(!first.includes(absent), `${absent} is in the first step`);
    assert.match(second, /syncCommandThroughAgent/);
    for (const absent of ['better-sqlite3', 'imapflow', 'ConfigSchema', 'SyncEngine'])
      assert.ok(!second.includes(absent), `${absent} is in the second step`);
  });

  it('no bundle names the directory it was built in', async () => {
    const root = path.resolve('.');
    for (const name of await fs.readdir(DIST)) {
      if (name.endsWith('.map')) continue; // source maps lead to the sources, by design
      const source = await fs.readFile(path.join(DIST, name), 'utf8');
      assert.ok(!source.includes(root), `${name} names ${root}`);
    }
  });
});
