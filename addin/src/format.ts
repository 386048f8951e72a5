/** Wording and number formats the pane shows; pure so they are tested without a browser. */
import type { SyncResult, SyncStats } from '../../agent/src/protocol/index.js';

const integer = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return integer.format(n);
}

/** "1 folder", "3 folders", "1,024 messages". */
export function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

export function formatBytes(bytes: number): string {
  // A rate is a fraction of a byte per second: whole bytes are shown ("537 B", not "537.33 B").
  const whole = Math.round(bytes);
  if (whole < 1024) return `${whole} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = whole / 1024;
  let unit = 0;
  // What rounds to 1024 of a unit is shown as 1.0 of the next ("1.0 MB", not "1024 KB").
  while (Number(shown(value)) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${shown(value)} ${units[unit]}`;
}

/** One decimal below 10, none above: "4.1", "12", "1023". */
function shown(value: number): string {
  return value.toFixed(value < 10 ? 1 : 0);
}

export function formatDuration(ms: number): string {
  // Rounded once, to what is shown: 59.96 s is "1 min 0 s", never "60.0 s" or "1 min 60 s".
  if (Math.round(ms) < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** "just now", "2 min ago", "3 h ago", "4 days ago". */
export function formatAgo(then: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

const RESULT_WORD: Record<SyncResult, string> = {
  ok: 'Done',
  error: 'Finished with errors',
  cancelled: 'Cancelled',
};

/** "Done · 200 downloaded · 3 folders · 4.1 MB in 2.3 s". */
export function lastResultText(result: SyncResult, stats: SyncStats, durationMs: number): string {
  const parts = [RESULT_WORD[result], `${formatCount(stats.downloaded)} downloaded`];
  if (stats.uploaded > 0) parts.push(`${formatCount(stats.uploaded)} uploaded`);
  parts.push(plural(stats.foldersSynced, 'folder'));
  if (stats.foldersFailed > 0) parts.push(`${formatCount(stats.foldersFailed)} failed`);
  parts.push(`${formatBytes(stats.bytes)} in ${formatDuration(durationMs)}`);
  return parts.join(' · ');
}

/** "a few seconds left", "about 40 s left", "about 3 min left", "about 1 h 20 min left". */
export function formatTimeLeft(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 10) return 'a few seconds left';
  // To the nearest 5 s below a minute; 58 s rounds to a minute and is said as one.
  const fives = Math.round(seconds / 5) * 5;
  if (fives < 60) return `about ${fives} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${hours} h${rest > 0 ? ` ${rest} min` : ''} left`;
}
