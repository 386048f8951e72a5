/**
 * A connection turned into a lane for bulk downloads. imapflow logs in and selects the
 * folder; then `unbind()` hands us its socket and we speak `UID FETCH … BODY.PEEK[]` on it
 * ourselves, reading with ImapResponseReader: each body goes from the socket's chunks to its
 * file without being gathered, copied or parsed (imapflow would concatenate every literal
 * and parse each response as a whole; over an initial sync that was most of our CPU time,
 * BENCHMARKS.md). The usual FETCH response around a body is read by lane-fetch-line.ts; any
 * other response is parsed by imapflow's own parser.
 *
 * The lane serves FETCH commands one after another and is then logged out: the session it
 * came from cannot be used again (syncFolder opens a new one for the rest of the pass).
 */
import type { Readable } from 'node:stream';
import type { ImapFlow } from 'imapflow';
import { SERVER_SILENCE_MS } from './errors.js';
import { CrlfToLfInSlices } from './maildir/crlf.js';
import { ImapResponseReader } from './imap-response-reader.js';
import { parseLaneFetch, readLaneFetch } from './lane-fetch-line.js';
import type { ImapProtocolLog } from './imap-session.js';

/** Received messages waiting for the consumer; beyond it the socket is not read. */
const QUEUE_HIGH_BYTES = 4 * 1024 * 1024;
const QUEUE_LOW_BYTES = 1024 * 1024;
/** Bytes of a spilled body on their way to disk; beyond it the socket is not read. */
const SPILL_BACKLOG_BYTES = 4 * 1024 * 1024;
/** How long a LOGOUT may take before the connection is simply closed. */
const LOGOUT_WAIT_MS = 2000;
/** The head of a body kept for reading its Message-ID. */
const HEAD_BYTES = 64 * 1024;

/** Where a body too large to hold in memory goes while it arrives. */
export interface BodySpill {
  /** Its name in the folder's tmp/. */
  readonly name: string;
  /** Queues bytes (already with LF line ends) to be written in order. */
  write(bytes: Buffer): void;
  /** Bytes handed to `write` and not yet written. */
  backlog(): number;
  /** Resolves once the backlog is at most `bytes`. */
  drained(bytes: number): Promise<void>;
  /** Everything written (not fsynced): the size stored. Rejects with the first write error. */
  finish(): Promise<number>;
  /** Removes what was written: the message is not stored. */
  discard(): Promise<void>;
}

export type LaneBody =
  | { kind: 'memory'; pieces: Buffer[]; size: number }
  | { kind: 'spill'; spill: BodySpill; head: Buffer };

export interface LaneMessage {
  /** Undefined when the server left it out (then the message cannot be stored). */
  uid: number | undefined;
  flags: string[];
  internalDate: number | null;
  /** Size of the body on the wire (CRLF line ends). */
  wireBytes: number;
  /** With LF line ends; null when the server sent none (`BODY[] NIL`). */
  body: LaneBody | null;
}

export interface BodyLaneOptions {
  /** Bodies larger than this are spilled to `openSpill()` as they arrive. */
  spillAbove: number;
  openSpill(): BodySpill;
  protocolLog?: ImapProtocolLog;
}

interface Received {
  text: Buffer;
  literals: Buffer[];
  body: LaneBody | null;
  wireBytes: number;
}

interface Tagged {
  tag: string;
  status: string;
  text: string;
}

let lanes = 0;

export class BodyLane {
  private readonly read: Readable;
  private readonly write: NodeJS.WritableStream;
  private readonly socket: { destroy(): void; setTimeout?: (ms: number, cb?: () => void) => void };
  private readonly reader: ImapResponseReader;
  private readonly id = `lane${++lanes}`;
  private queue: Received[] = [];
  private queuedBytes = 0;
  private tagged: Tagged | null = null;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private busy = false;
  private tags = 0;
  private paused = new Set<'queue' | 'spill'>();
  /** The body being received. */
  private body: {
    crlf: CrlfToLfInSlices;
    target: LaneBody;
    wireBytes: number;
    headBytes: number;
  } | null = null;

