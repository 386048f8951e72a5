/**
 * The whole path: Dovecot → agent → WebSocket → task pane in real Chromium. The user opens
 * the pane, clicks "Sync now" and watches progress reach done.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { artifactPath, launchChromium, type TestBrowser } from '../support/chromium.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import {
  runCli,
  startAgentProcess,
  writeTestConfig,
  type AgentProcess,
} from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_E2E_PASSWORD';

describe('task pane in Chromium', function () {
  let dovecot: TestDovecot;
  let agent: AgentProcess;
  let browser: TestBrowser;
  let dir: string;
  let page: Page;
  let config: string;

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(
      generateMailbox({ count: 200, folders: ['INBOX', 'Archive', 'Archive/2024'], seed: 11 }),
    );
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-e2e-'));
    config = await writeTestConfig(dir, dovecot, {
      passwordEnv: PASSWORD_ENV,
      accountId: 'work',
    });
    agent = await startAgentProcess(['--config', config], { [PASSWORD_ENV]: dovecot.password });
    // The agent's own CA is not in this fresh profile's trust store.
    browser = await launchChromium({ ignoreHTTPSErrors: true });
    page = await browser.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await agent?.stop();
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('asks to be paired, and pairs with the code `storesync pair` shows', async () => {
    await page.goto(agent.url);
    await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor();
    const codeInput = page.locator('[data-testid="pairing-code"]');
    await codeInput.waitFor();
    assert.equal(
      await page.locator('[data-testid="account-card"]').count(),
      0,
      'nothing is shown before pairing',
    );
    assert.equal(await page.locator('[data-testid="sync-now"]').isDisabled(), true);

    await codeInput.fill('WRONG-CODE');
    await page.locator('[data-testid="pair"]').click();
    await page.locator('[data-testid="pairing-error"]', { hasText: /wrong|expired/ }).waitFor();

    const pair = await runCli(['pair', '--config', config]);
    assert.equal(pair.code, 0, pair.stderr);
    const code = /Pairing code: (\S+)/.exec(pair.stdout)?.[1];
    assert.ok(code, pair.stdout);
    await codeInput.fill(code);
    await page.locator('[data-testid="pair"]').click();
    const card = page.locator('[data-testid="account-card"][data-account-id="work"]');
    await card.waitFor();
    assert.equal(await card.getAttribute('data-state'), 'idle');

    // The pane keeps its token: a reload needs no new code.
    await page.reload();
    await card.waitFor();
    assert.equal(await codeInput.count(), 0);
  });

  it('opens already paired from the link `storesync open --print` gives', async () => {
    const open = await runCli(['open', '--print', '--config', config]);
    assert.equal(open.code, 0, open.stderr);
    const link = open.stdout.trim();
    assert.match(link, /^https:\/\/localhost:\d+\/taskpane\.html#pair=[\w-]{20,}$/);
    // Forget the token the test before left, as a new browser profile would not have it.
    await page.evaluate(() => localStorage.clear());
    await page.goto('about:blank');
    await page.goto(link);
    await page.locator('[data-testid="account-card"][data-account-id="work"]').waitFor();
    // The one-time secret does not linger in the address bar or history.
    assert.doesNotMatch(page.url(), /pair=/);
    assert.ok(await page.evaluate(() => localStorage.getItem('storesync.token')));
  });

  it('runs a sync from "Sync now" and shows its progress until done', async () => {
    // Record every value the progress bar takes, as a person watching it would see them.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        const bar = document.querySelector('[data-testid="account-card"] [data-testid="progress"]');
        const step = document.querySelector(
          '[data-testid="account-card"] [data-testid="step-text"]',
        );
        if (bar)
          seen.push(
            `${bar.getAttribute('aria-valuenow')}/${bar.getAttribute('aria-valuemax')} ${step?.textContent ?? ''}`,
          );
      }).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        characterData: true,
      });
    });
    await page.locator('[data-testid="sync-now"]').click();
    const card = page.locator('[data-testid="account-card"][data-account-id="work"]');
    await page
      .locator('[data-testid="account-card"][data-account-id="work"][data-state="done"]')
      .waitFor({ timeout: 60_000 });
    const result = await card.locator('[data-testid="last-result"]').textContent();
    assert.match(result ?? '', /200 downloaded/);
    // The card's counts come from the agent's state after the run, not from the run's events.
    await card.locator('.meta', { hasText: /200 messages\W+3 folders/ }).waitFor();

    const seen = await page.evaluate(
      () => (window as unknown as { progressSeen: string[] }).progressSeen,
    );
    assert.ok(
      seen.some((s) => /Downloading messages/.test(s)),
      `progress steps seen: ${seen.slice(0, 5).join(' | ')}`,
    );
    const bar = card.locator('[data-testid="progress"]');
    assert.equal(await bar.getAttribute('role'), 'progressbar');
    assert.equal(await bar.getAttribute('aria-valuenow'), await bar.getAttribute('aria-valuemax'));
    await page.screenshot({ path: await artifactPath('pane-after-sync.png'), fullPage: true });

    const files = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    const server = await dovecot.listMessages('INBOX');
    assert.equal(files.length, server.length);
  });

  it('refuses a WebSocket from another origin before the upgrade', async () => {
    const status = await page.evaluate(async (url) => {
      const res = await fetch(url.replace(/\/$/, '') + '/healthz');
      return res.status;
    }, agent.url);
    assert.equal(status, 200);
    // From Node: a handshake with a foreign Origin gets 403.
    const { default: WebSocket } = await import('ws');
    const wsUrl = agent.url.replace('https://', 'wss://') + 'ws';
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, {
        origin: 'https://evil.example',
        rejectUnauthorized: false,
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    assert.equal(code, 403);
  });
});
