/**
 * At most PROGRESS_PER_SECOND progress events per sync and account reach the panes: the
 * engine reports every message, and a 20,000-message folder would otherwise send 20,000
 * frames for a bar a person reads a few times a second. The newest value always wins, and
 * the last one is never held back: `flush` sends it before the run's error or done.
 */
import type { ProgressEvent } from '../protocol/index.js';

export const PROGRESS_PER_SECOND = 10;
const INTERVAL_MS = 1000 / PROGRESS_PER_SECOND;

interface Slot {
  lastSentAt: number;
  pending: ProgressEvent | null;
  timer: NodeJS.Timeout | null;
}

export class ProgressCoalescer {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly send: (event: ProgressEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  push(event: ProgressEvent): void {
    const key = `${event.syncId}\u0000${event.accountId}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { lastSentAt: -Infinity, pending: null, timer: null };
      this.slots.set(key, slot);
    }
    const wait = slot.lastSentAt + INTERVAL_MS - this.now();
    if (wait <= 0 && !slot.timer) {
      slot.lastSentAt = this.now();
      this.send(event);
      return;
    }
    slot.pending = event;
    if (!slot.timer) {
      const owner = slot;
      owner.timer = setTimeout(() => this.release(owner), Math.max(0, wait));
      owner.timer.unref();
    }
  }

  /** Sends what is held for the sync now (its error or done follows). */
  flush(syncId: string): void {
    for (const [key, slot] of this.slots) {
      if (!key.startsWith(`${syncId}\u0000`)) continue;
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      if (slot.pending) {
        const event = slot.pending;
        slot.pending = null;
        slot.lastSentAt = this.now();
        this.send(event);
      }
    }
  }

  /** Forgets a finished sync. */
  forget(syncId: string): void {
    this.flush(syncId);
    for (const key of [...this.slots.keys()]) {
      if (key.startsWith(`${syncId}\u0000`)) this.slots.delete(key);
    }
  }

  close(): void {
    for (const slot of this.slots.values()) if (slot.timer) clearTimeout(slot.timer);
    this.slots.clear();
  }

  private release(slot: Slot): void {
    slot.timer = null;
    if (!slot.pending) return;
    const event = slot.pending;
    slot.pending = null;
    slot.lastSentAt = this.now();
    this.send(event);
  }
}
