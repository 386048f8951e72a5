/**
 * StoreSync's figures inside the running agent (`storesync start`, the built CLI): a no-change
 * pass as the agent runs it, IDLE push (APPEND on the server → file in the Maildir → `done`
 * event at a pane), and agent → pane event latency with many panes attached. Panes are
 * WebSocket clients speaking the pane protocol (`auth` with the CLI token of
 * <dataDir>/agent.token), so the figures include TLS, framing and the hub's fan-out. One more
 * pane is the real task pane in headless Chromium, paired through `storesync open --print`:
 * for it the IDLE push ends when the finished sync appears in the pane's history (the DOM).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { launchChromium, type TestBrowser } from '../test/support/chromium.js';
import { FULL_SYNC, type ServerMessage } from '../agent/src/protocol/index.js';
import { connect, type ImapLogin } from './corpus.js';
import { toolEnvironment } from './measure.js';
import { STORESYNC_BIN, startStoresyncAgent } from './tools.js';

export interface AgentFigures {
  /** Wall time of each no-change pass as the agent reports it (done.finishedAt − startedAt). */
  noChangePassMs: number[];
  /** APPEND accepted → message file in the INBOX Maildir. */
  idleToFileMs: number[];
  /** APPEND accepted → `done` event (downloaded ≥ 1) at the slowest of the panes. */
  idleToPaneMs: number[];
  /** APPEND accepted → the finished sync shown in the history of the task pane in Chromium. */
  idleToChromiumMs: number[];
  /** Per event and pane: receive time − the event's own timestamp (non-progress events). */
  eventLatencyMs: number[];
  /** The same for progress events (coalesced on purpose to ≤ 10 per second). */
  progressLatencyMs: number[];
  panes: number;
  agentMaxRssKb: number;
}

interface Pane {
  ws: WebSocket;
  received: Array<{ at: number; message: ServerMessage }>;
}

export async function measureAgent(options: {
  config: string;
  dataDir: string;
  inbox: string;
  server: ImapLogin;
  env: NodeJS.ProcessEnv;
  panes: number;
  passes: number;
  pushes: number;
  /** Also open the task pane in Chromium (Debian's, through playwright-core). */
  chromium: boolean;
}): Promise<AgentFigures> {
  const agent = await startStoresyncAgent(options.config, options.env);
  const port = Number(new URL(agent.url).port);
  const panes: Pane[] = [];
  let browser: TestBrowser | null = null;
  try {
    const token = readFileSync(path.join(options.dataDir, 'agent.token'), 'utf8').trim();
    const ca = readFileSync(path.join(options.dataDir, 'tls', 'ca.pem'), 'utf8');
    for (let i = 0; i < options.panes; i++) panes.push(await openPane(port, ca, token));
    const figures: AgentFigures = {
      noChangePassMs: [],
      idleToFileMs: [],
      idleToPaneMs: [],
      idleToChromiumMs: [],
      eventLatencyMs: [],
      progressLatencyMs: [],
      panes: options.panes,
      agentMaxRssKb: 0,
    };
    const first = panes[0]!;

    for (let i = 0; i < options.passes; i++) {
      const requestId = `bench-${i}`;
      const mark = first.received.length;
      first.ws.send(
        JSON.stringify({
          type: 'sync',
          requestId,
          flags: FULL_SYNC,
        }),
      );
      const { message: done } = await waitFor(first, mark, (m) => m.type === 'done', 600_000);
      if (done.type !== 'done' || done.result !== 'ok' || done.stats.downloaded !== 0) {
        throw new Error(`agent no-change pass: ${JSON.stringify(done)}`);
      }
      figures.noChangePassMs.push(done.finishedAt - done.startedAt);
    }

    let page: Page | null = null;
    if (options.chromium) {
      browser = await launchChromium({ ignoreHTTPSErrors: true });
      page = await browser.context.newPage();
      await page.goto(pairingLink(options.config, options.env));
      await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor();
    }

    const imap = await connect(options.server);
    try {
      for (let i = 0; i < options.pushes; i++) {
        if (page) await watchHistory(page);
        const fileSeen = waitForNewFile(options.inbox);
        const marks = panes.map((p) => p.received.length);
        const raw = Buffer.from(
          `From: push@example.org\r\nTo: bench@example.org\r\nSubject: push ${i}\r\n` +
            `Message-ID: <push-${Date.now()}-${i}@bench.invalid>\r\nX-Bench: new-mail\r\n\r\nHello.\r\n`,
        );
        await imap.append('INBOX', raw, []);
        const appended = Date.now();
        const fileAt = await fileSeen;
        const paneAt = await Promise.all(
          panes.map((p, k) =>
            waitFor(p, marks[k]!, (m) => m.type === 'done' && m.stats.downloaded >= 1, 30_000).then(
              (hit) => hit.at,
            ),
          ),
        );
        // From the moment the server accepted the APPEND (its tagged OK reached us).
        figures.idleToFileMs.push(fileAt - appended);
        figures.idleToPaneMs.push(Math.max(...paneAt) - appended);
        if (page) figures.idleToChromiumMs.push((await historyShown(page)) - appended);
        await new Promise((r) => setTimeout(r, 300)); // let the IDLE watch settle again
      }
    } finally {
      await imap.logout();
    }

    for (const pane of panes) {
      for (const { at, message } of pane.received) {
        const sentAt =
          message.type === 'done'
            ? message.finishedAt
            : 'at' in message && typeof message.at === 'number'
              ? message.at
              : null;
        if (sentAt === null) continue;
        (message.type === 'progress' ? figures.progressLatencyMs : figures.eventLatencyMs).push(
          at - sentAt,
        );
      }
    }
    figures.agentMaxRssKb = peakRssKb(agent.child.pid!);
    return figures;
  } finally {
    await browser?.close();
    for (const pane of panes) pane.ws.terminate();
    await agent.stop();
  }
}

