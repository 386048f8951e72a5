/** Message-IDs read from raw message bytes, for matching copies and for lookups. */

/**
 * The Message-ID header's value (unfolded, trimmed), from a header block or a whole message,
 * read the way an IMAP server reads it, so that a file and the server's copy of it agree: the
 * header block ends at the first empty line (a message that starts with one has none, and
 * one without any is all header), and a field starts only after a line feed (a lone CR is
 * part of its line). A NUL reads as 0x80, the way Dovecot serves it (IMAP cannot send one):
 * a file that kept the NUL it was uploaded with has the Message-ID of the server's copy.
 */
export function messageIdOf(data: Buffer | undefined): string | null {
  if (!data) return null;
  if (data[0] === LF || (data[0] === CR && data[1] === LF)) return null;
  const lf = data.indexOf('\n\n');
  // Only before the first "\n\n": a whole message's body is not searched.
  const crlf = data.subarray(0, lf >= 0 ? lf : data.length).indexOf('\r\n\r\n');
  const end = crlf >= 0 ? crlf : lf;
  const head = data.subarray(0, end >= 0 ? end : data.length).toString('latin1');
  const match = FIELD.exec(head);
  return match
    ? match[1]!
        .replace(/\r?\n[ \t]+/g, ' ')
        .replaceAll('\0', '\x80')
        .trim()
    : null;
}

const LF = 0x0a;
const CR = 0x0d;
/** At the start or after a LF; its value runs to the line end, with folded lines after it. */
const FIELD = /(?:^|\n)message-id:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i;
