/**
 * Authenticated IMAP sessions kept between the runs of a long-lived engine (the agent). A
 * pass with nothing to do is a handful of SELECTs; opening its connections (TCP, a login
 * process on the server, the authentication) would cost more than the pass itself. A kept
 * session is handed out again only after a NOOP shows it alive, carries the protocol log of
 * the run that holds it, and is logged out after IDLE_KEEP_MS unused, on a config change or
 * when the engine stops. The one-shot CLI does not keep sessions.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountConfig } from '../config/load.js';
import type { EarlyDials } from './early-dial.js';
import { type ImapProtocolLog, openImapSession } from './imap-session.js';

/** Well below the 30 minutes after which servers may log an idle session out (RFC 9051). */
export const IDLE_KEEP_MS = 4 * 60_000;

/**
 * How long a kept session has to answer its NOOP. A live one answers in milliseconds; one
 * that went dead without a word (the laptop slept, the Wi-Fi changed, a NAT forgot it) would
 * otherwise hold the run until the socket's own timeout, minutes later.
 */
export const KEPT_CHECK_MS = 5_000;

/** Where syncAccount gets its connections and gives them back. */
export interface SessionSource {
  open(account: AccountConfig, protocolLog?: ImapProtocolLog): Promise<ImapFlow>;
  /** `reusable`: the run ended without a connection problem or a cancel. */
  release(account: AccountConfig, client: ImapFlow, reusable: boolean): Promise<void>;
}

/** Every run its own connections, logged out at its end. */
export const freshSessions: SessionSource = {
  open: (account, protocolLog) => openImapSession(account, protocolLog),
  release: (_account, client) => logoutQuietly(client),
};

/**
 * The one-shot CLI's sessions: each account's first one logs in while the rest of the engine
 * loads (on the connection dialled earlier still), so the server's login work overlaps the
 * client's start-up; later ones are opened as usual. A session that failed to open reports
 * its failure to the run that asks for it, as a new one would. Not with the IMAP protocol
 * log on: a login that ran before the run began would be logged without the run's ids, so
 * there only the connection is made early.
 */
export class EarlySessions implements SessionSource {
  private readonly opening = new Map<string, Promise<ImapFlow>>();

  constructor(private readonly dials: EarlyDials) {}

  /** Starts logging in the first session of each account. */
  login(accounts: readonly AccountConfig[]): void {
    for (const account of accounts) {
      const session = openImapSession(account, undefined, this.dials.take(account));
      // Awaited by open() or close(); until then a failure is no unhandled rejection.
      session.catch(() => undefined);
      this.opening.set(keyOf(account), session);
    }
  }

  open(account: AccountConfig, protocolLog?: ImapProtocolLog): Promise<ImapFlow> {
    const early = this.opening.get(keyOf(account));
    if (early && !protocolLog) {
      this.opening.delete(keyOf(account));
      return early;
    }
    return openImapSession(account, protocolLog, this.dials.take(account));
  }

  readonly release = freshSessions.release;

  /** Logs out the sessions no run took and closes the connections no session took. */
  async close(): Promise<void> {
    this.dials.close();
    const left = [...this.opening.values()];
    this.opening.clear();
    await Promise.all(left.map((session) => session.then(logoutQuietly, () => undefined)));
  }
}

interface KeptSession {
  client: ImapFlow;
  timer: NodeJS.Timeout;
}

export class SessionPool implements SessionSource {
  private readonly kept = new Map<string, KeptSession[]>();
  /** The protocol log each pooled client writes to now (the run holding it). */
  private readonly sinks = new WeakMap<ImapFlow, ImapProtocolLog | undefined>();

  constructor(private readonly keepMs = IDLE_KEEP_MS) {}

  async open(account: AccountConfig, protocolLog?: ImapProtocolLog): Promise<ImapFlow> {
    const list = this.kept.get(keyOf(account)) ?? [];
    for (let session = list.pop(); session; session = list.pop()) {
      clearTimeout(session.timer);
      const { client } = session;
      this.sinks.set(client, protocolLog);
      try {
        if (!client.usable) throw new Error('closed');
        await answersWithin(client.noop(), KEPT_CHECK_MS);
        if (client.usable) return client;
      } catch {
        // Dropped while kept (server restart, NAT timeout): a new one is opened instead.
      }
      client.close();
    }
    let client: ImapFlow | null = null;
    const routed: ImapProtocolLog | undefined = protocolLog
      ? (direction, line, context) => {
          const sink = client ? this.sinks.get(client) : protocolLog;
          sink?.(direction, line, context);
        }
      : undefined;
    client = await openImapSession(account, routed);
    this.sinks.set(client, protocolLog);
    return client;
  }

  async release(account: AccountConfig, client: ImapFlow, reusable: boolean): Promise<void> {
    if (!reusable || !client.usable) return logoutQuietly(client);
    this.sinks.set(client, undefined);
    leaveFolder(client);
    const key = keyOf(account);
    const list = this.kept.get(key) ?? [];
    const session: KeptSession = {
      client,
      timer: setTimeout(() => {
        const at = list.indexOf(session);
        if (at >= 0) list.splice(at, 1);
        void logoutQuietly(client);
      }, this.keepMs),
    };
    session.timer.unref();
    list.push(session);
    this.kept.set(key, list);
  }

  /**
   * Closes every kept session without a word to the server: after the machine slept they
   * are most likely dead, and a LOGOUT into a dead connection waits for an answer that never
   * comes.
   */
  dropAll(): void {
    const all = [...this.kept.values()].flat();
    this.kept.clear();
    for (const session of all) {
      clearTimeout(session.timer);
      session.client.close();
    }
  }

  /** Logs every kept session out (config reload, shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.kept.values()].flat();
    this.kept.clear();
    for (const session of all) clearTimeout(session.timer);
    await Promise.all(all.map((session) => logoutQuietly(session.client)));
  }
}

/**
 * A kept session leaves the folder it has selected. Else the server reports every change made
 * there meanwhile at the session's next command (a FETCH line per message whose flags moved,
 * 500 lines for 500 flags), for imapflow to parse and the next pass to ignore: it asks for
 * each folder's changes itself. Only by UNSELECT (RFC 3691): CLOSE would expunge the messages
 * flagged \Deleted. Not waited for: the session's next command queues behind it.
 */
function leaveFolder(client: ImapFlow): void {
  if (!client.mailbox || !client.capabilities.has('UNSELECT')) return;
  // imapflow's CLOSE command sends UNSELECT with this option (mailboxClose() does not pass it).
  const run = (client as unknown as { run(command: 'CLOSE', options: object): Promise<unknown> })
    .run;
  void run.call(client, 'CLOSE', { unselect: true }).catch(() => undefined);
}

/** A session belongs to the account as configured: another host, user or secret is another. */
function keyOf(account: AccountConfig): string {
  return JSON.stringify([account.id, account.imap]);
}

export async function logoutQuietly(client: ImapFlow): Promise<void> {
  try {
    if (client.usable) await client.logout();
    else client.close();
  } catch {
    client.close();
  }
}

/** Rejects when `answer` has not settled within `ms`. */
function answersWithin<T>(answer: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  answer.catch(() => undefined); // settles after the race is lost: no unhandled rejection
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}
