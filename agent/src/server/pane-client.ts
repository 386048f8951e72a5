/**
 * One connected pane: whether it has shown a token yet, and its send buffer. A pane that
 * reads slowly (a busy Outlook, a remote desktop) must not slow the sync or grow the agent's
 * memory without bound: while its socket has more than SLOW_CLIENT_BYTES queued, progress
 * is held back (only the newest per sync and account) and sent once it has caught up.
 * Errors, dones and replies are always queued; a pane that lets even those pile up past
 * DEAD_CLIENT_BYTES is cut off, and gets them again by replay when it reconnects.
 */
import type { ProgressEvent, ServerMessage } from '../protocol/index.js';

/**
 * What the hub needs of a connection: a pane's WebSocket (ws-hub.ts) or the command line's
 * local socket (local-socket.ts). Frames in reach the hub through the connection's
 * own events, which the hub subscribes to where it accepts it.
 */
export interface PaneConnection {
  readonly open: boolean;
  /** Bytes queued for the peer and not yet sent. */
  readonly bufferedAmount: number;
  send(text: string): void;
  /** Closes once what is queued has been sent. */
  close(code: number, reason: string): void;
  /** Closes at once. */
  terminate(): void;
  /**
   * Asks the peer to show it is there (its answer sets PaneClient.alive); false when the
   * connection needs no heartbeat: a local socket closes with the process at its other end.
   */
  ping(): boolean;
}

export const SLOW_CLIENT_BYTES = 1024 * 1024;
export const DEAD_CLIENT_BYTES = 64 * 1024 * 1024;
/** Wrong tokens a connection may present before it is closed. */
export const MAX_AUTH_FAILURES = 5;

export class PaneClient {
  authenticated = false;
  /** Authenticated with the CLI's token (the dataDir's), not a pane's: its syncs are 'cli'. */
  cli = false;
  authFailures = 0;
  alive = true;
  private readonly heldProgress = new Map<string, ProgressEvent>();

  constructor(readonly connection: PaneConnection) {}

  get open(): boolean {
    return this.connection.open;
  }

  send(message: ServerMessage): void {
    if (!this.open) return;
    if (message.type === 'progress' && this.connection.bufferedAmount > SLOW_CLIENT_BYTES) {
      this.heldProgress.set(`${message.syncId}\u0000${message.accountId}`, message);
      return;
    }
    if (this.connection.bufferedAmount > DEAD_CLIENT_BYTES) {
      this.connection.terminate();
      return;
    }
    this.connection.send(JSON.stringify(message));
  }

  /** Sends held progress if the socket has drained; called on a timer. */
  drain(): void {
    if (this.heldProgress.size === 0 || !this.open) return;
    if (this.connection.bufferedAmount > SLOW_CLIENT_BYTES) return;
    const held = [...this.heldProgress.values()];
    this.heldProgress.clear();
    for (const event of held) this.connection.send(JSON.stringify(event));
  }

  /** Sends the sync's held progress now, slow or not: its error or done comes next. */
  flushProgressOf(syncId: string): void {
    for (const [key, event] of [...this.heldProgress]) {
      if (!key.startsWith(`${syncId}\u0000`)) continue;
      this.heldProgress.delete(key);
      if (this.open) this.connection.send(JSON.stringify(event));
    }
  }
}
