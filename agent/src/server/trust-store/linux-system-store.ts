/**
 * Debian/Ubuntu's machine-wide CA store: a file in /usr/local/share/ca-certificates, then
 * update-ca-certificates. Read by OpenSSL, GnuTLS, curl and Node with --use-openssl-ca, not by
 * browsers (those read NSS). Needs root: as a user the step is skipped and says why.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { localCaOf, type LocalCa } from './local-ca.js';
import { describeError, lastLine, runTool } from './run-tool.js';
import type { TrustOptions, TrustPresence, TrustStep } from './types.js';

export const SYSTEM_CA_DIR = '/usr/local/share/ca-certificates';
export const SYSTEM_CA_FILE = path.join(SYSTEM_CA_DIR, 'storesync-local-ca.crt');
const STORE = `system store (${SYSTEM_CA_FILE})`;
const UPDATE_HINT = 'install it with `sudo apt-get install ca-certificates`';

async function writable(dir: string): Promise<string | null> {
  try {
    await fs.access(dir, constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? `${dir} does not exist (not a Debian-like system)`
      : `${dir} is not writable by this user (run with sudo to include it)`;
  }
}

/** The fingerprint of the CA in our system file, or null when there is none. */
async function installedFingerprint(): Promise<string | null> {
  try {
    return localCaOf(SYSTEM_CA_FILE, await fs.readFile(SYSTEM_CA_FILE, 'utf8')).sha256;
  } catch {
    return null;
  }
}

async function update(): Promise<string | null> {
  const result = await runTool('update-ca-certificates', [], UPDATE_HINT);
  return result.code === 0 ? null : `update-ca-certificates failed: ${lastLine(result)}`;
}

export async function systemInstall(ca: LocalCa, options: TrustOptions): Promise<TrustStep> {
  if (!options.system) return { store: STORE, status: 'skipped', message: 'skipped (--no-system)' };
  const why = await writable(SYSTEM_CA_DIR);
  if (why) return { store: STORE, status: 'skipped', message: why };
  if ((await installedFingerprint()) === ca.sha256) {
    return { store: STORE, status: 'unchanged', message: `${ca.nickname} is already there` };
  }
  try {
    await fs.writeFile(SYSTEM_CA_FILE, ca.pem, { mode: 0o644 });
    const failed = await update();
    if (failed) return { store: STORE, status: 'failed', message: failed };
  } catch (err) {
    return { store: STORE, status: 'failed', message: describeError(err) };
  }
  return { store: STORE, status: 'done', message: `added ${ca.nickname}` };
}

export async function systemUninstall(
  ca: LocalCa | null,
  options: TrustOptions,
): Promise<TrustStep> {
  if (!options.system) return { store: STORE, status: 'skipped', message: 'skipped (--no-system)' };
  const present = await installedFingerprint();
  if (present === null) return { store: STORE, status: 'unchanged', message: 'not there' };
  if (ca && present !== ca.sha256 && !options.all) {
    return {
      store: STORE,
      status: 'unchanged',
      message: 'holds another StoreSync CA, kept (--all removes it too)',
    };
  }
  const why = await writable(SYSTEM_CA_DIR);
  if (why) return { store: STORE, status: 'skipped', message: why };
  try {
    await fs.rm(SYSTEM_CA_FILE, { force: true });
    const failed = await update();
    if (failed) return { store: STORE, status: 'failed', message: failed };
  } catch (err) {
    return { store: STORE, status: 'failed', message: describeError(err) };
  }
  return { store: STORE, status: 'done', message: 'removed' };
}

export async function systemPresence(ca: LocalCa): Promise<TrustPresence> {
  const trusted = (await installedFingerprint()) === ca.sha256;
  return {
    store: STORE,
    trusted,
    required: false,
    message: trusted ? 'present' : 'not present (optional: only non-browser tools read it)',
  };
}
