/**
 * manifest.xml basics: well-formed, every URL on the agent's origin, every resource id
 * defined and short enough, every icon a PNG of the declared size that the pane build ships.
 * (The full offline validator comes with the pane's deployment work.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// Comments are prose, not configuration.
const manifest = readFileSync('manifest.xml', 'utf8').replace(/<!--[\s\S]*?-->/g, '');
const ORIGIN = 'https://localhost:4643';

function pngSize(file: string): { width: number; height: number } {
  const data = readFileSync(file);
  assert.equal(data.subarray(1, 4).toString('latin1'), 'PNG', `${file} is not a PNG`);
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

describe('manifest.xml', () => {
  it('is well-formed XML', () => {
    execFileSync('xmllint', ['--noout', 'manifest.xml'], { stdio: 'pipe' });
  });

  it('points every URL at the agent origin over https', () => {
    const urls = [...manifest.matchAll(/https?:\/\/[^"<\s]+/g)]
      .map((m) => m[0])
      .filter((u) => !u.includes('schemas.microsoft.com') && !u.includes('www.w3.org'));
    assert.ok(urls.length >= 5);
    for (const url of urls) assert.ok(url.startsWith(`${ORIGIN}/`) || url === ORIGIN, url);
  });

  it('defines every resid it uses, each at most 32 characters', () => {
    const used = new Set([...manifest.matchAll(/resid="([^"]+)"/g)].map((m) => m[1]!));
    const defined = new Set(
      [...manifest.matchAll(/<bt:(?:Image|Url|String) id="([^"]+)"/g)].map((m) => m[1]!),
    );
    for (const id of used) {
      assert.ok(defined.has(id), `resid ${id} is not defined`);
      assert.ok(id.length <= 32, `resid ${id} is longer than 32 characters`);
    }
  });

  it('declares icons that exist in the declared pixel sizes', () => {
    for (const match of manifest.matchAll(
      /<bt:Image id="Icon(\d+)" DefaultValue="https:\/\/localhost:4643\/(assets\/[^"]+)"/g,
    )) {
      const size = Number(match[1]);
      const file = path.join('addin', match[2]!);
      assert.deepEqual(pngSize(file), { width: size, height: size }, file);
    }
    for (const [tag, size] of [
      ['IconUrl', 64],
      ['HighResolutionIconUrl', 128],
    ] as const) {
      const file = new RegExp(`<${tag} DefaultValue="${ORIGIN}/(assets/[^"]+)"`).exec(
        manifest,
      )?.[1];
      assert.ok(file, tag);
      assert.deepEqual(pngSize(path.join('addin', file)), { width: size, height: size }, tag);
    }
  });

  it('has a GUID id and a four-part version', () => {
    assert.match(
      manifest,
      /<Id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}<\/Id>/,
    );
    assert.match(manifest, /<Version>\d+\.\d+\.\d+\.\d+<\/Version>/);
  });
});
