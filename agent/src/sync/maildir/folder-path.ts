/**
 * Where an IMAP folder lives on disk: `<maildir>/<segments joined by the OS separator>`, one
 * directory level per hierarchy level (INBOX at `<maildir>/INBOX`). A name that cannot be a
 * directory safely (empty, ".", "..", a Maildir subdirectory name, a path separator or NUL)
 * is refused rather than written somewhere unexpected.
 */
import path from 'node:path';
import { SyncFailure } from '../errors.js';

const MAILDIR_SUBDIRS = new Set(['cur', 'new', 'tmp']);

/** Splits a server folder path on its hierarchy delimiter into display segments. */
export function folderSegments(serverPath: string, delimiter: string | null): string[] {
  return delimiter ? serverPath.split(delimiter) : [serverPath];
}

/** The folder's name as the pane and logs show it: "/" between hierarchy levels. */
export function displayName(serverPath: string, delimiter: string | null): string {
  return folderSegments(serverPath, delimiter).join('/');
}

export function folderDirectory(maildirRoot: string, segments: string[]): string {
  const display = segments.join('/');
  for (const segment of segments) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      MAILDIR_SUBDIRS.has(segment) ||
      /[/\\\0]/.test(segment)
    ) {
      throw new SyncFailure(
        'FOLDER_NAME_INVALID',
        `Folder "${display}" has a name that cannot be stored as a directory`,
        display,
      );
    }
  }
  return path.join(maildirRoot, ...segments);
}
