/** The trust store of the platform we run on. */
import { linuxTrustStore } from './linux.js';
import { macosTrustStore } from './macos.js';
import type { TrustStore } from './types.js';
import { windowsTrustStore } from './windows.js';

export type { TrustOptions, TrustPresence, TrustStep, TrustStore, StepStatus } from './types.js';
export { readLocalCa, type LocalCa } from './local-ca.js';

export function trustStoreFor(platform: NodeJS.Platform = process.platform): TrustStore {
  switch (platform) {
    case 'darwin':
      return macosTrustStore;
    case 'win32':
      return windowsTrustStore;
    default:
      // Linux and the BSDs: browsers there read NSS databases.
      return linuxTrustStore;
  }
}
