/**
 * Linux: browsers read NSS databases, not /etc/ssl. Chromium, Chrome and Edge share the
 * user's ~/.pki/nssdb (created if missing); each Firefox profile has its own cert9.db (only
 * existing profiles are touched). The machine-wide store is optional (see linux-system-store).
 */
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalCa } from './local-ca.js';
import { isNssDb, nssAdd, nssHas, nssRemove, tildePath } from './nss-db.js';
import { describeError } from './run-tool.js';
import { systemInstall, systemPresence, systemUninstall } from './linux-system-store.js';
import type { TrustOptions, TrustPresence, TrustStep, TrustStore } from './types.js';

export function userNssDb(): string {
  return path.join(os.homedir(), '.pki', 'nssdb');
}

const FIREFOX_ROOTS = () => [
  path.join(os.homedir(), '.mozilla', 'firefox'),
  // Ubuntu's Firefox snap keeps its profiles here.
  path.join(os.homedir(), 'snap', 'firefox', 'common', '.mozilla', 'firefox'),
];

/** Profile directories holding an SQL NSS database (cert9.db). */
export async function firefoxProfiles(): Promise<string[]> {
  const found: string[] = [];
  for (const root of FIREFOX_ROOTS()) {
    let names: string[];
    try {
      names = await readdir(root);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const dir = path.join(root, name);
      if (isNssDb(dir)) found.push(dir);
    }
  }
  return found;
}

const userStore = () => `NSS user database (${tildePath(userNssDb())}: Chromium, Chrome, Edge)`;
const firefoxStore = (dir: string) => `Firefox profile ${tildePath(dir)}`;

/** A step that threw (a tool missing, say) still becomes a report line, not an abort. */
async function step(store: string, work: () => Promise<TrustStep>): Promise<TrustStep> {
  try {
    return await work();
  } catch (err) {
    return { store, status: 'failed', message: describeError(err) };
  }
}

async function firefoxSteps(
  work: (store: string, dir: string) => Promise<TrustStep>,
): Promise<TrustStep[]> {
  const profiles = await firefoxProfiles();
  if (profiles.length === 0) {
    return [{ store: 'Firefox profiles', status: 'skipped', message: 'no Firefox profile found' }];
  }
  return Promise.all(
    profiles.map((dir) => step(firefoxStore(dir), () => work(firefoxStore(dir), dir))),
  );
}

export const linuxTrustStore: TrustStore = {
  platform: 'linux',

  async install(ca: LocalCa, options: TrustOptions): Promise<TrustStep[]> {
    return [
      await step(userStore(), () => nssAdd(userStore(), userNssDb(), ca, true)),
      ...(await firefoxSteps((store, dir) => nssAdd(store, dir, ca, false))),
      await systemInstall(ca, options),
    ];
  },

  async uninstall(ca: LocalCa | null, options: TrustOptions): Promise<TrustStep[]> {
    const which = options.all ? null : ca;
    return [
      await step(userStore(), () => nssRemove(userStore(), userNssDb(), which)),
      ...(await firefoxSteps((store, dir) => nssRemove(store, dir, which))),
      await systemUninstall(which, options),
    ];
  },

  async check(ca: LocalCa): Promise<TrustPresence[]> {
    const presence = async (store: string, dir: string, required: boolean) => {
      try {
        const trusted = await nssHas(dir, ca);
        return { store, trusted, required, message: trusted ? 'trusted' : 'not trusted' };
      } catch (err) {
        return { store, trusted: null, required, message: describeError(err) };
      }
    };
    const profiles = await firefoxProfiles();
    return [
      await presence(userStore(), userNssDb(), true),
      ...(await Promise.all(profiles.map((dir) => presence(firefoxStore(dir), dir, false)))),
      await systemPresence(ca),
    ];
  },
};
