/**
 * The whole path: Dovecot → agent → WebSocket → task pane in real Chromium. The user pairs
 * the pane, clicks "Sync now" and watches progress reach done; cancels a sync; sees an error
 * with its hint when the server goes away mid-sync and retries it; and the pane finds the
 * agent again after a restart. The agent reaches Dovecot through a relay that passes the
 * server's bytes on at a fixed rate, so that a sync lasts long enough to be watched.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { freePort } from '../../agent/src/demo/private-dovecot.js';
import { generateMailbox } from '../../agent/src/demo/sample-mail.js';
import { messageIdOf } from '../../agent/src/sync/message-id.js';
import { artifactPath, launchChromium, type TestBrowser } from '../support/chromium.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import {
  runCli,
  startAgentProcess,
  writeTestConfig,
  type AgentProcess,
} from '../support/storesync-process.js';
import { startThrottledProxy, type ThrottledProxy } from '../support/throttled-proxy.js';

const PASSWORD_ENV = 'STORESYNC_E2E_PASSWORD';
/** About 3 s for the first 200 messages (7 MB), 1 s for each batch of 60 added later. */
const LINK_BYTES_PER_SECOND = 2.5 * 1024 * 1024;

const CARD = '[data-testid="account-card"][data-account-id="work"]';

interface RecordedNotification {
  itemId: string | null;
  key: string;
  type: string;
  message: string;
  icon?: string;
}
type OutlookWindow = Window & {
  notifications: RecordedNotification[];
  selectItem(internetMessageId: string | null, subject: string): void;
};

/**
 * Outlook's side of Office.js, as the pane sees it: a mailbox whose selected item records every
 * notificationMessages call, and `selectItem` to change the selection, which fires
 * ItemChanged. It runs before any script of the page (the real office.js is kept out: outside
 * Outlook it would replace this object with one that has no mailbox). Plain JavaScript in a
 * string, so that nothing of the test's own compilation leaks into the page.
 */
function outlookDouble(first: { id: string; subject: string }): string {
  return `(() => {
    const first = ${JSON.stringify(first)};
    window.notifications = [];
    const item = (internetMessageId, subject) => ({
      itemType: 'message',
      internetMessageId,
      subject,
      notificationMessages: {
        replaceAsync(key, details, callback) {
          window.notifications.push({ itemId: internetMessageId, key, ...details });
          if (callback) callback({ status: 'succeeded' });
        },
      },
    });
    const handlers = [];
    const mailbox = {
      item: item(first.id, first.subject),
      addHandlerAsync(type, handler, callback) {
        if (type === 'olkItemSelectedChanged') handlers.push(handler);
        if (callback) callback({ status: 'succeeded' });
      },
    };
    window.selectItem = (internetMessageId, subject) => {
      mailbox.item = item(internetMessageId, subject);
      for (const handler of handlers) handler({ type: 'olkItemSelectedChanged' });
    };
    const info = { host: 'Outlook', platform: 'OfficeOnline' };
    window.Office = {
      HostType: { Outlook: 'Outlook' },
      PlatformType: { OfficeOnline: 'OfficeOnline', PC: 'PC', Mac: 'Mac' },
      EventType: { ItemChanged: 'olkItemSelectedChanged' },
      AsyncResultStatus: { Succeeded: 'succeeded', Failed: 'failed' },
      MailboxEnums: {
        ItemNotificationMessageType: {
          ProgressIndicator: 'progressIndicator',
          InformationalMessage: 'informationalMessage',
          ErrorMessage: 'errorMessage',
        },
      },
      context: { mailbox },
      onReady(callback) {
        if (callback) setTimeout(() => callback(info), 0);
        return Promise.resolve(info);
      },
    };
  })();`;
}

