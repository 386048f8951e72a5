/**
 * How `storesync sync` shows a run: on a terminal, one live line per account redrawn at most
 * ten times a second; elsewhere, only errors and the final summary (logs are the record).
 */
import type { SyncEvent } from '../protocol/index.js';

const REDRAW_INTERVAL_MS = 100;

export class ProgressDisplay {
  private readonly lines = new Map<string, string>();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
  ) {}

  handle(event: SyncEvent): void {
    switch (event.type) {
      case 'progress': {
        const pct =
          event.indexMax > 0 ? ` ${Math.floor((event.index / event.indexMax) * 100)}%` : '';
        this.lines.set(
          event.accountId,
          `${event.accountId}: ${event.text}${event.step === 'downloading' ? pct : ''}`,
        );
        this.schedule();
        break;
      }
      case 'error': {
        const where = [event.accountId, event.folder].filter(Boolean).join(' / ');
        this.printAbove(
          `✖ ${where ? where + ': ' : ''}${event.code}: ${event.message}\n  ${event.hint}`,
        );
        break;
      }
      case 'done':
        this.redraw();
        if (this.timer) clearTimeout(this.timer);
        break;
      case 'syncStarted':
        break;
    }
  }

  private schedule(): void {
    if (!this.live || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.redraw();
    }, REDRAW_INTERVAL_MS);
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }

  private redraw(): void {
    if (!this.live) return;
    this.clear();
    const columns = this.out.columns || 100;
    for (const line of this.lines.values()) this.out.write(line.slice(0, columns - 1) + '\n');
    this.drawnLines = this.lines.size;
  }

  /** Errors go to stderr, above the live lines, and stay in the scrollback. */
  private printAbove(text: string): void {
    this.clear();
    process.stderr.write(text + '\n');
    this.redraw();
  }
}