  /**
   * Takes over the connection of `client`, which must have the folder selected and no
   * command running. `client` is unusable afterwards.
   */
  constructor(
    private readonly client: ImapFlow,
    private readonly options: BodyLaneOptions,
  ) {
    const { readSocket, writeSocket, socket } = client.unbind();
    this.read = readSocket;
    this.write = writeSocket;
    this.socket = socket as unknown as BodyLane['socket'];
    this.reader = new ImapResponseReader({
      bodyStart: (size) => this.bodyStart(size),
      bodyChunk: (bytes) => this.bodyChunk(bytes),
      response: (text, literals, hasBody) => this.response(text, literals, hasBody),
    });
    this.read.on('data', (chunk: Buffer) => {
      if (this.failure) return;
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    const gone = (err?: Error) =>
      this.fail(
        Object.assign(
          new Error(`Connection to the server closed${err ? `: ${err.message}` : ''}`),
          {
            code: (err as NodeJS.ErrnoException | undefined)?.code ?? 'NoConnection',
          },
        ),
      );
    this.read.on('error', gone);
    this.read.on('end', () => gone());
    this.read.on('close', () => gone());
    // unpipe() left the socket paused.
    this.read.resume();
    // A server that sends nothing for this long during a FETCH is taken as gone (as imapflow).
    this.socket.setTimeout?.(SERVER_SILENCE_MS, () =>
      this.fail(Object.assign(new Error('The server stopped answering'), { code: 'ETIMEOUT' })),
    );
  }

  /**
   * `UID FETCH <uids> (UID FLAGS INTERNALDATE BODY.PEEK[])`, message by message as they
   * arrive. Leaving the loop early (a cancel) closes the lane: the rest of the answer is
   * still on its way and the connection cannot be used again.
   */
  async *fetchBodies(uids: string, signal: AbortSignal): AsyncGenerator<LaneMessage> {
    if (this.busy) throw new Error('The lane is serving another FETCH');
    this.busy = true;
    const tag = `L${++this.tags}`;
    let complete = false;
    const onAbort = () => this.notify();
    signal.addEventListener('abort', onAbort);
    try {
      this.send(`${tag} UID FETCH ${uids} (UID FLAGS INTERNALDATE BODY.PEEK[])`);
      for (;;) {
        if (signal.aborted) return;
        const item = this.queue.shift();
        if (!item) {
          // The answer is complete even if the connection closed right after it.
          if (this.tagged?.tag === tag) {
            const { status, text } = this.tagged;
            this.tagged = null;
            complete = true;
            if (status === 'OK') return;
            throw Object.assign(new Error(`Server said ${status}: ${text}`), {
              responseStatus: status,
              responseText: text,
              serverResponseCode: /^\[([A-Z0-9-]+)/i.exec(text)?.[1]?.toUpperCase(),
            });
          }
          if (this.failure) throw this.failure;
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        this.queuedBytes -= item.body?.kind === 'memory' ? item.body.size : 0;
        if (this.queuedBytes <= QUEUE_LOW_BYTES) this.resume('queue');
        const message = await this.toMessage(item);
        if (message) yield message;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.busy = false;
      if (!complete) {
        // Left in the middle of an answer: what was received and not taken is dropped.
        await Promise.all(
          this.queue.map((item) =>
            item.body?.kind === 'spill' ? item.body.spill.discard() : null,
          ),
        );
        if (this.body?.target.kind === 'spill') await this.body.target.spill.discard();
        this.queue = [];
        this.close();
      }
    }
  }

  /** LOGOUT (its answer briefly waited for), then the connection is closed. */
  async logout(): Promise<void> {
    if (!this.failure && !this.busy) {
      try {
        this.send(`L${++this.tags} LOGOUT`);
        const deadline = Date.now() + LOGOUT_WAIT_MS;
        while (!this.failure && !this.tagged && Date.now() < deadline) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            setTimeout(resolve, 50).unref();
          });
        }
      } catch {
        // Closed anyway.
      }
    }
    this.close();
  }

  /** Closes the connection at once. */
  close(): void {
    this.failure ??= Object.assign(new Error('The download connection was closed'), {
      code: 'NoConnection',
    });
    this.socket.destroy();
    this.client.close();
    this.notify();
  }

  private send(line: string): void {
    this.options.protocolLog?.('C', line, { connection: this.id });
    this.write.write(`${line}\r\n`);
  }

  private bodyStart(size: number): void {
    const target: LaneBody =
      size > this.options.spillAbove
        ? { kind: 'spill', spill: this.options.openSpill(), head: Buffer.alloc(0) }
        : { kind: 'memory', pieces: [], size: 0 };
    this.body = { crlf: new CrlfToLfInSlices(), target, wireBytes: size, headBytes: 0 };
  }

  private bodyChunk(bytes: Buffer): void {
    const body = this.body!;
    for (const piece of body.crlf.push(bytes)) this.store(piece);
  }

  private store(piece: Buffer): void {
    const body = this.body!;
    const { target } = body;
    if (target.kind === 'memory') {
      target.pieces.push(piece);
      target.size += piece.length;
      return;
    }
    if (body.headBytes < HEAD_BYTES) {
      const part = piece.subarray(0, HEAD_BYTES - body.headBytes);
      target.head = Buffer.concat([target.head, part]);
      body.headBytes += part.length;
    }
    target.spill.write(piece);
    if (target.spill.backlog() > SPILL_BACKLOG_BYTES && !this.paused.has('spill')) {
      this.pause('spill');
      void target.spill.drained(SPILL_BACKLOG_BYTES / 4).then(() => this.resume('spill'));
    }
  }

  private response(text: Buffer, literals: Buffer[], hasBody: boolean): void {
    let body: LaneBody | null = null;
    let wireBytes = 0;
    if (hasBody && this.body) {
      for (const piece of this.body.crlf.end()) this.store(piece);
      body = this.body.target;
      wireBytes = this.body.wireBytes;
      this.body = null;
    }
    if (this.options.protocolLog) {
      this.options.protocolLog('S', text.toString('utf8'), { connection: this.id });
    }
    if (text[0] !== 0x2a /* '*' */ && text[0] !== 0x2b /* '+' */) {
      const line = text.toString('utf8');
      const space = line.indexOf(' ');
      const rest = line.slice(space + 1);
      const status = /^(OK|NO|BAD)\b ?/i.exec(rest);
      this.tagged = {
        tag: line.slice(0, space),
        status: status ? status[1]!.toUpperCase() : 'BAD',
        text: status ? rest.slice(status[0].length) : rest,
      };
      this.notify();
      return;
    }
    this.queue.push({ text, literals, body, wireBytes });
    if (body?.kind === 'memory') this.queuedBytes += body.size;
    if (this.queuedBytes > QUEUE_HIGH_BYTES) this.pause('queue');
    this.notify();
  }

  /** One untagged response as a message, or null when it is none of ours. */
  private async toMessage(item: Received): Promise<LaneMessage | null> {
    // An answer that does not parse (a literal longer or shorter than announced leaves the
    // bytes after it out of place) is none of ours either: the download finds its message
    // missing and says so.
    const items =
      readLaneFetch(item.text) ??
      (await parseLaneFetch(item.text, item.literals).catch(() => null));
    if (!items || !item.body) {
      // A flag change another client made, EXISTS, EXPUNGE: the pass's next steps see them.
      if (item.body?.kind === 'spill') await item.body.spill.discard();
      return null;
    }
    return {
      uid: items.uid,
      flags: items.flags,
      internalDate: items.internalDate,
      wireBytes: item.wireBytes,
      body: items.bodyNil ? null : item.body,
    };
  }

  private pause(reason: 'queue' | 'spill'): void {
    if (this.paused.size === 0) this.read.pause();
    this.paused.add(reason);
  }

  private resume(reason: 'queue' | 'spill'): void {
    if (!this.paused.delete(reason) || this.paused.size > 0 || this.failure) return;
    this.read.resume();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

/** The first bytes of a body held in pieces, enough to read its header block. */
export function headOf(pieces: readonly Buffer[]): Buffer {
  const first = pieces[0] ?? Buffer.alloc(0);
  if (pieces.length === 1 || first.indexOf('\n\n') >= 0 || first.length >= HEAD_BYTES) return first;
  const head: Buffer[] = [];
  let bytes = 0;
  for (const piece of pieces) {
    head.push(piece);
    bytes += piece.length;
    if (bytes >= HEAD_BYTES) break;
  }
  return Buffer.concat(head, Math.min(bytes, HEAD_BYTES));
}
