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
  const end = headerBlockEnd(data);
  const head = data.subarray(0, end >= 0 ? end : data.length).toString('latin1');
  const match = FIELD.exec(head);
  return match
    ? match[1]!
        .replace(/\r?\n[ \t]+/g, ' ')
        .replaceAll('\0', '\x80')
        .trim()
    : null;
}

/**
 * Where the header block's closing empty line starts (at the line feed before it), or -1 if
 * there is none: a line ends at a line feed, with or without a CR before it, so the block
 * ends at the first "\n\n" or "\n\r\n", whichever line ends the file mixes ("\n\r\n"
 * is a line ended by LF alone, then an empty one ended by CRLF). Only what precedes the
 * first "\n\n" is searched for the other: a whole message's body is not.
 */
export function headerBlockEnd(data: Buffer): number {
  const lf = data.indexOf('\n\n');
  const crlf = data.subarray(0, lf >= 0 ? lf : data.length).indexOf('\n\r\n');
  return crlf >= 0 ? crlf : lf;
}

const LF = 0x0a;
const CR = 0x0d;
/** At the start or after a LF; its value runs to the line end, with folded lines after it. */
const FIELD = /(?:^|\n)message-id:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i;
