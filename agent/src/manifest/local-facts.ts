/** What the manifest rules need to know about this installation: the pane's code and icons. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT, PANE_DIR } from '../package-info.js';
import type { ManifestFacts } from './manifest-rules.js';

/** Width and height of a PNG from its IHDR chunk; null when the file is not a PNG. */
export function pngSize(file: string): { width: number; height: number } | null {
  if (!existsSync(file)) return null;
  const data = readFileSync(file);
  if (data.length < 24 || data.subarray(1, 4).toString('latin1') !== 'PNG') return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

/**
 * The pane's sources (or, in an installation without them, its built bundle, whose Office.js
 * property names survive minification) and the icons the agent serves from /assets.
 */
export function localManifestFacts(root = PACKAGE_ROOT): ManifestFacts {
  const sourceDir = path.join(root, 'addin', 'src');
  const paneDir = root === PACKAGE_ROOT ? PANE_DIR : path.join(root, 'dist', 'addin');
  const files = existsSync(sourceDir)
    ? readdirSync(sourceDir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(sourceDir, f))
    : existsSync(paneDir)
      ? readdirSync(paneDir)
          .filter((f) => /^taskpane\..*\.js$/.test(f))
          .map((f) => path.join(paneDir, f))
      : [];
  const assets = [path.join(root, 'addin', 'assets'), path.join(paneDir, 'assets')];
  return {
    paneSources: files.map((f) => readFileSync(f, 'utf8')),
    iconSize: (urlPath) => {
      const match = /^\/assets\/([\w.-]+\.png)$/.exec(urlPath);
      if (!match) return null;
      for (const dir of assets) {
        const size = pngSize(path.join(dir, match[1]!));
        if (size) return size;
      }
      return null;
    },
  };
}
