/**
 * The agent's log: pino JSON lines in <dataDir>/logs/agent.N.log, rotated by size and count
 * (the files opened by pino-roll). Secrets are redacted by field name, and IMAP protocol lines
 * by content (logs/imap-redact.ts), as second lines of defence; the first is that no code
 * passes a secret to the logger.
 *
 * pino-roll runs in this thread, not as a pino transport: a transport lives in a worker
 * thread whose file stream writes asynchronously, so a short command (`sync --once`) could
 * end before its last lines reached the disk, and the worker's batched writes make the size
 * check coarse (one batch can overshoot the limit many times over). Here each line is written
 * synchronously (a few lines per folder: cheap), so nothing is lost at exit, even on
 * process.exit() or a crash, and rotation happens right after the write that reaches the limit.
 */
import pino from 'pino';
import pinoRoll, { type RollingStream } from 'pino-roll';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ImapRedactor } from './logs/imap-redact.js';
import { listLogFiles, LOG_BASENAME, LOG_EXTENSION, logDirectory } from './logs/log-files.js';
import type { ImapProtocolLog } from './sync/imap-session.js';
import type { SyncLogger } from './sync/logger.js';

export const REDACTED_FIELDS = [
  'password',
  'pass',
  'accessToken',
  'token',
  'authorization',
  '*.password',
  '*.pass',
  '*.accessToken',
  '*.token',
  '*.authorization',
];

export interface LogSettings {
  level: string;
  /** Size at which the current file is rotated, in MiB (fractions allowed). */
  maxSizeMB: number;
  /** Files kept, the one being written included. */
  maxFiles: number;
  /** Log every IMAP command and response (credentials redacted), at debug level. */
  imapProtocol: boolean;
  /** The admin policy set the level: STORESYNC_LOG_LEVEL does not change it. */
  levelLocked?: boolean;
}

export const DEFAULT_LOG_SETTINGS: Readonly<LogSettings> = Object.freeze({
  level: 'info',
  maxSizeMB: 10,
  maxFiles: 5,
  imapProtocol: false,
});

export interface AgentLogger extends SyncLogger {
  /** Everything logged so far is on disk once the file is open (writes are synchronous). */
  flush(): void;
  /** Waits for the file to open, writes what was logged before that, and closes it. */
  close(): Promise<void>;
  /** The sink for EngineOptions.protocolLog when settings.imapProtocol is on. */
  readonly imapProtocolLog: ImapProtocolLog | undefined;
}

/**
 * The level in force: STORESYNC_LOG_LEVEL wins over the config, so support can ask for it,
 * unless an admin policy locked the level (then the policy's level holds).
 */
export function effectiveLevel(configured: string | undefined, locked = false): string {
  const fromEnv = process.env.STORESYNC_LOG_LEVEL;
  if (!locked && fromEnv && isLevel(fromEnv)) return fromEnv;
  return configured && isLevel(configured) ? configured : DEFAULT_LOG_SETTINGS.level;
}

function isLevel(name: string): boolean {
  return name === 'silent' || name in pino.levels.values;
}

export function createFileLogger(
  dataDir: string,
  settings: Partial<LogSettings> = {},
): AgentLogger {
  const { maxSizeMB, maxFiles, imapProtocol } = { ...DEFAULT_LOG_SETTINGS, ...settings };
  const level = effectiveLevel(settings.level, settings.levelLocked === true);
  const file = new RollingFile(logDirectory(dataDir), maxSizeMB, maxFiles);
  const logger = pino(
    { level, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, base: { pid: process.pid } },
    file,
  );
  return Object.assign(logger as unknown as SyncLogger, {
    flush: () => file.flushSync(),
    close: () => file.close(),
    imapProtocolLog: imapProtocol && level !== 'silent' ? imapProtocolSink(logger) : undefined,
  });
}

/**
 * Writes IMAP lines at debug level whatever the configured level (turning the protocol log on
 * is the request for them), each with its sync run's ids and credentials masked.
 */
export function imapProtocolSink(logger: pino.Logger): ImapProtocolLog {
  const redactor = new ImapRedactor();
  const out = logger.child({}, { level: 'debug' });
  return (direction, line, context) => {
    const safe = redactor.redact(direction, line, context?.connection);
    out.debug(
      {
        syncId: context?.syncId,
        accountId: context?.accountId,
        imap: direction,
        cid: context?.connection,
      },
      `${direction}: ${safe}`,
    );
  };
}

/** Lines logged before the file opened that are kept (the open takes a millisecond or two). */
const MAX_EARLY_LINES = 10_000;

