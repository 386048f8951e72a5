/**
 * Where an IMAP folder lives on disk: `<maildir>/<level>/<level>/…`, one directory per
 * hierarchy level (INBOX at `<maildir>/INBOX`), each level's name mapped by folder-names.ts
 * for the platform's file-system rules.
 *
 * Folders are known everywhere else (state, events, the pane) by their display path: the
 * server's levels joined by "/". A level's own "/" (possible when the server's delimiter is
 * something else, such as ".") and "\" are written "\/" and "\\" there, so the display path
 * names exactly one server folder.
 */
import {
  type Dirent,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { SyncFailure } from '../errors.js';
import {
  AmbiguousFolderDirectoryError,
  chooseDirectoryName,
  decodeDirectoryName,
  FolderNameError,
  hostFolderNameRules,
  nameHash,
  type FolderNameRules,
} from './folder-names.js';

/** Inside a directory whose name was cut to fit: the level's full name, UTF-8. */
export const FULL_NAME_FILE = '.storesync-name';

/**
 * A folder named by a person (`--folder inbox`, a pane's request): INBOX is one name in any
 * case (RFC 3501), every other name as written.
 */
export function canonicalFolderPath(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** The display path of a server folder. */
export function displayPathOf(serverPath: string, delimiter: string | null): string {
  const levels = delimiter ? serverPath.split(delimiter) : [serverPath];
  return joinDisplayPath(levels);
}

export function joinDisplayPath(levels: readonly string[]): string {
  return levels.map((level) => level.replace(/[\\/]/g, (c) => `\\${c}`)).join('/');
}

/** The hierarchy levels of a display path (the inverse of joinDisplayPath). */
export function displaySegments(displayPath: string): string[] {
  const levels: string[] = [''];
  for (let i = 0; i < displayPath.length; i++) {
    const c = displayPath[i]!;
    if (c === '\\' && i + 1 < displayPath.length) levels[levels.length - 1] += displayPath[++i];
    else if (c === '/') levels.push('');
    else levels[levels.length - 1] += c;
  }
  return levels;
}

/**
 * The server name for a folder first seen locally, in the server's hierarchy; `delimiter`
 * null: the server keeps none (it lists every folder with a NIL delimiter).
 */
export function serverPathOf(displayPath: string, delimiter: string | null): string {
  const levels = displaySegments(displayPath);
  if (delimiter === null) {
    if (levels.length === 1) return levels[0]!;
    throw new SyncFailure(
      'FOLDER_NAME_INVALID',
      `Folder "${displayPath}" cannot be created on the server: the server keeps no folders inside folders (it names no hierarchy delimiter)`,
      displayPath,
      "Move the folder's directory to the top of the Maildir (beside INBOX), or its messages into another folder, then sync again.",
    );
  }
  const clash = levels.find((level) => level.includes(delimiter));
  if (clash !== undefined) {
    throw new SyncFailure(
      'FOLDER_NAME_INVALID',
      `Folder "${displayPath}" cannot be created on the server: "${clash}" contains the server's hierarchy delimiter "${delimiter}"`,
      displayPath,
      `Rename the folder's directory in the Maildir so that its name holds no "${delimiter}" (or move its messages into another folder), then sync again.`,
    );
  }
  return levels.join(delimiter);
}

export interface FolderDirectoryOptions {
  /** Create missing directories (claiming their names), as delivery into the folder will. */
  create?: boolean;
  rules?: FolderNameRules;
}

/**
 * The folder's directory. An existing directory that stores the name is reused, whatever
 * spelling an older version gave it; otherwise the name's encoding, made unique among its
 * siblings. With `create`, the choice and the directory creation happen in one synchronous
 * step, so two folders synced at once can never pick the same directory. A level that more
 * than one directory stores is a FOLDER_NAME_INVALID failure of the folder (see
 * AmbiguousFolderDirectoryError), never a guess.
 */
export function folderDirectory(
  maildirRoot: string,
  displayPath: string,
  options: FolderDirectoryOptions = {},
): string {
  const rules = options.rules ?? hostFolderNameRules();
  let dir = maildirRoot;
  for (const level of displaySegments(displayPath)) {
    let choice;
    try {
      const entries = entriesOf(dir);
      const directories = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
      choice = chooseDirectoryName(
        level,
        entries.map((e) => e.name),
        rules,
        (name) => directories.has(name),
      );
    } catch (err) {
      if (err instanceof AmbiguousFolderDirectoryError) {
        const where = path.relative(maildirRoot, dir) || '.';
        throw new SyncFailure(
          'FOLDER_NAME_INVALID',
          `Folder "${displayPath}" is stored in more than one directory of the Maildir (in ${where}: ${err.entries.map((e) => `"${e}"`).join(', ')}); it is not synced until one is left`,
          displayPath,
          `Move the messages (the files in cur/ and new/) of one of these directories into the other and remove the emptied one, then sync again. Until then nothing of this folder is synced either way, so nothing in either directory is deleted.`,
        );
      }
      if (!(err instanceof FolderNameError)) throw err;
      throw new SyncFailure(
        'FOLDER_NAME_INVALID',
        `Folder "${displayPath}" has a name that cannot be stored as a directory: ${err.message}`,
        displayPath,
      );
    }
    const child = path.join(dir, choice.entry);
    if (options.create && !choice.exists) {
      mkdirSync(child, { recursive: true, mode: 0o700 });
      if (decodeDirectoryName(choice.entry, rules).shortenedHash !== null)
        writeFullName(child, level);
    }
    dir = child;
  }
  return dir;
}

/**
 * The hierarchy level a directory entry stores, or null for a cut name whose record is gone
 * and matches none of `candidates` (the names the sync state knows at this level). A record
 * lost but recognised from the state is written again: a folder must never look deleted, and
 * so be deleted on the server, because a small file inside it went missing.
 */
export function levelNameOf(
  dir: string,
  entry: string,
  rules: FolderNameRules,
  candidates: readonly string[] = [],
): string | null {
  const decoded = decodeDirectoryName(entry, rules);
  if (decoded.shortenedHash === null) return decoded.name;
  try {
    const full = readFileSync(path.join(dir, entry, FULL_NAME_FILE), 'utf8');
    if (nameHash(full) === decoded.shortenedHash) return full;
  } catch {
    // Missing or unreadable: try the names the state knows.
  }
  const known = candidates.find((name) => nameHash(name) === decoded.shortenedHash);
  if (known === undefined) return null;
  writeFullName(path.join(dir, entry), known);
  return known;
}

function entriesOf(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function writeFullName(dir: string, name: string): void {
  const file = path.join(dir, FULL_NAME_FILE);
  writeFileSync(`${file}.tmp`, name, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
