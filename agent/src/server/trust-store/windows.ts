/**
 * Windows: the current user's Trusted Root store (`certutil -user`), read by Edge, Chrome and
 * Outlook's WebView2. No administrator rights needed; Windows shows a confirmation dialog the
 * first time, which the user must accept. Certificates are addressed by SHA-1 thumbprint.
 */
import type { LocalCa } from './local-ca.js';
import { describeError, lastLine, runTool } from './run-tool.js';
import type { TrustOptions, TrustPresence, TrustStep, TrustStore } from './types.js';

const CERTUTIL_HINT = 'it is part of Windows (System32\\certutil.exe); check PATH';
const STORE = 'Windows user Trusted Root store';

function certutil(args: string[]) {
  return runTool('certutil', args, CERTUTIL_HINT);
}

/** `-verifystore` exits 0 when the thumbprint is in the store. */
async function present(thumbprint: string): Promise<boolean> {
  return (await certutil(['-user', '-verifystore', 'Root', thumbprint])).code === 0;
}

async function guarded(work: () => Promise<TrustStep>): Promise<TrustStep> {
  try {
    return await work();
  } catch (err) {
    return { store: STORE, status: 'failed', message: describeError(err) };
  }
}

export const windowsTrustStore: TrustStore = {
  platform: 'win32',

  install: async (ca: LocalCa, _options: TrustOptions) => [
    await guarded(async () => {
      if (await present(ca.sha1Hex)) {
        return { store: STORE, status: 'unchanged', message: `${ca.nickname} is already there` };
      }
      const result = await certutil(['-user', '-addstore', 'Root', ca.file]);
      if (result.code !== 0) {
        return {
          store: STORE,
          status: 'failed',
          message: `certutil -addstore failed (declined the dialog?): ${lastLine(result)}`,
        };
      }
      return { store: STORE, status: 'done', message: `added ${ca.nickname}` };
    }),
  ],

  uninstall: async (ca: LocalCa | null, _options: TrustOptions) => [
    await guarded(async () => {
      if (!ca) {
        return {
          store: STORE,
          status: 'skipped',
          message:
            'the CA file is gone, so its thumbprint is unknown; remove "StoreSync local CA" in certmgr.msc',
        };
      }
      if (!(await present(ca.sha1Hex))) {
        return { store: STORE, status: 'unchanged', message: `${ca.nickname} was not there` };
      }
      const result = await certutil(['-user', '-delstore', 'Root', ca.sha1Hex]);
      if (result.code !== 0) {
        return {
          store: STORE,
          status: 'failed',
          message: `certutil -delstore failed: ${lastLine(result)}`,
        };
      }
      return { store: STORE, status: 'done', message: `removed ${ca.nickname}` };
    }),
  ],

  async check(ca: LocalCa): Promise<TrustPresence[]> {
    try {
      const trusted = await present(ca.sha1Hex);
      return [{ store: STORE, trusted, required: true, message: trusted ? 'trusted' : 'absent' }];
    } catch (err) {
      return [{ store: STORE, trusted: null, required: true, message: describeError(err) }];
    }
  },
};