/**
 * pino's destination: pino-roll's stream once it is open. Opening is asynchronous (pino-roll
 * looks for the newest numbered file first) while creating a logger is not, so the few lines
 * logged before then wait here.
 *
 * pino-roll finds and opens the newest file; rotation by size is done here, after the write
 * that reaches the limit (pino-roll's own check counts the lines written while a rotation is
 * pending towards the next file, which can then be cut after one line). Old files are removed
 * here rather than by pino-roll's `limit`: its removals run concurrently, and when two
 * rotations come close together both try to delete the same file, the second retrying for
 * five seconds. Here removals run one after the other.
 */
class RollingFile {
  private stream: RollingStream | null = null;
  /** Bytes in the file being written. */
  private size = 0;
  private readonly maxBytes: number;
  private early: string[] = [];
  private closed = false;
  private warned = false;
  /** Removal of old files after the latest rotation, chained after the previous ones. */
  private retention: Promise<void> = Promise.resolve();
  private readonly ready: Promise<void>;

  constructor(
    private readonly dir: string,
    maxSizeMB: number,
    private readonly maxFiles: number,
  ) {
    this.maxBytes = Math.max(1, Math.floor(maxSizeMB * 1024 * 1024));
    // The user's only: logs name folders, addresses and (at debug) the IMAP conversation.
    this.ready = Promise.resolve()
      .then(() => mkdirSync(dir, { recursive: true, mode: 0o700 }))
      .then(() =>
        pinoRoll({
          file: path.join(dir, LOG_BASENAME),
          extension: `.${LOG_EXTENSION}`,
          mkdir: true,
          sync: true,
          // Handed on to sonic-boom, which opens the file with it (pino-roll's types omit it).
          ...{ mode: 0o600 },
        } as Parameters<typeof pinoRoll>[0]),
      )
      .then(
        (stream) => {
          // Short commands append to the newest file: it counts from its size so far. (Read
          // at once: lines still waiting here must reach the file even if the process exits.)
          this.size = statSync(stream.file, { throwIfNoEntry: false })?.size ?? 0;
          let file = stream.file;
          // A file an earlier version made with the umask's mode.
          keepPrivate(file);
          // A rotation reopens the stream on the next file.
          stream.on('ready', () => {
            if (stream.file === file) return;
            file = stream.file;
            keepPrivate(file);
            this.retention = this.retention.then(() => this.removeOldFiles());
          });
          stream.on('error', (err) => this.warn(err));
          this.stream = stream;
          for (const line of this.early) this.write(line);
          this.early = [];
          // Files left by earlier processes count too (short commands append to the newest).
          this.retention = this.removeOldFiles();
        },
        (err: Error) => this.fail(err),
      );
  }

  write(line: string): void {
    if (this.closed) return;
    if (!this.stream) {
      if (this.early.length < MAX_EARLY_LINES) this.early.push(line);
      return;
    }
    try {
      this.stream.write(line);
      this.size += Buffer.byteLength(line);
      if (this.size >= this.maxBytes) this.rotate(this.stream);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** Goes on in the next numbered file (agent.N.log → agent.N+1.log). */
  private rotate(stream: RollingStream): void {
    const number = Number(/\.(\d+)\.[^.]+$/.exec(stream.file)?.[1] ?? 0);
    stream.flushSync();
    stream.reopen(path.join(this.dir, `${LOG_BASENAME}.${number + 1}.${LOG_EXTENSION}`));
    this.size = 0;
  }

  flushSync(): void {
    try {
      this.stream?.flushSync();
    } catch {
      // Nothing pending in synchronous mode; a stream still opening has nothing to flush.
    }
  }

  /** Everything written, rotations and removals of old files done, file closed. */
  async close(): Promise<void> {
    await this.ready;
    if (this.closed) return;
    // A rotation due from the last lines runs on the next tick: let it happen first.
    await new Promise((resolve) => setImmediate(resolve));
    await this.retention;
    this.closed = true;
    this.flushSync();
    this.stream?.end();
  }

  /** Keeps the newest maxFiles files, the one being written included. */
  private async removeOldFiles(): Promise<void> {
    try {
      const files = await listLogFiles(this.dir);
      for (const old of files.slice(0, Math.max(0, files.length - this.maxFiles))) {
        await fs.rm(old.path, { force: true });
      }
    } catch (err) {
      this.warn(err as Error);
    }
  }

  private warn(err: Error): void {
    if (this.warned) return;
    this.warned = true;
    process.stderr.write(`storesync: trouble writing the log: ${err.message}\n`);
  }

  /** A log that cannot be written must not stop a sync: say so once and go on without it. */
  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.early = [];
    process.stderr.write(`storesync: cannot write the log (${err.message}); continuing without\n`);
  }
}

function keepPrivate(file: string): void {
  try {
    chmodSync(file, 0o600);
  } catch {
    // Not ours to change (another user's file): the log still works.
  }
}
