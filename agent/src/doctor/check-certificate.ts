/**
 * The agent's HTTPS certificate: present, signed by our CA, valid for what Outlook opens
 * (localhost, 127.0.0.1, ::1), and not about to expire.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorText, fail, ok, type DoctorCheck } from './types.js';

const MIN_DAYS_LEFT = 30;
const REQUIRED_SANS = ['DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1'];
const CREATE_HINT =
  'It is created at the first start: run `storesync start` once (or `storesync cert install`).';

export async function checkCertificate(dataDir: string, now = new Date()): Promise<DoctorCheck> {
  const dir = path.join(dataDir, 'tls');
  let leaf: X509Certificate;
  let ca: X509Certificate;
  try {
    leaf = new X509Certificate(await readFile(path.join(dir, 'localhost.pem')));
    ca = new X509Certificate(await readFile(path.join(dir, 'ca.pem')));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return fail(
      'certificate',
      missing
        ? `No HTTPS certificate yet in ${dir}`
        : `Unreadable HTTPS certificate in ${dir}: ${errorText(err)}`,
      CREATE_HINT,
    );
  }
  const problems: string[] = [];
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey))
    problems.push('not signed by the local CA');
  const sans = (leaf.subjectAltName ?? '').split(/,\s*/);
  const missing = REQUIRED_SANS.filter((san) => !sans.includes(san));
  if (missing.length) problems.push(`missing names ${missing.join(', ')}`);
  const validTo = new Date(leaf.validTo);
  const daysLeft = Math.floor((validTo.getTime() - now.getTime()) / 86400_000);
  if (daysLeft < MIN_DAYS_LEFT) {
    problems.push(daysLeft < 0 ? 'expired' : `expires in ${daysLeft} days`);
  }
  const until = validTo.toISOString().slice(0, 10);
  if (problems.length === 0) {
    return ok('certificate', `HTTPS certificate valid until ${until} (localhost, 127.0.0.1, ::1)`);
  }
  return fail(
    'certificate',
    `HTTPS certificate in ${dir}: ${problems.join('; ')}`,
    // The agent replaces a leaf this close to expiry, and a wrong one, at its next start.
    'Restart the agent: it renews the certificate within 30 days of expiry. If that does not help, delete the tls directory and start again (then `storesync cert install`).',
  );
}
