/**
 * One Maildir folder on disk ({cur,new,tmp}) and durable delivery into it.
 *
 * Delivery is batched for speed without giving up durability: every file of a batch is
 * written to tmp/ (a download writes each as it arrives) and the batch is fsynced concurrently
 * (libuv's thread pool does the waiting), the caller commits the batch's state rows, then the
 * files are renamed into cur/ and cur/ is fsynced once. A crash before the commit leaves only
 * tmp/ files (re-fetched next time, the leftovers swept); a crash after it leaves files the
 * state knows, which `recoverFromTmp` finishes.
 */
import fsSync, { constants as fsConstants } from 'node:fs';
import { promisify } from 'node:util';
import fs, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CrlfToLfConverter } from './crlf.js';
import { eachInSlices, fsyncDirectory, renameDurably, renameHere } from './durable-fs.js';
import {
  defaultInfoSeparator,
  maildirName,
  splitMaildirName,
  type InfoSeparator,
} from './flags.js';
import { ListingDigest } from './listing-digest.js';

export { fsyncDirectory } from './durable-fs.js';

const fdatasync = promisify(fsSync.fdatasync);
const openFile = promisify(fsSync.open);
const writevFile = promisify(fsSync.writev);

type MaildirSubdir = 'cur' | 'new' | 'tmp';

/** Descriptors of written files kept open until their batch is synced. */
const KEEP_OPEN_AT_MOST = 512;

/** Files written and fsynced at once; bounded so a batch never exhausts file descriptors. */
const WRITE_CONCURRENCY = 16;

/** Listings `alsoListed` makes at most while each finds another file a scan missed. */
const CONFIRM_LISTINGS_AT_MOST = 4;

export interface PendingFile {
  base: string;
  letters: string;
  /** The content: one buffer, or pieces written one after another. */
  data: Uint8Array | readonly Uint8Array[];
}

export interface LocalFile {
  subdir: 'cur' | 'new';
  name: string;
  letters: string;
}

/** What `readMessage` found. */
export type MessageRead =
  | { kind: 'message'; data: Buffer; mtime: Date }
  | { kind: 'gone' }
  | { kind: 'not-a-file'; type: string }
  /** A file this user may not read (its permissions): `code` says why. */
  | { kind: 'unreadable'; code: string }
  /** A file larger than one read can hold (`MESSAGE_FILE_MAX_BYTES`): never a message to send. */
  | { kind: 'too-large'; size: number };

/** What Node can read into one buffer (a larger file makes readFile throw). */
export const MESSAGE_FILE_MAX_BYTES = 2 ** 31 - 1;

