/**
 * Maildir stores messages with LF line endings; IMAP sends CRLF. We turn every CRLF pair into
 * LF and touch nothing else: a lone CR, a NUL byte or a lone LF stays exactly as the server
 * sent it, so appending the file back (LF → CRLF) reproduces the server's bytes.
 */

const CR = 0x0d;
const LF = 0x0a;

/**
 * Converts a whole buffer; returns the input itself when it has no CRLF.
 *
 * Hot path of every download (a base64 attachment has a line every 78 bytes): a one-byte
 * indexOf is a memchr, and TypedArray.set copies without Buffer.copy's per-call checks. This
 * runs at about twice the speed of searching for the two-byte string "\r\n".
 */
export function crlfToLf(input: Uint8Array): Buffer {
  const n = input.length;
  const src = input;
  let at = src.indexOf(LF);
  while (at >= 0 && (at === 0 || src[at - 1] !== CR)) at = src.indexOf(LF, at + 1);
  if (at < 0) return asBuffer(input);
  const out = Buffer.allocUnsafe(n);
  let written = 0;
  let from = 0;
  while (at >= 0) {
    if (at > 0 && src[at - 1] === CR) {
      out.set(src.subarray(from, at - 1), written); // everything before the CR
      written += at - 1 - from;
      from = at; // drop the CR, keep the LF
    }
    at = src.indexOf(LF, at + 1);
  }
  out.set(src.subarray(from), written);
  written += n - from;
  return out.subarray(0, written);
}

/**
 * The same conversion done inside the given buffer (the result is a view of its start), for
 * bytes nobody else holds: a download's body, which would otherwise be copied once more.
 */
export function crlfToLfInPlace(input: Uint8Array): Buffer {
  const buf = asBuffer(input);
  let at = buf.indexOf(LF);
  while (at >= 0 && (at === 0 || buf[at - 1] !== CR)) at = buf.indexOf(LF, at + 1);
  if (at < 0) return buf;
  let written = at - 1; // the first CR is dropped; everything before it stays where it is
  let from = at;
  at = buf.indexOf(LF, at + 1);
  while (at >= 0) {
    if (buf[at - 1] === CR) {
      buf.copyWithin(written, from, at - 1);
      written += at - 1 - from;
      from = at;
    }
    at = buf.indexOf(LF, at + 1);
  }
  buf.copyWithin(written, from);
  written += buf.length - from;
  return buf.subarray(0, written);
}

function asBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
}

/**
 * The same conversion over a stream of chunks: a CR at the end of one chunk may pair with an
 * LF at the start of the next, so it is held back until the next chunk (or the end) decides.
 */
export class CrlfToLfConverter {
  private pendingCr = false;

  push(chunk: Uint8Array): Buffer {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.pendingCr) {
      this.pendingCr = false;
      buf = buf.length > 0 && buf[0] === LF ? buf : Buffer.concat([Buffer.of(CR), buf]);
    }
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      this.pendingCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    return crlfToLf(buf);
  }

  end(): Buffer {
    const rest = this.pendingCr ? Buffer.of(CR) : Buffer.alloc(0);
    this.pendingCr = false;
    return rest;
  }
}

/**
 * The size these bytes had before `crlfToLf` made them (every LF was a CRLF there): what a
 * server's copy of a stored file measures, though `lfToCrlf` gives back less where the file
 * holds a CR before a line end (stored from a "\r\r\n").
 */
export function sizeBeforeCrlfToLf(data: Uint8Array): number {
  let count = 0;
  for (let at = data.indexOf(LF); at >= 0; at = data.indexOf(LF, at + 1)) count += 1;
  return data.length + count;
}

/** The size `lfToCrlf` gives these bytes, without making them. */
export function sizeAfterLfToCrlf(data: Uint8Array): number {
  let bare = 0;
  for (let at = data.indexOf(LF); at >= 0; at = data.indexOf(LF, at + 1))
    if (at === 0 || data[at - 1] !== CR) bare += 1;
  return data.length + bare;
}

/** The inverse, for APPEND: LF → CRLF where not already preceded by CR. */
export function lfToCrlf(input: Uint8Array): Buffer {
  const src = input;
  let bare = 0;
  for (let at = src.indexOf(LF); at >= 0; at = src.indexOf(LF, at + 1)) {
    if (at === 0 || src[at - 1] !== CR) bare += 1;
  }
  if (bare === 0) return asBuffer(input);
  const out = Buffer.allocUnsafe(src.length + bare);
  let written = 0;
  let from = 0;
  for (let at = src.indexOf(LF); at >= 0; at = src.indexOf(LF, at + 1)) {
    if (at > 0 && src[at - 1] === CR) continue;
    out.set(src.subarray(from, at), written);
    written += at - from;
    out[written++] = CR;
    from = at; // the LF itself is copied with the next run
  }
  out.set(src.subarray(from), written);
  return out;
}

/**
 * The conversion over a body that arrives in slices nobody else holds (a socket's chunks):
 * each slice is converted where it lies, and a CR ending one slice is held back until the
 * next shows whether an LF follows. Returns the pieces to store, in order (zero, one or two).
 */
export class CrlfToLfInSlices {
  private pendingCr = false;

  push(slice: Buffer): Buffer[] {
    if (slice.length === 0) return [];
    const out: Buffer[] = [];
    if (this.pendingCr) {
      this.pendingCr = false;
      // A CRLF across the boundary: the held CR is dropped. Else it was a lone CR: kept.
      if (slice[0] !== LF) out.push(Buffer.of(CR));
    }
    let body = slice;
    if (body[body.length - 1] === CR) {
      this.pendingCr = true;
      body = body.subarray(0, body.length - 1);
    }
    if (body.length > 0) out.push(crlfToLfInPlace(body));
    return out;
  }

  /** What is still held at the end of the body. */
  end(): Buffer[] {
    const rest = this.pendingCr ? [Buffer.of(CR)] : [];
    this.pendingCr = false;
    return rest;
  }
}
