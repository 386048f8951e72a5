/**
 * Numbers every event the agent sends and keeps the recent errors and dones, so a pane that
 * lost its connection (laptop asleep, agent busy, Wi-Fi) can be told what it missed. Progress
 * is not kept: the snapshot it gets on reconnect is newer than any missed progress.
 */
import type { SyncEvent } from '../protocol/index.js';

/** Errors and dones kept for replay: hours of a normal day's runs. */
export const JOURNAL_CAPACITY = 1000;

export type NumberedEvent = SyncEvent & { eventId: number };

export class EventJournal {
  private nextId = 1;
  private readonly kept: NumberedEvent[] = [];

  constructor(private readonly capacity = JOURNAL_CAPACITY) {}

  /** Gives the event its id; keeps it if it must never be lost. */
  record(event: SyncEvent): NumberedEvent {
    const numbered = { ...event, eventId: this.nextId++ } as NumberedEvent;
    if (event.type === 'error' || event.type === 'done') {
      this.kept.push(numbered);
      if (this.kept.length > this.capacity) this.kept.shift();
    }
    return numbered;
  }

  /** Id of the newest event numbered so far; 0 before the first. */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** Kept events newer than `eventId`, oldest first. */
  since(eventId: number): NumberedEvent[] {
    return this.kept.filter((e) => e.eventId > eventId);
  }
}
