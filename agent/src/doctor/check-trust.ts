/** Is our CA in the trust store the browsers (and Outlook's web views) read? */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readLocalCa, trustStoreFor } from '../server/trust-store/index.js';
import { errorText, fail, ok, type DoctorCheck } from './types.js';

export async function checkTrust(dataDir: string): Promise<DoctorCheck> {
  const file = path.join(dataDir, 'tls', 'ca.pem');
  if (!existsSync(file)) {
    return fail(
      'trust',
      'Local CA not created yet',
      'Run `storesync cert install`: it creates and trusts it.',
    );
  }
  try {
    const ca = await readLocalCa(file);
    const presence = await trustStoreFor().check(ca);
    const details = presence.map((p) => `${p.store}: ${p.message}`);
    const required = presence.filter((p) => p.required);
    if (required.every((p) => p.trusted === true)) {
      return ok('trust', `${ca.nickname} trusted`, details);
    }
    const unknown = required.find((p) => p.trusted === null);
    return fail(
      'trust',
      unknown ? `Cannot tell whether ${ca.nickname} is trusted` : `${ca.nickname} not trusted`,
      unknown
        ? `${unknown.message}; then run \`storesync cert install\``
        : 'Run `storesync cert install`, then restart the browser or Outlook; until then the pane shows a certificate warning or stays blank.',
      details,
    );
  } catch (err) {
    return fail(
      'trust',
      `Cannot read the local CA: ${errorText(err)}`,
      'Run `storesync cert install`.',
    );
  }
}
