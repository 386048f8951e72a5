/**
 * Launches Debian's Chromium headless through playwright-core (never a downloaded browser),
 * with a throw-away profile, installing the package first if the machine lacks it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

// playwright adds --headless itself (headless: true).
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function ensureChromiumInstalled(): void {
  if (existsSync(CHROMIUM_PATH)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`Chromium is missing: run "sudo apt-get install -y chromium"`);
  }
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-q', 'chromium'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Accept any certificate (playwright's bypass). Off: Chromium verifies as a user's would. */
  ignoreHTTPSErrors?: boolean;
  /**
   * Chromium's environment, over ours. On Linux it reads trusted CAs from $HOME/.pki/nssdb, so
   * a temp HOME gives it a trust store of the test's own.
   */
  env?: NodeJS.ProcessEnv;
}

export async function launchChromium(options: LaunchOptions = {}): Promise<TestBrowser> {
  ensureChromiumInstalled();
  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    viewport: { width: 360, height: 720 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await fs.rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Where tests leave screenshots for people to look at. */
export async function artifactPath(name: string): Promise<string> {
  const dir = path.resolve('test-artifacts');
  await fs.mkdir(dir, { recursive: true });
  return path.join(dir, name);
}