/** The one-time link that opens the pane already paired. */
function pairingLink(config: string, env: NodeJS.ProcessEnv): string {
  const out = execFileSync(
    process.execPath,
    [STORESYNC_BIN, 'open', '--print', '--config', config],
    {
      env: toolEnvironment(env),
      encoding: 'utf8',
    },
  );
  const link = /https:\/\/\S+#pair=\S+/.exec(out)?.[0];
  if (!link) throw new Error(`storesync open --print gave no link:\n${out}`);
  return link;
}

/**
 * Starts watching the pane's history for a sync that is not there yet, finished ok with at
 * least one message moved; the time it appears (the page's clock, which is this machine's)
 * is kept for historyShown().
 */
async function watchHistory(page: Page): Promise<void> {
  // A string, not a function: the TypeScript loader would wrap named functions in a helper
  // that does not exist inside the page.
  await page.evaluate(`(() => {
    const rows = () =>
      [...document.querySelectorAll('[data-testid="history-entry"]')].map((row) => ({
        id: row.dataset.syncId ?? '',
        result: row.dataset.result ?? '',
        moved: Number(/: (\\d+) messages moved/.exec(row.title)?.[1] ?? 0),
      }));
    const known = new Set(rows().map((r) => r.id));
    window.benchShown = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        const hit = rows().find((r) => !known.has(r.id) && r.result === 'ok' && r.moved > 0);
        if (!hit) return;
        observer.disconnect();
        resolve(Date.now());
      });
      observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    });
  })()`);
}

async function historyShown(page: Page): Promise<number> {
  return (await page.evaluate('window.benchShown')) as number;
}

function openPane(port: number, ca: string, token: string): Promise<Pane> {
  const origin = `https://localhost:${port}`;
  const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca, origin });
  const pane: Pane = { ws, received: [] };
  ws.on('message', (data) => {
    pane.received.push({ at: Date.now(), message: JSON.parse(String(data)) as ServerMessage });
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'auth', requestId: 'auth', token }));
      waitFor(pane, 0, (m) => m.type === 'snapshot', 10_000).then(() => resolve(pane), reject);
    });
  });
}

/** The first message after index `from` that matches; polls (the panes' handlers only append). */
async function waitFor(
  pane: Pane,
  from: number,
  match: (m: ServerMessage) => boolean,
  timeoutMs: number,
): Promise<{ at: number; message: ServerMessage }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let i = from; i < pane.received.length; i++) {
      const hit = pane.received[i]!;
      const m = hit.message;
      if (m.type === 'reply' && !m.ok) throw new Error(`agent refused: ${JSON.stringify(m)}`);
      if (match(m)) return hit;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for an agent event');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Resolves with the time a new file appears in the folder's cur/ or new/. */
function waitForNewFile(folder: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const watchers = ['cur', 'new'].map((sub) =>
      watch(path.join(folder, sub), (event) => {
        if (event !== 'rename') return;
        watchers.forEach((w) => w.close());
        clearTimeout(timer);
        resolve(Date.now());
      }),
    );
    const timer = setTimeout(() => {
      watchers.forEach((w) => w.close());
      reject(new Error(`no new file in ${folder} within 30 s of the APPEND`));
    }, 30_000);
  });
}

function peakRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}
