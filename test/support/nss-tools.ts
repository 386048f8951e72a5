/**
 * NSS's certutil (Debian package libnss3-tools), which `storesync cert` drives on Linux and the
 * tests use to look into a trust store. Installed when missing, the way the Dovecot harness
 * installs Dovecot: as root with apt-get, otherwise the error says what to run.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const INSTALL_COMMAND = 'apt-get install -y libnss3-tools';

function certutilInstalled(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v certutil'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let installing: Promise<void> | null = null;

export async function ensureNssToolsInstalled(): Promise<void> {
  if (certutilInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`certutil is missing: run "sudo apt-get update && sudo ${INSTALL_COMMAND}"`);
  }
  installing ??= (async () => {
    const run = promisify(execFile);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-q'], { env, maxBuffer: 64 << 20 });
    await run('apt-get', ['install', '-y', '-q', 'libnss3-tools'], { env, maxBuffer: 64 << 20 });
    if (!certutilInstalled()) throw new Error(`"${INSTALL_COMMAND}" did not install certutil`);
  })().finally(() => {
    installing = null;
  });
  return installing;
}

/** `certutil -L` of the NSS database under `home` (what Chromium reads), or '' if none. */
export async function listUserNssDb(home: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('certutil', [
      '-L',
      '-d',
      `sql:${home}/.pki/nssdb`,
    ]);
    return stdout;
  } catch {
    return '';
  }
}
