/**
 * macOS: the CA goes into the user's login keychain with a trust setting for SSL roots
 * (`security add-trusted-cert -r trustRoot`), which Safari, Chrome, Edge and Outlook's web
 * views honour. macOS asks for the user's password to change trust settings: that dialog is
 * expected. Nothing machine-wide is touched, so `system` has no effect here.
 */
import os from 'node:os';
import path from 'node:path';
import { CA_NICKNAME_PREFIX, type LocalCa } from './local-ca.js';
import { describeError, lastLine, runTool } from './run-tool.js';
import type { TrustOptions, TrustPresence, TrustStep, TrustStore } from './types.js';

const SECURITY_HINT = 'it is part of macOS (/usr/bin/security); check PATH';
const STORE = 'macOS login keychain';

function keychain(): string {
  return path.join(os.homedir(), 'Library', 'Keychains', 'login.keychain-db');
}

function security(args: string[]) {
  return runTool('security', args, SECURITY_HINT);
}

/** SHA-1 hashes of the certificates in the login keychain whose name starts with ours. */
async function storeSyncHashes(): Promise<string[]> {
  // The CA's common name is "StoreSync local CA" (certificate.ts); -c matches a substring.
  const result = await security(['find-certificate', '-a', '-Z', '-c', 'StoreSync', keychain()]);
  if (result.code !== 0) return []; // "could not be found" is exit 44
  return [...result.stdout.matchAll(/SHA-1 hash:\s*([0-9A-F]{40})/gi)].map((m) =>
    m[1]!.toUpperCase(),
  );
}

async function guarded(work: () => Promise<TrustStep>): Promise<TrustStep> {
  try {
    return await work();
  } catch (err) {
    return { store: STORE, status: 'failed', message: describeError(err) };
  }
}

export const macosTrustStore: TrustStore = {
  platform: 'darwin',

  install: async (ca: LocalCa, _options: TrustOptions) => [
    await guarded(async () => {
      if ((await storeSyncHashes()).includes(ca.sha1Hex)) {
        return { store: STORE, status: 'unchanged', message: `${ca.nickname} is already there` };
      }
      const result = await security([
        'add-trusted-cert',
        '-r',
        'trustRoot',
        '-k',
        keychain(),
        ca.file,
      ]);
      if (result.code !== 0) {
        return {
          store: STORE,
          status: 'failed',
          message: `security add-trusted-cert failed: ${lastLine(result)}`,
        };
      }
      return { store: STORE, status: 'done', message: `added ${ca.nickname} as a trusted root` };
    }),
  ],

  uninstall: async (ca: LocalCa | null, options: TrustOptions) => [
    await guarded(async () => {
      const present = await storeSyncHashes();
      const targets = options.all || !ca ? present : present.filter((h) => h === ca.sha1Hex);
      if (targets.length === 0) {
        return { store: STORE, status: 'unchanged', message: `no ${CA_NICKNAME_PREFIX} was there` };
      }
      if (ca && targets.includes(ca.sha1Hex)) {
        // Trust settings live apart from the certificate: drop them first (best effort).
        await security(['remove-trusted-cert', ca.file]);
      }
      for (const hash of targets) {
        const result = await security(['delete-certificate', '-Z', hash, keychain()]);
        if (result.code !== 0) {
          return {
            store: STORE,
            status: 'failed',
            message: `security delete-certificate failed: ${lastLine(result)}`,
          };
        }
      }
      return { store: STORE, status: 'done', message: `removed ${targets.length} certificate(s)` };
    }),
  ],

  async check(ca: LocalCa): Promise<TrustPresence[]> {
    try {
      const trusted = (await storeSyncHashes()).includes(ca.sha1Hex);
      return [{ store: STORE, trusted, required: true, message: trusted ? 'trusted' : 'absent' }];
    } catch (err) {
      return [{ store: STORE, trusted: null, required: true, message: describeError(err) }];
    }
  },
};
