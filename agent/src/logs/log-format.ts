/**
 * Reading the agent's JSON log lines back: filtering by sync run and level, and the one-line
 * human form `storesync logs` prints (time, level, sync, account/folder, message, details).
 */

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
const LEVEL_NAMES = new Map(Object.entries(LEVELS).map(([name, n]) => [n, name]));

export const LEVEL_CHOICES = Object.keys(LEVELS);

/** Fields shown in their own columns, or noise to a reader (pino's bookkeeping). */
const SHOWN = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'msg',
  'syncId',
  'accountId',
  'folder',
  'imap',
  'cid',
]);

export interface LogRecord {
  level?: number;
  time?: number;
  msg?: string;
  syncId?: string;
  accountId?: string;
  folder?: string;
  [field: string]: unknown;
}

export interface LogFilter {
  /** A sync id, or its first characters as printed. */
  syncId?: string;
  /** Lowest level shown (a name from LEVEL_CHOICES). */
  level?: string;
}

/** The line as a record, or null when it is not one of ours (a torn write, an editor's mark). */
export function parseLogLine(line: string): LogRecord | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as LogRecord)
      : null;
  } catch {
    return null;
  }
}

export function matchesFilter(record: LogRecord | null, filter: LogFilter): boolean {
  if (!filter.syncId && !filter.level) return true;
  if (!record) return false;
  if (filter.syncId && !(record.syncId ?? '').startsWith(filter.syncId)) return false;
  if (filter.level && (record.level ?? 0) < (LEVELS[filter.level] ?? 0)) return false;
  return true;
}

/** `2025-01-31 14:03:07.123 WARN  [1b9d6bcd] work / INBOX: message key=value …` */
export function formatLogRecord(record: LogRecord): string {
  const time = typeof record.time === 'number' ? formatTime(record.time) : '-'.repeat(23);
  const level = (LEVEL_NAMES.get(record.level ?? 0) ?? String(record.level ?? '?'))
    .toUpperCase()
    .padEnd(5);
  const sync = typeof record.syncId === 'string' ? `[${record.syncId.slice(0, 8)}] ` : '';
  const where = [record.accountId, record.folder]
    .filter((part) => typeof part === 'string')
    .join(' / ');
  const details = Object.entries(record)
    .filter(([key, value]) => !SHOWN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return [
    `${time} ${level} ${sync}${where ? where + ': ' : ''}${record.msg ?? ''}`,
    ...details,
  ].join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.` +
    String(d.getMilliseconds()).padStart(3, '0')
  );
}