function entryType(stat: fsSync.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** A rename that fails for this file alone (see `applyChanges`). */
const RENAME_REFUSALS = new Set([
  'ENOENT',
  'ENAMETOOLONG',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'EINVAL',
]);

/** What opening an entry that is no regular file may fail with, by platform and type. */
const NO_FILE_TO_OPEN = new Set(['EISDIR', 'EPERM', 'ENXIO', 'ENODEV', 'EOPNOTSUPP']);

let sequence = 0;

/**
 * The host in a unique name. The Maildir convention writes "/" and ":" as \057 and \072;
 * on Windows a backslash is not allowed either, nor any info separator, so everything but
 * letters, digits, ".", "_" and "-" becomes "_" and its octal code there.
 */
export function maildirHostPart(
  hostname: string,
  platform: NodeJS.Platform = process.platform,
): string {
  if (hostname === '') return 'localhost';
  if (platform === 'win32') return hostname.replace(/[^A-Za-z0-9._-]/g, (c) => `_${octal(c)}`);
  return hostname.replace(/[/:]/g, (c) => `\\${octal(c)}`);
}

function octal(c: string): string {
  return c.charCodeAt(0).toString(8).padStart(3, '0');
}

const hostPart = maildirHostPart(os.hostname());

/**
 * A unique file name per the Maildir convention: time, microseconds, pid and a counter, host,
 * and the size (",S=", which Dovecot trusts) unless the content will change later (partial).
 */
export function uniqueBaseName(size: number | null, now = Date.now(), host = hostPart): string {
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000 + (sequence % 1000);
  sequence += 1;
  return `${seconds}.M${micros}P${process.pid}Q${sequence}.${host}${size === null ? '' : `,S=${size}`}`;
}

export interface MaildirFolderOptions {
  /** The store's info separator (state-recorded); default: the platform's. */
  infoSeparator?: InfoSeparator;
}

export class MaildirFolder {
  readonly infoSeparator: InfoSeparator;
  /**
   * The digest cur/ and new/ must list if no other program changed them: set by a pass that
   * found them as last vouched for (`expectListing`), then moved along with every rename,
   * delivery and removal made through this object. Null when not known.
   */
  private expected: ListingDigest | null = null;
  /** The digest of what the last `scan` read. */
  private scanned: ListingDigest | null = null;
  /**
   * Files of the last `scan` left out of its map because another file had the same base
   * (names without a unique part, "1" in new/ and "1:2,S" in cur/, copied in by hand).
   */
  private shadowed: LocalFile[] = [];
  /** Files written to tmp/ and not yet synced, still open: base → descriptor. */
  private readonly unsynced = new Map<string, number>();
  private readonly subdirs: Readonly<Record<MaildirSubdir, string>>;

  constructor(
    readonly dir: string,
    options: MaildirFolderOptions = {},
  ) {
    this.infoSeparator = options.infoSeparator ?? defaultInfoSeparator();
    this.subdirs = {
      cur: path.join(dir, 'cur'),
      new: path.join(dir, 'new'),
      tmp: path.join(dir, 'tmp'),
    };
  }

  /**
   * A file's path. Names are single components (ours, or read from the directory), so this
   * is path.join without its normalising, which a download paid three times per message.
   */
  private file(subdir: MaildirSubdir, name: string): string {
    return this.subdirs[subdir] + path.sep + name;
  }

  ensure(): void {
    // In place: every pass ensures every folder, and the directories are there nearly always.
    for (const sub of Object.values(this.subdirs)) {
      fsSync.mkdirSync(sub, { recursive: true, mode: 0o700 });
    }
  }

  /** From now on, follow the listing from this digest (see `expected`). */
  expectListing(digest: ListingDigest | null): void {
    this.expected = digest?.copy() ?? null;
  }

  /** The digest the listing has if only this object changed it since `expectListing`. */
  expectedListing(): ListingDigest | null {
    return this.expected?.copy() ?? null;
  }

  /** The digest of what the last `scan` listed, or null before any. */
  lastScannedListing(): ListingDigest | null {
    return this.scanned?.copy() ?? null;
  }

  /** Every message file in cur/ and new/, by unique base name. */
  async scan(): Promise<Map<string, LocalFile>> {
    const files = new Map<string, LocalFile>();
    const shadowed: LocalFile[] = [];
    const digest = ListingDigest.empty();
    for (const [base, file] of this.entries(await this.names())) {
      const other = files.get(base);
      if (other) shadowed.push(other);
      files.set(base, file);
      digest.add(file.subdir, file.name);
    }
    this.scanned = digest;
    this.shadowed = shadowed;
    return files;
  }

  /**
   * Of these bases, which a scan did not find, those that have a file after all. A listing
   * of a directory read in several parts (one of more than a few hundred files) can miss a
   * file another program renames meanwhile (mutt marking a message read): its new name
   * lands where the listing has already been, its old one is gone where it has not. So a
   * missing file is listed again, until a listing finds none of those still missing. Leaves
   * the last scan's digest and shadowed files as they were.
   */
  async alsoListed(bases: ReadonlySet<string>): Promise<Set<string>> {
    const found = new Set<string>();
    for (let listing = 0; listing < CONFIRM_LISTINGS_AT_MOST; listing++) {
      const before = found.size;
      for (const base of (await this.filesOf(bases)).keys()) found.add(base);
      // A listing that finds none of them: no rename crossed it, they are gone.
      if (found.size === before || found.size === bases.size) break;
    }
    return found;
  }

  /** One listing of cur/ and new/: the files of these bases. No digest, nothing shadowed. */
  private async filesOf(bases: ReadonlySet<string>): Promise<Map<string, LocalFile>> {
    const files = new Map<string, LocalFile>();
    for (const [base, file] of this.entries(await this.names()))
      if (bases.has(base)) files.set(base, file);
    return files;
  }

  /** One listing of new/ and cur/ (a missing one lists nothing). */
  private async names(): Promise<Record<'new' | 'cur', string[]>> {
    const list = (dir: string) =>
      fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
    return { new: await list(this.subdirs.new), cur: await list(this.subdirs.cur) };
  }

  /** The message files of a listing, new/ first, each with its base. */
  private *entries(
    names: Record<'new' | 'cur', string[]>,
  ): Generator<[base: string, file: LocalFile]> {
    for (const subdir of ['new', 'cur'] as const) {
      for (const name of names[subdir]) {
        if (name.startsWith('.')) continue; // not a message by the Maildir convention
        const { base, letters } = splitMaildirName(name, this.infoSeparator);
        yield [base, { subdir, name, letters }];
      }
    }
  }

  /**
   * Renames the files of cur/ and new/ whose names are not UTF-8 (written by a program in a
   * Latin-1 locale, say): read as text they cannot be opened again, so they would never be
   * uploaded. Each gets a unique name of ours with the same letters. Returns the old names
   * (Latin-1, for the log) and the new ones.
   */
  async renameUndecodableNames(): Promise<Array<{ from: string; to: string }>> {
    const renamed: Array<{ from: string; to: string }> = [];
    // Windows names are UTF-16, read back as they were written.
    if (process.platform === 'win32') return renamed;
    for (const subdir of ['new', 'cur'] as const) {
      const dir = this.subdirs[subdir];
      let names: Buffer[];
      try {
        names = await fs.readdir(dir, { encoding: 'buffer' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const before = renamed.length;
      for (const raw of names) {
        if (Buffer.from(raw.toString('utf8'), 'utf8').equals(raw)) continue;
        const from = raw.toString('latin1');
        if (from.startsWith('.')) continue; // not a message by the Maildir convention
        const { letters } = splitMaildirName(from, this.infoSeparator);
        const to = maildirName(uniqueBaseName(null), letters, this.infoSeparator);
        const source = Buffer.concat([Buffer.from(dir + path.sep), raw]);
        try {
          await fs.rename(source, this.file(subdir, to));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // moved meanwhile
          throw err;
        }
        renamed.push({ from: `${subdir}/${from}`, to: `${subdir}/${to}` });
      }
      if (renamed.length > before) await fsyncDirectory(dir);
    }
    return renamed;
  }

  /**
   * Gives each file that shared its base with another in the last `scan` a base of its own,
   * in the same directory with the same letters, so that each is a message: otherwise one of
   * them would never be uploaded. The file the state holds under that base (by its size,
   * `heldSize`) keeps it, else the one in `files`. The same file seen twice (moved from new/
   * to cur/ between the two listings) or one gone since is not renamed. Updates `files`;
   * returns the files renamed, by their new base.
   */
  async separateSharedBases(
    files: Map<string, LocalFile>,
    heldSize: (base: string) => number | null,
  ): Promise<Map<string, LocalFile>> {
    const renamed = new Map<string, LocalFile>();
    const groups = new Map<string, LocalFile[]>();
    for (const file of this.shadowed) {
      const base = splitMaildirName(file.name, this.infoSeparator).base;
      const listed = files.get(base);
      if (listed) groups.set(base, [...(groups.get(base) ?? [listed]), file]);
    }
    this.shadowed = [];
    for (const [base, group] of groups) {
      const present: Array<{ file: LocalFile; size: number; inode: string }> = [];
      for (const file of group) {
        const stat = await fs.lstat(this.file(file.subdir, file.name)).catch(() => null);
        if (!stat || present.some((p) => p.inode === `${stat.dev}:${stat.ino}`)) continue;
        present.push({ file, size: stat.size, inode: `${stat.dev}:${stat.ino}` });
      }
      if (present.length === 0) continue;
      const size = heldSize(base);
      const keeper =
        present.find((p) => p.size === size) ??
        present.find((p) => p.file === files.get(base)) ??
        present[0]!;
      files.set(base, keeper.file);
      for (const { file, size: length } of present) {
        if (file === keeper.file) continue;
        const fresh = uniqueBaseName(length);
        const name = maildirName(fresh, file.letters, this.infoSeparator);
        try {
          await renameDurably(this.file(file.subdir, file.name), this.file(file.subdir, name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // moved meanwhile
          throw err;
        }
        await fsyncDirectory(this.subdirs[file.subdir]);
        this.expected?.remove(file.subdir, file.name);
        this.expected?.add(file.subdir, name);
        const moved = { subdir: file.subdir, name, letters: file.letters };
        files.set(fresh, moved);
        renamed.set(fresh, moved);
      }
    }
    return renamed;
  }

  /**
   * A message file's bytes and modification time, read as it is now. Not a message: an entry
   * that is no regular file (a directory someone made in cur/, a FIFO, a socket; a symbolic
   * link counts as what it points to), and one gone since the scan (a mail client moved it
   * from new/ to cur/ meanwhile: the next scan finds it there). Opened without blocking, so a
   * FIFO cannot hold the pass up waiting for a writer.
   */
  async readMessage(file: LocalFile): Promise<MessageRead> {
    let handle: FileHandle;
    try {
      handle = await fs.open(
        this.file(file.subdir, file.name),
        fsConstants.O_RDONLY | fsConstants.O_NONBLOCK,
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT') return { kind: 'gone' };
      if (code === 'ELOOP') return { kind: 'not-a-file', type: 'a symbolic link in a loop' };
      // Windows cannot open a directory as a file; Linux no socket (ENXIO).
      if (NO_FILE_TO_OPEN.has(code)) {
        const stat = await fs.stat(this.file(file.subdir, file.name)).catch(() => null);
        if (stat && !stat.isFile()) return { kind: 'not-a-file', type: entryType(stat) };
      }
      if (code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable', code };
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { kind: 'not-a-file', type: entryType(stat) };
      if (stat.size > MESSAGE_FILE_MAX_BYTES) return { kind: 'too-large', size: stat.size };
      return { kind: 'message', data: await handle.readFile(), mtime: stat.mtime };
    } finally {
      await handle.close();
    }
  }

  /**
   * The files of these messages where this program puts them (cur/, the name its letters
   * give), or null if any is not there: then only a `scan` can tell where it is.
   */
  async locate(
    messages: ReadonlyArray<{ base: string; letters: string }>,
  ): Promise<Map<string, LocalFile> | null> {
    const files = new Map<string, LocalFile>();
    let missing = false;
    await eachInSlices(messages, ({ base, letters }) => {
      if (missing) return;
      const name = maildirName(base, letters, this.infoSeparator);
      if (fsSync.existsSync(this.file('cur', name)))
        files.set(base, { subdir: 'cur', name, letters });
      else missing = true;
    });
    return missing ? null : files;
  }

  /** Writes and fsyncs every file of a batch into tmp/. */
  async writeToTmp(batch: readonly PendingFile[]): Promise<void> {
    try {
      await this.writeEachToTmp(batch);
    } catch (err) {
      // A full disk (ENOSPC) must not stay full of our partial files: the batch is not
      // committed, so nothing refers to them.
      await this.removeFromTmp(batch.map((f) => f.base));
      throw err;
    }
  }

  private async writeEachToTmp(batch: readonly PendingFile[]): Promise<void> {
    await forEachLimited(batch, WRITE_CONCURRENCY, async (file) => {
      const handle = await fs.open(
        this.file('tmp', file.base),
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
        0o600,
      );
      try {
        await writeAll(handle, Array.isArray(file.data) ? file.data : [file.data as Uint8Array]);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
  }

  /**
   * Writes one file into tmp/ without waiting for the disk; `syncTmp` makes a batch of them
   * durable before anything refers to them. A download writes each message as it arrives: only
   * the messages in flight stay in memory, and the kernel writes back while the rest of the
   * batch is still being received.
   */
  async writeTmpUnsynced(file: Pick<PendingFile, 'base' | 'data'>): Promise<void> {
    const pieces = Array.isArray(file.data) ? file.data : [file.data as Uint8Array];
    const fd = await openFile(this.file('tmp', file.base), 'w', 0o600);
    try {
      let rest = pieces.filter((p) => p.length > 0);
      while (rest.length > 0) {
        const { bytesWritten } = await writevFile(fd, rest.slice(0, IOV_MAX));
        rest = afterWritten(rest, bytesWritten);
      }
    } catch (err) {
      fsSync.closeSync(fd);
      throw err;
    }
    // Kept open for `syncTmp`: opening the file again would cost another round trip through
    // the thread pool. Closing happens on this thread, where it takes microseconds.
    if (this.unsynced.size < KEEP_OPEN_AT_MOST) this.unsynced.set(file.base, fd);
    else fsSync.closeSync(fd);
  }

  /** Closes what `writeTmpUnsynced` kept open (a download that ends without syncing). */
  releaseUnsynced(): void {
    for (const fd of this.unsynced.values()) fsSync.closeSync(fd);
    this.unsynced.clear();
  }

  /**
   * A file in tmp/ (named as a partial message) that a body too large to hold in memory is
   * written to as it arrives; renamed to its final name once its size is known.
   */
  openTmpSpill(): TmpSpill {
    return new TmpSpill(this.dir, uniqueBaseName(null));
  }

  /**
   * fdatasyncs files `writeTmpUnsynced` wrote, through a descriptor of its own (a write-back
   * error is reported to the next fsync of the file whichever descriptor asks, Linux 4.16+).
   * If any cannot be made durable (a full disk), the batch's files are removed: nothing
   * refers to them yet.
   */
  async syncTmp(bases: readonly string[]): Promise<void> {
    try {
      await forEachLimited(bases, WRITE_CONCURRENCY, async (base) => {
        const kept = this.unsynced.get(base);
        this.unsynced.delete(base);
        const fd = kept ?? (await openFile(this.file('tmp', base), fsConstants.O_WRONLY, 0));
        try {
          await fdatasync(fd);
        } finally {
          fsSync.closeSync(fd);
        }
      });
    } catch (err) {
      await this.removeFromTmp(bases);
      throw err;
    }
  }

  /** Removes files of a batch that will not be committed (a failed write or sync). */
  async removeFromTmp(bases: readonly string[]): Promise<void> {
    for (const base of bases) {
      const fd = this.unsynced.get(base);
      this.unsynced.delete(base);
      if (fd !== undefined) fsSync.closeSync(fd);
    }
    await Promise.all(
      bases.map((base) => fs.rm(this.file('tmp', base), { force: true }).catch(() => {})),
    );
  }

  /**
   * Streams one message into tmp/<name> converting CRLF → LF on the way (never holding the
   * whole message in memory), fsyncs it, and returns its size on disk.
   */
  async streamToTmp(name: string, source: AsyncIterable<Uint8Array>): Promise<number> {
    const converter = new CrlfToLfConverter();
    const file = this.file('tmp', name);
    const handle = await fs.open(file, 'w', 0o600);
    let size = 0;
    try {
      for await (const chunk of source) {
        const out = converter.push(chunk);
        if (out.length > 0) await handle.write(out);
        size += out.length;
      }
      const rest = converter.end();
      if (rest.length > 0) await handle.write(rest);
      size += rest.length;
      await handle.datasync();
    } catch (err) {
      // Not committed, so nobody refers to it; on a full disk it would only take space.
      await handle.close();
      await fs.rm(file, { force: true }).catch(() => {});
      throw err;
    }
    await handle.close();
    return size;
  }

  /** Gives a file in tmp/ its final name (once its size, part of the name, is known). */
  async renameInTmp(from: string, to: string): Promise<void> {
    await renameDurably(this.file('tmp', from), this.file('tmp', to));
  }

  /** Moves a written batch from tmp/ into cur/ and makes the renames durable. */
  async publish(batch: ReadonlyArray<Pick<PendingFile, 'base' | 'letters'>>): Promise<void> {
    await eachInSlices(batch, (file) => {
      const name = maildirName(file.base, file.letters, this.infoSeparator);
      const renamed = () => void this.expected?.add('cur', name);
      const retrying = renameHere(this.file('tmp', file.base), this.file('cur', name));
      return retrying ? retrying.then(renamed) : renamed();
    });
    if (batch.length > 0) await fsyncDirectory(this.subdirs.cur);
  }

  /**
   * Renames files whose flags changed (into cur/: a file with an info suffix belongs there) and
   * removes files of messages the server expunged; then makes both durable.
   */
  async applyChanges(
    renames: ReadonlyArray<{
      from: { subdir: 'cur' | 'new'; name: string };
      base: string;
      letters: string;
    }>,
    removals: ReadonlyArray<{ subdir: 'cur' | 'new'; name: string }>,
  ): Promise<Array<{ base: string; code: string }>> {
    const touched = new Set<MaildirSubdir>();
    const failed: Array<{ base: string; code: string }> = [];
    await eachInSlices(renames, (change) => {
      const name = maildirName(change.base, change.letters, this.infoSeparator);
      const renamed = () => {
        this.expected?.remove(change.from.subdir, change.from.name);
        this.expected?.add('cur', name);
        touched.add(change.from.subdir).add('cur');
      };
      // One file that cannot take its new name (gone meanwhile, a name too long for more
      // letters, no permission) keeps the old one: the folder's other changes still go.
      const refused = (err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!RENAME_REFUSALS.has(code)) throw err;
        failed.push({ base: change.base, code });
      };
      try {
        const retrying = renameHere(
          this.file(change.from.subdir, change.from.name),
          this.file('cur', name),
        );
        return retrying ? retrying.then(renamed, refused) : renamed();
      } catch (err) {
        refused(err);
      }
    });
    // A file not under the name it was listed by was renamed since (another program changed
    // its flags, or moved it from new/ to cur/): left there, it would be taken for a new
    // message and uploaded again, bringing back what the server deleted or moved away.
    const renamedSince = new Set<string>();
    const remove = (file: { subdir: 'cur' | 'new'; name: string }) => {
      try {
        fsSync.rmSync(this.file(file.subdir, file.name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        return false;
      } finally {
        this.expected?.remove(file.subdir, file.name);
        touched.add(file.subdir);
      }
      return true;
    };
    await eachInSlices(removals, (file) => {
      if (!remove(file)) renamedSince.add(splitMaildirName(file.name, this.infoSeparator).base);
    });
    if (renamedSince.size > 0)
      for (const file of (await this.filesOf(renamedSince)).values()) remove(file);
    for (const subdir of touched) await fsyncDirectory(this.subdirs[subdir]);
    return failed;
  }

  /**
   * Replaces a message file's content in place (its name, flags kept, as it is now): the new
   * bytes are written to tmp/ and fsynced, then renamed over the file, so a reader sees one or
   * the other, never a mix. Returns where the file is, or null if it is gone (nothing written).
   *
   * The file may have been renamed since it was listed (a pass of the folder pulled a flag
   * change while a pane's fetch of the body was under way): renamed over its old name, the
   * new bytes would be a second file of the message, which the next pass would give a name
   * of its own and upload. So the rename goes over the name the file has at that moment:
   * checked and renamed in one turn of the event loop, nothing else in this process can move
   * the file between the two. The bytes wait in tmp/ under a name of this process's own, so
   * that two replacements at once do not write the same file, and one cut short by a crash
   * leaves a file no state row knows, which the next pass sweeps.
   */
  async replaceContent(file: LocalFile, data: Uint8Array): Promise<LocalFile | null> {
    const written = uniqueBaseName(data.length);
    await this.writeToTmp([{ base: written, letters: file.letters, data }]);
    const base = splitMaildirName(file.name, this.infoSeparator).base;
    let at: LocalFile | undefined = file;
    let renamed = false;
    try {
      for (let listing = 0; at && listing <= CONFIRM_LISTINGS_AT_MOST; listing++) {
        if (fsSync.existsSync(this.file(at.subdir, at.name))) {
          await renameHere(this.file('tmp', written), this.file(at.subdir, at.name));
          renamed = true;
          return at;
        }
        at = (await this.filesOf(new Set([base]))).get(base);
      }
      return null;
    } finally {
      if (!renamed) await fs.rm(this.file('tmp', written), { force: true }).catch(() => {});
    }
  }

  /** Finishes a delivery that a crash interrupted after the state was committed. */
  async recoverFromTmp(base: string, letters: string): Promise<boolean> {
    const name = maildirName(base, letters, this.infoSeparator);
    try {
      await renameDurably(this.file('tmp', base), this.file('cur', name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    this.expected?.add('cur', name);
    await fsyncDirectory(this.subdirs.cur);
    return true;
  }

  /** The names in tmp/ (none when it is missing). */
  async tmpNames(): Promise<string[]> {
    return fs.readdir(this.subdirs.tmp).catch(() => [] as string[]);
  }

  /**
   * Removes tmp/ files the state does not know that were left by an earlier run of ours (a
   * batch a crash cut short). Other programs deliver through tmp/ too: their files are left
   * alone unless older than the 36 hours the Maildir convention allows.
   */
  async sweepTmp(isKnown: (base: string) => boolean): Promise<number> {
    const tmp = this.subdirs.tmp;
    let removed = 0;
    for (const name of await fs.readdir(tmp).catch(() => [] as string[])) {
      if (isKnown(name)) continue;
      const ours = OUR_NAME.exec(name);
      const stale = ours
        ? Number(ours[1]) !== process.pid
        : await olderThan(path.join(tmp, name), STALE_TMP_MS);
      if (!stale) continue;
      await fs.rm(path.join(tmp, name), { force: true });
      removed += 1;
    }
    return removed;
  }
}

/** Names uniqueBaseName makes on this host; group 1 is the writer's pid. */
const OUR_NAME = new RegExp(`^\\d+\\.M\\d+P(\\d+)Q\\d+\\.${escapeRegExp(hostPart)}(?:,S=\\d+)?$`);
const STALE_TMP_MS = 36 * 3600 * 1000;

async function olderThan(file: string, ms: number): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => null);
  return stat !== null && Date.now() - stat.mtimeMs > ms;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

/** Writes every piece, in order, with as few system calls as the kernel allows. */
async function writeAll(handle: FileHandle, pieces: readonly Uint8Array[]): Promise<void> {
  let rest = pieces.filter((p) => p.length > 0);
  while (rest.length > 0) {
    // Beyond IOV_MAX (1024 on Linux) writev fails: a body of many pieces goes in runs.
    const { bytesWritten } = await handle.writev(rest.slice(0, IOV_MAX));
    rest = afterWritten(rest, bytesWritten);
  }
}

const IOV_MAX = 1024;

/** What is left to write after `written` bytes of `pieces` (a short write is rare for files). */
function afterWritten(pieces: readonly Uint8Array[], written: number): Uint8Array[] {
  let at = 0;
  while (at < pieces.length && written >= pieces[at]!.length) {
    written -= pieces[at]!.length;
    at += 1;
  }
  if (at === pieces.length) return [];
  return [pieces[at]!.subarray(written), ...pieces.slice(at + 1)];
}

/** See MaildirFolder.openTmpSpill: writes queued pieces in order, one run at a time. */
export class TmpSpill {
  readonly path: string;
  private readonly handle: Promise<FileHandle>;
  private queue: Buffer[] = [];
  private queued = 0;
  private written = 0;
  private error: unknown = null;
  private running: Promise<void> | null = null;
  private waiters: Array<{ bytes: number; resolve: () => void }> = [];

  constructor(
    dir: string,
    /** Its name in tmp/. */
    readonly name: string,
  ) {
    this.path = path.join(dir, 'tmp', name);
    this.handle = fs.open(this.path, 'w', 0o600);
    this.handle.catch(() => undefined); // reported by finish()
  }

  write(bytes: Buffer): void {
    if (this.error) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.running ??= this.drain();
  }

  backlog(): number {
    return this.queued;
  }

  drained(bytes: number): Promise<void> {
    if (this.queued <= bytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  /** Everything written and the file closed: its size. Rejects with the first write error. */
  async finish(): Promise<number> {
    while (this.running) await this.running;
    const handle = await this.handle.catch((err: unknown) => {
      this.error ??= err;
      return null;
    });
    await handle?.close();
    if (this.error) {
      await fs.rm(this.path, { force: true }).catch(() => undefined);
      throw this.error;
    }
    return this.written;
  }

  async discard(): Promise<void> {
    this.error ??= new Error('discarded');
    await this.finish().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    try {
      const handle = await this.handle;
      while (this.queue.length > 0 && !this.error) {
        const run = this.queue.splice(0, 64);
        const bytes = run.reduce((sum, piece) => sum + piece.length, 0);
        await writeAll(handle, run);
        this.queued -= bytes;
        this.written += bytes;
        this.wakeWaiters();
      }
    } catch (err) {
      this.error ??= err;
    } finally {
      if (this.error) {
        this.queue = [];
        this.queued = 0;
      }
      this.running = null;
      this.wakeWaiters();
      if (this.queue.length > 0) this.running = this.drain();
    }
  }

  private wakeWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (this.queued <= waiter.bytes) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }
}
