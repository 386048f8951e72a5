/**
 * The account's include/exclude globs, with IMAP LIST wildcard meanings: "*" matches
 * anything including the hierarchy separator "/", "%" anything but it. INBOX matches
 * case-insensitively, as IMAP names it.
 */

export function folderSelected(
  displayPath: string,
  folders: { include: readonly string[]; exclude: readonly string[] },
): boolean {
  const matches = (pattern: string) => globToRegExp(pattern).test(normaliseInbox(displayPath));
  return folders.include.some(matches) && !folders.exclude.some(matches);
}

const cache = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    const body = normaliseInbox(pattern)
      .split('')
      .map((ch) =>
        ch === '*' ? '.*' : ch === '%' ? '[^/]*' : ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('');
    re = new RegExp(`^${body}$`, 'u');
    cache.set(pattern, re);
  }
  return re;
}

function normaliseInbox(path: string): string {
  return /^inbox(\/|$)/i.test(path) ? 'INBOX' + path.slice(5) : path;
}
