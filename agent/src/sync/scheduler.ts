/**
 * The agent's background work: per account a periodic full sync, and an IDLE watch on the
 * folders the config names (INBOX by default) so that new mail is synced as soon as the
 * server announces it. A change announced while a run is busy is not lost: another run of
 * that folder follows the busy one.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import { FULL_SYNC, type SyncFlags } from '../protocol/index.js';
import type { SyncEngine } from './engine.js';
import { openImapSession } from './imap-session.js';
import { canonicalFolderPath, displayPathOf } from './maildir/folder-path.js';
import type { SyncLogger } from './logger.js';
import { watchForWake } from './wake-detector.js';

/** Background runs do everything a full sync does; they are simply not on demand. */
const BACKGROUND_SYNC: SyncFlags = { ...FULL_SYNC, onDemand: false };
/** Announcements within this window are synced together. */
const DEBOUNCE_MS = 150;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 5 * 60_000;

export class SyncScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly watchers: FolderWatcher[] = [];
  private stopped = false;
  private stopWakeWatch: (() => void) | null = null;

  constructor(
    private readonly engine: SyncEngine,
    private readonly accounts: readonly AccountConfig[],
    private readonly log: SyncLogger,
  ) {}

  start(): void {
    this.stopWakeWatch = watchForWake((sleptMs) => this.woke(sleptMs));
    for (const account of this.accounts) {
      if (account.syncIntervalSeconds > 0) {
        const runAll = () => this.request(account, []);
        runAll();
        const timer = setInterval(runAll, account.syncIntervalSeconds * 1000);
        timer.unref();
        this.timers.push(timer);
      }
      for (const folder of account.idleFolders) {
        const watcher = new FolderWatcher(
          account,
          folder,
          () => this.request(account, [folder]),
          this.log,
        );
        this.watchers.push(watcher);
        watcher.start();
      }
    }
  }

  async stop(): Promise<void> {
    // A follow-up queued behind a busy run must not start after this: the agent may be
    // stopping, or a reload may have removed the account (its run would then throw).
    this.stopped = true;
    this.stopWakeWatch?.();
    this.followUps.clear();
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.watchers.map((w) => w.stop()));
  }

  /**
   * The machine woke from sleep (wake-detector.ts): every connection is likely dead without
   * knowing it. The watches connect again at once, kept sessions are dropped, and each
   * account is synced for the mail that came meanwhile.
   */
  woke(sleptMs: number): void {
    if (this.stopped) return;
    this.log.info({ sleptS: Math.round(sleptMs / 1000) }, 'woke from sleep: connecting again');
    this.engine.dropKeptSessions();
    for (const watcher of this.watchers) watcher.renew();
    for (const account of this.accounts) this.request(account, []);
  }

  /** How many folders are watched with IDLE at this moment (for status and tests). */
  watchingNow(): number {
    return this.watchers.filter((watcher) => watcher.idling).length;
  }

  private readonly followUps = new Map<string, Set<string> | 'all'>();

  /** Starts a run, or queues one right after the run already busy with this account. */
  private request(account: AccountConfig, folders: string[]): void {
    if (this.stopped) return;
    const busy = this.engine.running().find((run) => run.accountIds.includes(account.id));
    if (!busy) {
      this.engine.start({
        accountIds: [account.id],
        folders,
        flags: BACKGROUND_SYNC,
        trigger: 'schedule',
      });
      return;
    }
    const queued = this.followUps.get(account.id);
    const merged =
      queued === 'all' || folders.length === 0 ? 'all' : new Set([...(queued ?? []), ...folders]);
    this.followUps.set(account.id, merged);
    if (queued !== undefined) return; // a follow-up is already waiting for this run
    const followUp = () => {
      const next = this.followUps.get(account.id);
      this.followUps.delete(account.id);
      if (next !== undefined) this.request(account, next === 'all' ? [] : [...next]);
    };
    busy.done.then(followUp, followUp).catch((err: Error) => {
      // Background work that cannot start now is tried again at the next announcement.
      this.log.warn({ accountId: account.id, err: err.message }, 'background sync not started');
    });
  }
}