describe('task pane in Chromium', function () {
  let dovecot: TestDovecot;
  let agent: AgentProcess;
  let browser: TestBrowser;
  let dir: string;
  let page: Page;
  let config: string;
  let link: ThrottledProxy;
  let seed = 100;

  /** More mail on the server, so that the next sync has something to download for a while. */
  const addMail = (count: number) =>
    dovecot.appendMessages(generateMailbox({ count, folders: ['INBOX'], seed: seed++ }));

  const startAgent = () =>
    startAgentProcess(['--config', config], { [PASSWORD_ENV]: dovecot.password });

  before(async () => {
    dovecot = await startTestDovecot();
    await dovecot.appendMessages(
      generateMailbox({ count: 200, folders: ['INBOX', 'Archive', 'Archive/2024'], seed: 11 }),
    );
    link = await startThrottledProxy(dovecot, LINK_BYTES_PER_SECOND);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-e2e-'));
    config = await writeTestConfig(
      dir,
      { host: link.host, port: link.port, user: dovecot.user },
      {
        passwordEnv: PASSWORD_ENV,
        accountId: 'work',
        // A fixed port, so that the pane finds the agent again after a restart.
        serverPort: await freePort(),
      },
    );
    agent = await startAgent();
    // The agent's own CA is not in this fresh profile's trust store.
    browser = await launchChromium({ ignoreHTTPSErrors: true });
    page = await browser.context.newPage();
  });

  after(async () => {
    await browser?.close();
    await agent?.stop();
    await link?.close();
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
    assert.equal(
      await page.locator('text=No accounts are configured').count(),
      0,
      'nor is it said that there are no accounts',
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

  it('prints the link when no browser could be opened, and says so when one was', async () => {
    // The desktop's opener as a machine without a browser has it (xdg-open exits 3), and as
    // one with a browser (exits 0).
    const bin = path.join(dir, 'opener');
    await fs.mkdir(bin, { recursive: true });
    const opener = path.join(bin, 'xdg-open');
    const withOpener = async (exitCode: number) => {
      await fs.writeFile(opener, `#!/bin/sh\nexit ${exitCode}\n`, { mode: 0o755 });
      return runCli(['open', '--config', config], {
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      });
    };
    const none = await withOpener(3);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /Could not start a browser; open this URL/);
    assert.match(none.stdout, /^https:\/\/localhost:\d+\/taskpane\.html#pair=[\w-]{20,}$/m);
    const some = await withOpener(0);
    assert.match(some.stdout, /^Opened the StoreSync pane in your browser\.$/m);
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
        const detail = document.querySelector(
          '[data-testid="account-card"] [data-testid="progress-detail"]',
        );
        if (bar)
          seen.push(
            `${bar.getAttribute('aria-valuenow')}/${bar.getAttribute('aria-valuemax')} ${step?.textContent ?? ''} | ${detail?.textContent ?? ''}`,
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
    // A smoothed rate shows while bytes come in, and the time left once there is a trend.
    assert.ok(
      seen.some((s) => /\| .*\d+(\.\d)? [KM]B\/s/.test(s)),
      `rate never shown: ${seen
        .filter((s) => s.includes('|'))
        .slice(-3)
        .join(' / ')}`,
    );
    const bar = card.locator('[data-testid="progress"]');
    assert.equal(await bar.getAttribute('role'), 'progressbar');
    assert.equal(await bar.getAttribute('aria-valuenow'), await bar.getAttribute('aria-valuemax'));

    // The run is in the history, with its chart; the folder list opens on demand.
    const history = page.locator('[data-testid="history"]');
    await history.locator('[data-testid="history-entry"][data-result="ok"]').first().waitFor();
    assert.equal(await history.locator('svg[role="img"] rect').count(), 1);
    const folders = card.locator('[data-testid="folders"]');
    assert.equal(await folders.locator('[data-testid="folder"]').first().isVisible(), false);
    await folders.locator('summary').click();
    const inbox = folders.locator('[data-testid="folder"][data-folder="INBOX"]');
    await inbox.waitFor();
    assert.equal(await folders.locator('[data-testid="folder"]').count(), 3);
    assert.match((await inbox.textContent()) ?? '', /\d+ messages.*just now/);

    await page.screenshot({ path: await artifactPath('pane-light.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: await artifactPath('pane-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 320, height: 720 });
    await page.screenshot({ path: await artifactPath('pane-320px.png'), fullPage: true });
    // Nothing sticks out sideways at 320 px.
    assert.equal(
      await page.evaluate(() => document.documentElement.scrollWidth),
      320,
      'the pane is wider than 320 px',
    );
    await page.setViewportSize({ width: 360, height: 720 });

    const files = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    const server = await dovecot.listMessages('INBOX');
    assert.equal(files.length, server.length);
  });

  it('cancels a sync started from the split button’s menu', async () => {
    await addMail(120);
    const card = page.locator(CARD);
    // The menu is reachable from the keyboard: ArrowDown opens it on its first choice.
    await page.locator('[data-testid="sync-menu"]').focus();
    await page.keyboard.press('ArrowDown');
    const menu = page.locator('[data-testid="sync-menu-list"]');
    await menu.waitFor();
    assert.equal(
      await page.locator('[data-testid="sync-menu"]').getAttribute('aria-expanded'),
      'true',
    );
    await page.keyboard.press('ArrowDown');
    assert.equal(
      await page.evaluate(() => (document.activeElement as HTMLElement).dataset.mode),
      'download',
    );
    await page.keyboard.press('Enter');
    await card.locator('[data-testid="step-text"]', { hasText: /Downloading/ }).waitFor();
    await page.screenshot({ path: await artifactPath('pane-syncing.png'), fullPage: true });
    await card.locator('[data-testid="cancel"]').click();
    await page.locator(`${CARD}[data-state="idle"]`).waitFor({ timeout: 30_000 });
    assert.match(
      (await card.locator('[data-testid="last-result"]').textContent()) ?? '',
      /Cancelled/,
    );
    const newest = page.locator('[data-testid="history-entry"]').first();
    await newest.locator('text=/Cancelled · Download only/').waitFor();
  });

  it('shows the error and its hint when the server goes away mid-sync, and Retry finishes', async () => {
    await addMail(150);
    const card = page.locator(CARD);
    await page.locator('[data-testid="sync-now"]').click();
    await card.locator('[data-testid="step-text"]', { hasText: /Downloading/ }).waitFor();
    // Dovecot shuts down; its clients lose their connections at once, not when it is gone.
    const stopped = dovecot.stop();
    link.cutConnections();
    await stopped;
    try {
      await page.locator(`${CARD}[data-state="error"]`).waitFor({ timeout: 60_000 });
      const error = card.locator('[data-testid="error"][data-severity="error"]').first();
      await error.waitFor();
      assert.ok(
        ((await error.locator('[data-testid="error-hint"]').textContent()) ?? '').length > 10,
      );
      const code = await error.getAttribute('data-code');
      assert.match(code ?? '', /^CONNECTION_(LOST|FAILED)$/);
      assert.match((await error.getAttribute('data-sync-id')) ?? '', /\w{6,}/);
      await page.screenshot({ path: await artifactPath('pane-error.png'), fullPage: true });
    } finally {
      await dovecot.restart();
    }
    await card.locator('[data-testid="retry-sync"]').first().click();
    await page.locator(`${CARD}[data-state="done"]`).waitFor({ timeout: 60_000 });
    assert.equal(await card.locator('[data-testid="error"]').count(), 0);
    const files = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    assert.equal(files.length, (await dovecot.listMessages('INBOX')).length);
  });

  it('finds the agent again after it restarts', async () => {
    await agent.stop();
    await page.locator('[data-testid="connection-state"]:not([data-state="connected"])').waitFor();
    agent = await startAgent();
    await page
      .locator('[data-testid="connection-state"][data-state="connected"]')
      .waitFor({ timeout: 30_000 });
    // Still paired (the agent keeps its paired panes), with the account back.
    await page.locator(CARD).waitFor();
    assert.equal(await page.locator('[data-testid="sync-now"]').isEnabled(), true);
  });

  it('shows a run `storesync sync --once` had the agent do, as one from the command line', async () => {
    await addMail(5);
    const result = await runCli(['sync', '--once', '--json', '--config', config], {
      [PASSWORD_ENV]: dovecot.password,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { downloaded: number }).downloaded, 5);
    const newest = page.locator('[data-testid="history-entry"]').first();
    await newest.locator('text=/Done · .* \\(command line\\)/').waitFor();
  });

  it('inside Outlook: notifies the selected item of the sync and says where it is stored', async () => {
    const stored = messageIdOf((await dovecot.listMessages('INBOX'))[0]!.raw);
    assert.ok(stored);
    await addMail(60);
    const outlook = await browser.context.newPage();
    try {
      await outlook.route('**/office/office.js', (route) =>
        route.fulfill({ contentType: 'text/javascript', body: '/* Outlook is the test double */' }),
      );
      await outlook.addInitScript({
        content: outlookDouble({ id: stored, subject: 'Quarterly numbers' }),
      });
      await outlook.goto(agent.url);

      const item = outlook.locator('[data-testid="item"]');
      await item.locator('[data-testid="item-status"][data-status="found"]').waitFor();
      assert.match(
        (await item.locator('[data-testid="item-location"]').first().textContent()) ?? '',
        /^work › INBOX · .* · synced (just now|\d+ min ago)$/,
      );
      assert.match(
        (await outlook.locator('[data-testid="connection-state"]').textContent()) ?? '',
        /Outlook on the web/,
      );

      await outlook.locator('[data-testid="sync-now"]').click();
      await outlook.locator(`${CARD}[data-state="done"]`).waitFor({ timeout: 60_000 });
      await outlook.waitForFunction(() =>
        (window as unknown as OutlookWindow).notifications.some(
          (n) => n.type === 'informationalMessage',
        ),
      );
      const calls = await outlook.evaluate(
        () => (window as unknown as OutlookWindow).notifications,
      );
      const types = calls.map((c) => c.type);
      const progressAt = types.indexOf('progressIndicator');
      assert.ok(progressAt >= 0, `no progress indicator: ${types.join(', ')}`);
      assert.ok(progressAt < types.indexOf('informationalMessage'), types.join(', '));
      assert.ok(!types.includes('errorMessage'), types.join(', '));
      for (const call of calls) {
        // One key, replaced each time; within Outlook's limits.
        assert.equal(call.key, 'storesync-status');
        assert.ok(call.message.length <= 150 && call.message.length > 0, call.message);
        assert.equal(call.itemId, stored);
      }
      assert.match(calls.at(-1)!.message, /^StoreSync: work up to date, 60 new messages/);
      assert.equal(calls.at(-1)!.icon, 'Icon16');

      // The pinned pane follows the selection: the next message is not stored anywhere yet.
      const elsewhere = '<not-synced-yet@storesync.invalid>';
      await outlook.evaluate(
        (id) => (window as unknown as OutlookWindow).selectItem(id, 'Not here'),
        elsewhere,
      );
      await item.locator('[data-testid="item-status"][data-status="not-found"]').waitFor();
      assert.match((await item.textContent()) ?? '', /Not here/);
      // …and carries the current state too, under the same key.
      await outlook.waitForFunction(
        (id) =>
          (window as unknown as OutlookWindow).notifications.some(
            (n) => n.itemId === id && n.type === 'informationalMessage',
          ),
        elsewhere,
      );
      await outlook.screenshot({ path: await artifactPath('pane-outlook.png'), fullPage: true });
    } finally {
      await outlook.close();
    }
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

  // Last: it leaves the agent refusing tokens for a minute.
  it('stays paired when someone else’s guessing makes the agent refuse tokens for a while', async function () {
    this.timeout(180_000);
    // Anyone on this machine can reach the port and send wrong tokens, from the right origin;
    // the agent closes a connection after 5 of them, so the guesser opens one after another.
    const { default: WebSocket } = await import('ws');
    const origin = agent.url.replace(/\/$/, '');
    const guess = async (round: number): Promise<string[]> => {
      const guesser = new WebSocket(origin.replace('https://', 'wss://') + '/ws', {
        origin,
        rejectUnauthorized: false,
      });
      const codes: string[] = [];
      guesser.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; error?: { code: string } };
        if (message.type === 'reply') codes.push(message.error?.code ?? 'OK');
      });
      await once(guesser, 'open');
      for (let i = 0; i < 5; i++)
        guesser.send(
          JSON.stringify({ type: 'auth', requestId: `g${round}-${i}`, token: 'f'.repeat(43) }),
        );
      await once(guesser, 'close');
      return codes;
    };
    let codes: string[] = [];
    for (let round = 0; round < 10 && !codes.includes('RATE_LIMITED'); round++)
      codes = await guess(round);
    assert.ok(codes.includes('RATE_LIMITED'), codes.join());

    const token = await page.evaluate(() => localStorage.getItem('storesync.token'));
    assert.ok(token);
    await page.reload();
    await page
      .locator('[data-testid="notice"]', {
        hasText: /did not let this pane in just now.*still paired/,
      })
      .waitFor();
    assert.equal(await page.locator('[data-testid="pairing-code"]').count(), 0, 'no pairing form');
    assert.equal(await page.evaluate(() => localStorage.getItem('storesync.token')), token);
    // Once the agent takes tokens again, the pane is in by itself.
    await page.locator(CARD).waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('[data-testid="notice"]').isHidden(), true);
  });
});
