/**
 * The agent's local CA as the trust stores see it: its file, fingerprints and the nickname we
 * give it. The short fingerprint is in the nickname so two StoreSync CAs (say the demo's and
 * the real agent's) never overwrite each other, and uninstall finds exactly ours.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export const CA_NICKNAME_PREFIX = 'StoreSync Local CA';

export interface LocalCa {
  file: string;
  pem: string;
  /** "AB:CD:…" as Node prints it. */
  sha256: string;
  /** 40 hex digits, upper case: what Windows and macOS call the thumbprint / SHA-1 hash. */
  sha1Hex: string;
  /** First 8 hex digits of the SHA-256 fingerprint. */
  shortFingerprint: string;
  /** "StoreSync Local CA (AB12CD34)". */
  nickname: string;
  subject: string;
  validTo: Date;
}

export async function readLocalCa(file: string): Promise<LocalCa> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the local CA ${file} (${(err as NodeJS.ErrnoException).code ?? err}); ` +
        'it is created at the first `storesync start`',
      { cause: err },
    );
  }
  return localCaOf(file, pem);
}

export function localCaOf(file: string, pem: string): LocalCa {
  const cert = new X509Certificate(pem);
  const shortFingerprint = cert.fingerprint256.replace(/:/g, '').slice(0, 8);
  return {
    file,
    pem,
    sha256: cert.fingerprint256,
    sha1Hex: cert.fingerprint.replace(/:/g, '').toUpperCase(),
    shortFingerprint,
    nickname: `${CA_NICKNAME_PREFIX} (${shortFingerprint})`,
    subject: cert.subject,
    validTo: new Date(cert.validTo),
  };
}