/** One IDLE connection on one folder; calls `onChange` when the server reports a change. */
class FolderWatcher {
  private client: ImapFlow | null = null;
  private stopped = false;
  private debounce: NodeJS.Timeout | null = null;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Raised by renew(): a connection of an earlier epoch starts nothing when it fails. */
  private epoch = 0;
  /** Whether a watch of this folder ever started: a new one follows a lost one. */
  private watchedBefore = false;

  constructor(
    private readonly account: AccountConfig,
    private readonly folder: string,
    private readonly onChange: () => void,
    private readonly log: SyncLogger,
  ) {}

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.debounce) clearTimeout(this.debounce);
    const client = this.client;
    this.client = null;
    if (client) await client.logout().catch(() => client.close());
  }

  /** In IDLE now, as far as this side knows. */
  get idling(): boolean {
    return this.client?.idling === true;
  }

  /** Gives the connection up, however alive it looks, and connects again now. */
  renew(): void {
    if (this.stopped) return;
    this.epoch += 1;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryMs = RECONNECT_MIN_MS;
    const old = this.client;
    this.client = null;
    // Closed, not logged out: a LOGOUT into a dead connection waits for an answer.
    old?.close();
    void this.connect();
  }

  private async connect(): Promise<void> {
    const epoch = this.epoch;
    let client: ImapFlow | null = null;
    try {
      client = await openImapSession(this.account);
      if (this.stopped || epoch !== this.epoch) {
        await client.logout().catch(() => client?.close());
        return;
      }
      const current = client;
      this.client = current;
      const changed = () => this.changed();
      current.on('exists', changed);
      current.on('expunge', changed);
      current.on('flags', changed);
      // Only the connection watched now may start another: one given up below must not, or
      // each would start a watcher of its own.
      current.on('close', () => {
        if (this.client === current) this.reconnectLater('connection closed');
      });
      await current.mailboxOpen(await serverPathOf(current, this.folder), { readOnly: true });
      this.retryMs = RECONNECT_MIN_MS;
      // Mail delivered while the watch was down was announced to nobody: a pass of the
      // folder takes it in now, not at the next scheduled one (if any).
      if (this.watchedBefore) this.changed();
      this.watchedBefore = true;
      this.log.info(
        { accountId: this.account.id, folder: this.folder },
        'watching folder with IDLE',
      );
      // IDLE now, not after imapflow's inactivity delay; re-enter it whenever it ends (servers
      // and imapflow end it periodically to keep the connection alive).
      while (!this.stopped && this.client === current && current.usable) await current.idle();
    } catch (err) {
      // A connection that failed here (the folder cannot be opened, IDLE refused) may still be
      // open: close it before the next attempt opens another, or they pile up on the server
      // until it refuses the account's every connection.
      if (client && this.client === client) this.client = null;
      client?.close();
      // The server's words ("Mailbox doesn't exist") say more than imapflow's "Command failed".
      const { responseText, message } = err as { responseText?: string; message: string };
      if (epoch === this.epoch) this.reconnectLater(responseText || message);
    }
  }

  private changed(): void {
    // An announcement read while the connection logs out comes after stop(): not a change.
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.onChange();
    }, DEBOUNCE_MS);
  }

  private reconnectLater(reason: string): void {
    if (this.stopped || this.retryTimer) return;
    this.client = null;
    this.log.warn(
      { accountId: this.account.id, folder: this.folder, reason, retryMs: this.retryMs },
      'IDLE watch lost; reconnecting',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RECONNECT_MAX_MS, this.retryMs * 2);
  }
}

/**
 * The folder's name on the server. The config names it by its display path, "/" between
 * levels as everywhere else (`Archive/2024`), which a server with another delimiter calls
 * `Archive.2024`: SELECT needs the server's name, found in its listing.
 */
async function serverPathOf(client: ImapFlow, folder: string): Promise<string> {
  const wanted = canonicalFolderPath(folder);
  if (wanted === 'INBOX') return wanted;
  const entry = (await client.list()).find(
    (e) => displayPathOf(e.path, e.delimiter || null) === wanted,
  );
  return entry?.path ?? folder;
}
