/** Where the installed package lives and what version it is, for the pane files and `hello`. */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

function findPackageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the storesync package root');
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot(import.meta.dirname);

export const AGENT_VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** The bundled task pane (webpack output). */
export const PANE_DIR = path.join(PACKAGE_ROOT, 'dist', 'addin');
