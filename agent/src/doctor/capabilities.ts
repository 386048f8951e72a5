/**
 * What the server's IMAP extensions mean for StoreSync, in words a user can act on. The
 * engine picks the cheapest way to learn changes (sync/remote-changes.ts); this says which.
 */

interface Extension {
  name: string;
  with: string;
  without: string;
}

const EXTENSIONS: Extension[] = [
  {
    name: 'QRESYNC',
    with: 'an unchanged folder costs one SELECT; flag changes and expunges come with it',
    without: 'expunges are found by comparing UIDs (a UID SEARCH when the count changed)',
  },
  {
    name: 'CONDSTORE',
    with: 'only flags changed since the last sync are fetched (CHANGEDSINCE)',
    without: 'every sync fetches the flags of every message (slow on large folders)',
  },
  {
    name: 'IDLE',
    with: 'new mail in the watched folders arrives within seconds',
    without: 'new mail arrives only at the next periodic sync (syncIntervalSeconds)',
  },
  {
    name: 'UIDPLUS',
    with: 'uploaded messages get their UID at once (APPENDUID) and deletions expunge only ours',
    without:
      'each upload is looked up afterwards by size and content (an extra FETCH); deletions use a plain EXPUNGE, which also removes what other clients marked \\Deleted',
  },
  {
    name: 'MOVE',
    with: 'deletePolicy "trash" moves messages in one atomic step',
    without: 'moving to Trash is COPY, then flag \\Deleted, then EXPUNGE',
  },
];

/** One line on overall sync speed. */
export function syncSpeedSummary(caps: ReadonlySet<string>): string {
  if (caps.has('QRESYNC')) return 'fastest incremental sync (QRESYNC)';
  if (caps.has('CONDSTORE')) return 'fast flag sync (CONDSTORE, no QRESYNC)';
  return 'slower sync: no CONDSTORE/QRESYNC, every folder is scanned each time';
}

/** A line per extension that matters to us: present or not, and what that means. */
export function describeCapabilities(all: readonly string[]): string[] {
  const caps = new Set(all.map((c) => c.toUpperCase()));
  const lines = EXTENSIONS.map((e) =>
    caps.has(e.name) ? `+ ${e.name}: ${e.with}` : `- ${e.name} missing: ${e.without}`,
  );
  lines.push(`all: ${[...caps].join(' ')}`);
  return lines;
}
