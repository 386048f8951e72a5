/** Message-IDs read from raw message bytes, for matching copies and for lookups. */

/** The Message-ID header's value (unfolded, trimmed), from a header block or a whole message. */
export function messageIdOf(data: Buffer | undefined): string | null {
  if (!data) return null;
  const end = data.indexOf('\n\n') >= 0 ? data.indexOf('\n\n') : data.indexOf('\r\n\r\n');
  const head = data.subarray(0, end >= 0 ? end : Math.min(data.length, 65536)).toString('latin1');
  const match = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(head);
  return match ? match[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}
