/**
 * One interface for every platform's trust store. Each step reports what it did or why it did
 * nothing, so `storesync cert install` can say exactly what changed on the machine.
 */
import type { LocalCa } from './local-ca.js';

export type StepStatus = 'done' | 'unchanged' | 'skipped' | 'failed';

export interface TrustStep {
  /** Which store: "NSS user database (~/.pki/nssdb)", "macOS login keychain", … */
  store: string;
  status: StepStatus;
  message: string;
}

export interface TrustPresence {
  store: string;
  /** null: could not be told (a tool missing, the store unreadable). */
  trusted: boolean | null;
  /** Browsers (and so Outlook's web views) read this store: without it the pane is untrusted. */
  required: boolean;
  message: string;
}

export interface TrustOptions {
  /** Also the machine-wide store (Linux: /usr/local/share/ca-certificates), when writable. */
  system: boolean;
  /** Uninstall only: every StoreSync CA, not just this one (old CAs after a renewal). */
  all?: boolean;
}

export interface TrustStore {
  readonly platform: string;
  install(ca: LocalCa, options: TrustOptions): Promise<TrustStep[]>;
  /** Idempotent: a store without our CA is reported "unchanged", never an error. */
  uninstall(ca: LocalCa | null, options: TrustOptions): Promise<TrustStep[]>;
  check(ca: LocalCa): Promise<TrustPresence[]>;
}
