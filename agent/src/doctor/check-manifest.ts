/**
 * Outlook loads the pane from the URLs in manifest.xml: they must name the port the agent
 * listens on, or Outlook shows an empty pane.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../package-info.js';
import { fail, ok, type DoctorCheck } from './types.js';

export const MANIFEST_FILE = path.join(PACKAGE_ROOT, 'manifest.xml');

export async function checkManifest(port: number, file = MANIFEST_FILE): Promise<DoctorCheck> {
  let xml: string;
  try {
    xml = await readFile(file, 'utf8');
  } catch {
    return fail(
      'manifest',
      `manifest.xml missing (${file})`,
      'Reinstall StoreSync: the package ships it.',
    );
  }
  // The manifest's comments mention the URL too; only its values count.
  const values = xml.replace(/<!--[\s\S]*?-->/g, '');
  const ports = new Set(
    [...values.matchAll(/https:\/\/localhost(?::(\d+))?(?=[/"<\s])/g)].map((m) =>
      Number(m[1] ?? 443),
    ),
  );
  if (ports.size === 0) {
    return fail(
      'manifest',
      `manifest.xml names no https://localhost URL (${file})`,
      'Reinstall StoreSync.',
    );
  }
  if (ports.size === 1 && ports.has(port)) {
    return ok('manifest', `manifest.xml points to https://localhost:${port}/`);
  }
  const named = [...ports].join(', ');
  return fail(
    'manifest',
    `manifest.xml points to port ${named}, the agent listens on ${port}`,
    `Set server.port to ${[...ports][0]} in the config, or change every localhost URL in ${file} to port ${port} and add the add-in to Outlook again.`,
  );
}
