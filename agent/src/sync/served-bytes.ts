/**
 * Bytes a server may store or serve otherwise than a client sent them. IMAP has no way to
 * send a NUL in a FETCH literal: Dovecot serves 0x80 for it (and keeps the NUL on disk when
 * it came in a BINARY literal8). It also drops a CR that ends no line. Matching a message
 * sent against the server's copy must allow for both.
 */
import { createHash } from 'node:crypto';

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
/** What Dovecot serves for a NUL. */
const SERVED_FOR_NUL = 0x80;

/** The bytes as a FETCH of them would serve them: every NUL as 0x80. */
export function asServed(data: Buffer): Buffer {
  if (!data.includes(NUL)) return data;
  const served = Buffer.from(data);
  for (let at = served.indexOf(NUL); at >= 0; at = served.indexOf(NUL, at + 1))
    served[at] = SERVED_FOR_NUL;
  return served;
}

/**
 * Whether a server may store other bytes than these: a NUL (RFC 3501 forbids it in a
 * message; Dovecot serves 0x80) or a CR that ends no line (Dovecot drops one before CRLF and
 * one at the end).
 */
export function mayBeAltered(wire: Uint8Array): boolean {
  if (wire.includes(NUL)) return true;
  for (let at = wire.indexOf(CR); at >= 0; at = wire.indexOf(CR, at + 1))
    if (wire[at + 1] !== LF) return true;
  return false;
}

/** How many bytes of these a server may drop or change: its CRs and NULs. */
export function alterableBytes(wire: Uint8Array): number {
  let count = 0;
  for (const byte of wire) if (byte === CR || byte === NUL) count += 1;
  return count;
}

/** The digest of a message without the bytes servers alter: CRs, NULs, and the 0x80 of a NUL. */
export function looseDigest(data: Uint8Array): string {
  const hash = createHash('sha256');
  let from = 0;
  for (let at = 0; at < data.length; at++) {
    const byte = data[at];
    if (byte !== CR && byte !== NUL && byte !== SERVED_FOR_NUL) continue;
    if (at > from) hash.update(data.subarray(from, at));
    from = at + 1;
  }
  hash.update(data.subarray(from));
  return hash.digest('hex');
}
