/**
 * Recent sync runs from the state database, for support bundles. Opened read-only and queried
 * with SELECT *: a diagnostic must neither create nor migrate the state (it may be from a newer
 * StoreSync, or the agent may be using it right now), and must not break when columns are added.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';

export interface RunSummary {
  syncId: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  result: string | null;
  flags: unknown;
  stats: unknown;
  accounts: Array<{ accountId: string; result: string; finishedAt: string }>;
}

type Row = Record<string, unknown>;

/** The last `limit` runs, newest first; null when there is no state database yet. */
export function readRecentRuns(stateFile: string, limit: number): RunSummary[] | null {
  if (!existsSync(stateFile)) return null;
  const db = new Database(stateFile, { readonly: true, fileMustExist: true });
  try {
    const runs = db
      .prepare('SELECT * FROM sync_runs ORDER BY started_at DESC LIMIT ?')
      .all(limit) as Row[];
    const accountsOf = db.prepare(
      'SELECT * FROM account_runs WHERE sync_id = ? ORDER BY account_id',
    );
    return runs.map((run) => ({
      syncId: String(run.sync_id),
      trigger: String(run.trigger),
      startedAt: isoTime(run.started_at)!,
      finishedAt: isoTime(run.finished_at),
      result: run.result == null ? null : String(run.result),
      flags: parseJson(run.flags),
      stats: parseJson(run.stats),
      accounts: (accountsOf.all(run.sync_id) as Row[]).map((a) => ({
        accountId: String(a.account_id),
        result: String(a.result),
        finishedAt: isoTime(a.finished_at)!,
      })),
    }));
  } finally {
    db.close();
  }
}

function isoTime(ms: unknown): string | null {
  return typeof ms === 'number' ? new Date(ms).toISOString() : null;
}

function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
