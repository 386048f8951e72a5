/**
 * Maildir stores messages with LF line endings; IMAP sends CRLF. We turn every CRLF pair into
 * LF and touch nothing else: a lone CR, a NUL byte or a lone LF stays exactly as the server
 * sent it, so appending the file back (LF → CRLF) reproduces the server's bytes.
 */

const CR = 0x0d;
const LF = 0x0a;

/** Converts a whole buffer; returns the input itself when it has no CRLF. */
export function crlfToLf(input: Uint8Array): Buffer {
  const buf = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.length);
  let at = buf.indexOf('\r\n');
  if (at < 0) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  let written = 0;
  let from = 0;
  while (at >= 0) {
    written += buf.copy(out, written, from, at); // everything before the CR
    from = at + 1; // drop the CR, keep the LF
    at = buf.indexOf('\r\n', from + 1);
  }
  written += buf.copy(out, written, from);
  return out.subarray(0, written);
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

/** The inverse, for APPEND: LF → CRLF where not already preceded by CR. */
export function lfToCrlf(input: Uint8Array): Buffer {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.length);
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === LF && (i === 0 || buf[i - 1] !== CR)) {
      parts.push(buf.subarray(from, i), Buffer.of(CR));
      from = i;
    }
  }
  if (parts.length === 0) return buf;
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}
