/**
 * An NSS certificate database (what Chromium, Chrome, Edge and Firefox read on Linux), driven
 * with NSS's certutil. The CA goes in with trust "C,,": a CA trusted to issue TLS server
 * certificates, and for nothing else (no e-mail, no code signing).
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CA_NICKNAME_PREFIX, type LocalCa } from './local-ca.js';
import { lastLine, runTool } from './run-tool.js';
import type { TrustStep } from './types.js';

export const NSS_MISSING_HINT =
  'install the NSS tools that provide it: `sudo apt-get install libnss3-tools` on Debian/Ubuntu ' +
  '(`nss-tools` on Fedora/RHEL, `nss` on Arch)';

const SERVER_CA_TRUST = 'C,,';

/** "~/.pki/nssdb" rather than this user's absolute home, in what we print. */
export function tildePath(p: string): string {
  const home = os.homedir();
  return p === home || p.startsWith(home + path.sep) ? '~' + p.slice(home.length) : p;
}

function certutil(args: string[]) {
  return runTool('certutil', args, NSS_MISSING_HINT);
}

export interface NssEntry {
  nickname: string;
  trust: string;
}

/** The db's certificates as `certutil -L` lists them (nickname, then "SSL,S/MIME,JAR" trust). */
export async function listNss(dbDir: string): Promise<NssEntry[]> {
  const result = await certutil(['-L', '-d', `sql:${dbDir}`]);
  if (result.code !== 0) throw new Error(`certutil -L failed on ${dbDir}: ${lastLine(result)}`);
  const entries: NssEntry[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^(.*\S)\s{2,}(\w*,\w*,\w*)\s*$/.exec(line);
    if (match) entries.push({ nickname: match[1]!, trust: match[2]! });
  }
  return entries;
}

export function isNssDb(dbDir: string): boolean {
  return existsSync(path.join(dbDir, 'cert9.db'));
}

function trustsServers(entry: NssEntry): boolean {
  return (entry.trust.split(',')[0] ?? '').includes('C');
}

export async function nssHas(dbDir: string, ca: LocalCa): Promise<boolean> {
  if (!isNssDb(dbDir)) return false;
  return (await listNss(dbDir)).some((e) => e.nickname === ca.nickname && trustsServers(e));
}

/** Adds the CA; `create` makes the database first when there is none (a fresh user). */
export async function nssAdd(
  store: string,
  dbDir: string,
  ca: LocalCa,
  create: boolean,
): Promise<TrustStep> {
  if (!isNssDb(dbDir)) {
    if (!create)
      return { store, status: 'skipped', message: `no NSS database in ${tildePath(dbDir)}` };
    await fs.mkdir(dbDir, { recursive: true, mode: 0o700 });
    const made = await certutil(['-N', '-d', `sql:${dbDir}`, '--empty-password']);
    if (made.code !== 0) {
      return { store, status: 'failed', message: `cannot create the database: ${lastLine(made)}` };
    }
  }
  if (await nssHas(dbDir, ca)) {
    return { store, status: 'unchanged', message: `${ca.nickname} is already trusted` };
  }
  const added = await certutil([
    '-A',
    '-d',
    `sql:${dbDir}`,
    '-t',
    SERVER_CA_TRUST,
    '-n',
    ca.nickname,
    '-i',
    ca.file,
  ]);
  if (added.code !== 0) {
    return { store, status: 'failed', message: `certutil -A failed: ${lastLine(added)}` };
  }
  return { store, status: 'done', message: `added ${ca.nickname} as a trusted CA for websites` };
}

/** Removes our CA (or, with `ca` null, every StoreSync CA); absent ones are not an error. */
export async function nssRemove(
  store: string,
  dbDir: string,
  ca: LocalCa | null,
): Promise<TrustStep> {
  if (!isNssDb(dbDir)) {
    return { store, status: 'unchanged', message: `no NSS database in ${tildePath(dbDir)}` };
  }
  const ours = (await listNss(dbDir))
    .map((e) => e.nickname)
    .filter((n) => (ca ? n === ca.nickname : n.startsWith(CA_NICKNAME_PREFIX + ' (')));
  const removed: string[] = [];
  // certutil -D deletes one certificate per call; a nickname may have been added twice.
  for (const nickname of new Set(ours)) {
    for (let round = 0; round < 10; round++) {
      const result = await certutil(['-D', '-d', `sql:${dbDir}`, '-n', nickname]);
      if (result.code !== 0) break;
      removed.push(nickname);
    }
  }
  if (removed.length === 0) {
    return {
      store,
      status: 'unchanged',
      message: ca ? `${ca.nickname} was not there` : 'no StoreSync CA was there',
    };
  }
  return { store, status: 'done', message: `removed ${[...new Set(removed)].join(', ')}` };
}
