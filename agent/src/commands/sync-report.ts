/**
 * What `storesync sync --once` prints of a run, whether the run is this process's own or the
 * running agent's (agent-sync.ts): live progress on a terminal, one JSON summary (--json),
 * or every event as NDJSON (--events). Both paths print the same things for the same run.
 */
import {
  type DoneEvent,
  type ErrorEvent,
  type SyncEvent,
  SyncEventSchema,
} from '../protocol/index.js';
import { ProgressDisplay } from './progress-display.js';

export interface SyncReportOptions {
  json: boolean;
  /** Every event as one JSON line on stdout, instead of progress and summary. */
  events?: boolean;
  /** IMAP connections per account: as many folders can be in progress at once. */
  connections?: ReadonlyMap<string, number>;
  /** An event that breaks the protocol's schema: a bug to report, not a line to print. */
  onInvalidEvent?: (event: SyncEvent, problem: string) => void;
}

export class SyncReport {
  private readonly errors: ErrorEvent[] = [];
  private readonly display: ProgressDisplay | null;

  constructor(
    private readonly options: SyncReportOptions,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.display =
      options.json || options.events
        ? null
        : new ProgressDisplay(out, out.isTTY === true, {
            ...(options.connections ? { connections: options.connections } : {}),
          });
  }

  handle(event: SyncEvent): void {
    if (event.type === 'error') this.errors.push(event);
    if (this.options.events) this.writeEvent(event);
    this.display?.handle(event);
  }

  /** Prints the summary (the done event itself with --events); returns the exit code. */
  finish(done: DoneEvent): number {
    const seconds = (done.finishedAt - done.startedAt) / 1000;
    if (this.options.json) {
      const summary = {
        ok: done.result === 'ok',
        result: done.result,
        ...done.stats,
        seconds,
        errors: this.errors.map((e) => ({
          code: e.code,
          message: e.message,
          folder: e.folder,
          account: e.accountId,
          // Scripts tell a notice (a renumbered folder) or a retried hiccup from a failure.
          severity: e.severity ?? 'error',
          hint: e.hint,
        })),
      };
      this.out.write(JSON.stringify(summary) + '\n');
    } else if (!this.options.events) {
      const s = done.stats;
      this.out.write(
        `${done.result === 'ok' ? '✔' : '✖'} ${done.result}: ${s.downloaded} downloaded, ` +
          `${s.foldersSynced} folders synced, ${s.foldersFailed} failed, ` +
          `${(s.bytes / 1048576).toFixed(1)} MB in ${seconds.toFixed(1)} s\n`,
      );
    }
    return done.result === 'ok' ? 0 : 1;
  }

  /** Validated against the protocol first: a consumer relies on the schema. */
  private writeEvent(event: SyncEvent): void {
    const checked = SyncEventSchema.safeParse(event);
    if (!checked.success) {
      this.options.onInvalidEvent?.(event, checked.error.message);
      process.stderr.write(`storesync: internal error: a ${event.type} event fails its schema\n`);
      return;
    }
    this.out.write(JSON.stringify(checked.data) + '\n');
  }
}
