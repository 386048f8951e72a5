/** What `storesync doctor` reports: a flat list of checks, each with what to do when it fails. */

/** warn: worth knowing, but nothing is broken (does not change the exit code). */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** Stable, for scripts and the support bundle: "config", "imap.login", "port", … */
  id: string;
  /** The account a check is about, if any. */
  account?: string;
  status: CheckStatus;
  title: string;
  /** What to do about it; set whenever status is not ok. */
  hint?: string;
  /** Further lines (capabilities and what they mean, each trust store, …). */
  details?: string[];
}

export interface DoctorReport {
  ok: boolean;
  /** The config file checked, or null when none exists and the defaults were used. */
  configFile: string | null;
  checks: DoctorCheck[];
}

export function ok(id: string, title: string, details?: string[]): DoctorCheck {
  return { id, status: 'ok', title, ...(details?.length ? { details } : {}) };
}

export function fail(id: string, title: string, hint: string, details?: string[]): DoctorCheck {
  return { id, status: 'fail', title, hint, ...(details?.length ? { details } : {}) };
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
