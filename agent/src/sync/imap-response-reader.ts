/**
 * Frames the bytes an IMAP server sends into whole responses, the way imapflow's ImapStream
 * does, with one difference that makes bulk downloads cheap: the literal holding a message
 * body (`BODY[]`, `BINARY[]`, `RFC822` of an untagged FETCH) is not gathered into one buffer
 * but handed on slice by slice as the socket delivers it. A 2 MB attachment then costs no
 * copy, no large allocation and no garbage beyond the socket's own chunks.
 *
 * Synchronous and free of I/O: fed chunks, it calls its sink; the caller owns the socket.
 */

const LF = 0x0a;

/** Longest line (of a response, between literals) a server may send us. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Largest literal other than a body (a header field fetched alone, a keyword as a string). */
export const MAX_SMALL_LITERAL_BYTES = 16 * 1024 * 1024;

/** The literal marker at the end of a line: `{12}`, `{12+}` or, for BINARY, `~{12}`. */
const LITERAL_AT_END = /(~?)\{(\d{1,15})\+?\}\r?\n$/;
/**
 * A body item right before the marker. Only these are streamed; any other literal of the
 * response (rare in what we ask for) is gathered as imapflow would.
 */
const BODY_BEFORE_MARKER = /(?:^|[ (])(?:BODY\[\]|BINARY\[\]|RFC822)(?:<\d+>)? ~?\{\d+\+?\}\r?\n$/i;
const UNTAGGED_FETCH = /^\* \d+ FETCH /i;

export interface ResponseSink {
  /** A body literal of `size` bytes starts; its bytes follow through `bodyChunk`. */
  bodyStart(size: number): void;
  /** The next bytes of the body, in order; a view of the socket's chunk. */
  bodyChunk(bytes: Buffer): void;
  /**
   * A whole response: its text with every literal's marker, final CRLF removed, and the
   * literals in order. A streamed body's place among them holds an empty buffer.
   */
  response(text: Buffer, literals: Buffer[], hasBody: boolean): void;
}

export class ImapProtocolError extends Error {
  override readonly name = 'ImapProtocolError';
  /** imapflow's code for the same kind of failure: the engine classifies them alike. */
  readonly code = 'ParserError';
}

export class ImapResponseReader {
  private mode: 'line' | 'literal' | 'body' = 'line';
  /** Pieces of the line being read (it may span socket chunks). */
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  /** The response so far: its lines, each with its own terminator. */
  private textParts: Buffer[] = [];
  private textBytes = 0;
  private literals: Buffer[] = [];
  private literalParts: Buffer[] = [];
  private hasBody = false;
  /** Bytes still due of the literal being read. */
  private waiting = 0;

  constructor(private readonly sink: ResponseSink) {}

  /** Feeds the next bytes from the server. Throws ImapProtocolError on what no server sends. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.mode === 'line') {
        const lf = chunk.indexOf(LF, at);
        if (lf < 0) {
          this.addToLine(chunk.subarray(at));
          return;
        }
        this.addToLine(chunk.subarray(at, lf + 1));
        at = lf + 1;
        this.lineEnded();
        continue;
      }
      const take = Math.min(this.waiting, chunk.length - at);
      const part = chunk.subarray(at, at + take);
      at += take;
      this.waiting -= take;
      if (this.mode === 'body') {
        if (part.length > 0) this.sink.bodyChunk(part);
      } else {
        this.literalParts.push(part);
      }
      if (this.waiting === 0) this.literalEnded();
    }
  }

  private addToLine(part: Buffer): void {
    this.lineBytes += part.length;
    if (this.lineBytes > MAX_LINE_BYTES) {
      throw new ImapProtocolError(`The server sent a line longer than ${MAX_LINE_BYTES} bytes`);
    }
    this.lineParts.push(part);
  }

  private lineEnded(): void {
    const line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts);
    this.lineParts = [];
    this.lineBytes = 0;
    this.textParts.push(line);
    this.textBytes += line.length;
    if (this.textBytes > MAX_SMALL_LITERAL_BYTES) {
      throw new ImapProtocolError(
        'The server sent a response too large to be anything we asked for',
      );
    }
    // Only the tail of a line can hold a marker: decode just that much.
    const tail = line.subarray(Math.max(0, line.length - 64)).toString('latin1');
    const marker = LITERAL_AT_END.exec(tail);
    if (!marker) return this.responseEnded();
    const size = Number(marker[2]);
    const first = this.textParts[0]!.subarray(0, 32).toString('latin1');
    if (UNTAGGED_FETCH.test(first) && BODY_BEFORE_MARKER.test(tail)) {
      this.mode = 'body';
      this.hasBody = true;
      this.literals.push(Buffer.alloc(0));
      this.sink.bodyStart(size);
    } else {
      if (size > MAX_SMALL_LITERAL_BYTES) {
        throw new ImapProtocolError(
          `The server sent a literal of ${size} bytes where none was due`,
        );
      }
      this.mode = 'literal';
    }
    this.waiting = size;
    if (size === 0) this.literalEnded();
  }

  private literalEnded(): void {
    if (this.mode === 'literal') {
      const literal =
        this.literalParts.length === 1 ? this.literalParts[0]! : Buffer.concat(this.literalParts);
      this.literalParts = [];
      this.literals.push(literal);
      // Many small literals are as large as one: the whole response stays bounded.
      this.textBytes += literal.length;
      if (this.textBytes > MAX_SMALL_LITERAL_BYTES) {
        throw new ImapProtocolError(
          'The server sent a response too large to be anything we asked for',
        );
      }
    }
    // After a literal the response goes on with the rest of its line.
    this.mode = 'line';
  }

  private responseEnded(): void {
    let text = this.textParts.length === 1 ? this.textParts[0]! : Buffer.concat(this.textParts);
    let end = text.length - 1; // the LF
    if (end > 0 && text[end - 1] === 0x0d) end -= 1;
    text = text.subarray(0, end);
    const literals = this.literals;
    const hasBody = this.hasBody;
    this.textParts = [];
    this.textBytes = 0;
    this.literals = [];
    this.hasBody = false;
    // A blank line between responses (some servers send one) is no response.
    if (text.length > 0 || literals.length > 0) this.sink.response(text, literals, hasBody);
  }
}
