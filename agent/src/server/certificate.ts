/**
 * The HTTPS identity of the agent. At first start we create a local certificate authority and
 * a leaf certificate for localhost (SANs localhost, 127.0.0.1, ::1) signed by it, in
 * <dataDir>/tls with private keys readable by the user only. Trusting the CA once (the OS or
 * browser trust store) makes every later leaf trusted, which is what Outlook's web views need.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface TlsIdentity {
  key: string;
  cert: string;
  caCert: string;
  caFile: string;
}

/** A leaf is renewed this long before it expires (browsers cap leaf lifetimes anyway). */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
const LEAF_DAYS = 397;
const CA_DAYS = 3650;

/**
 * selfsigned (node-forge: ~1.5 MB of JavaScript) is loaded only to make a certificate, once a
 * year or so: an agent that starts with its certificates on disk never holds its code.
 */
const generate: (typeof import('selfsigned'))['generate'] = async (...args) => {
  type Module = typeof import('selfsigned');
  const loaded = (await import('selfsigned')) as Partial<Module> & { default?: Module };
  // A CommonJS package: its exports are the namespace's own, or its default's (bundled).
  const make = loaded.generate ?? loaded.default!.generate;
  return make(...args);
};

export async function ensureTlsIdentity(dataDir: string): Promise<TlsIdentity> {
  const dir = path.join(dataDir, 'tls');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const files = {
    caKey: path.join(dir, 'ca-key.pem'),
    caCert: path.join(dir, 'ca.pem'),
    key: path.join(dir, 'localhost-key.pem'),
    cert: path.join(dir, 'localhost.pem'),
  };
  let ca = await readPair(files.caKey, files.caCert);
  if (!ca || expiresSoon(ca.cert)) {
    const now = new Date();
    const pems = await generate([{ name: 'commonName', value: 'StoreSync local CA' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: now,
      notAfterDate: new Date(now.getTime() + CA_DAYS * 86400_000),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    });
    ca = { key: pems.private, cert: pems.cert };
    await writeSecret(files.caKey, ca.key);
    await fs.writeFile(files.caCert, ca.cert, { mode: 0o644 });
    await fs.rm(files.cert, { force: true }); // a new CA needs a new leaf
  }
  let leaf = await readPair(files.key, files.cert);
  if (!leaf || expiresSoon(leaf.cert)) {
    const now = new Date();
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: now,
      notAfterDate: new Date(now.getTime() + LEAF_DAYS * 86400_000),
      ca: { key: ca.key, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    leaf = { key: pems.private, cert: pems.cert };
    await writeSecret(files.key, leaf.key);
    await fs.writeFile(files.cert, leaf.cert, { mode: 0o644 });
  }
  return { key: leaf.key, cert: leaf.cert, caCert: ca.cert, caFile: files.caCert };
}

async function readPair(
  keyFile: string,
  certFile: string,
): Promise<{ key: string; cert: string } | null> {
  try {
    return { key: await fs.readFile(keyFile, 'utf8'), cert: await fs.readFile(certFile, 'utf8') };
  } catch {
    return null;
  }
}

function expiresSoon(pem: string): boolean {
  try {
    return new Date(new X509Certificate(pem).validTo).getTime() - Date.now() < RENEW_BEFORE_MS;
  } catch {
    return true; // unreadable: make a new one
  }
}

async function writeSecret(file: string, text: string): Promise<void> {
  await fs.writeFile(file, text, { mode: 0o600 });
  await fs.chmod(file, 0o600); // an existing file keeps its old mode on writeFile
}
