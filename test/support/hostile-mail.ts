/** Real-world mail that breaks naive parsers, for the byte-exact tests. */

const CRLF = '\r\n';

export function message(lines: Array<string | Buffer>): Buffer {
  return Buffer.concat(
    lines.map((l) =>
      Buffer.concat([typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(CRLF)]),
    ),
  );
}

export const HOSTILE: Record<string, Buffer> = {
  '8-bit headers': message([
    Buffer.from('From: Zoë Ärger <zoe@example.org>\r\nSubject: Grüße aus Köln — 東京', 'utf8'),
    '',
    Buffer.from('Körper', 'utf8'),
  ]),
  'no headers at all': message(['', 'just a body, no header block']),
  'missing Date and Message-ID': message(['From: a@example.org', 'Subject: bare', '', 'body']),
  'latin-1 body, wrong charset label': message([
    'Content-Type: text/plain; charset=utf-8',
    '',
    Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff, 0x80]),
  ]),
  '10,000-character line': message(['Subject: long', '', 'x'.repeat(10_000)]),
  'broken MIME': message([
    'Content-Type: multipart/mixed; boundary="never-closed"',
    '',
    '--never-closed',
    'Content-Type: text/plain',
    '',
    'part',
    '--wrong-boundary--',
  ]),
  'invalid base64': message(['Content-Transfer-Encoding: base64', '', '!!!not base64***', '====']),
  'trailing spaces and tabs': message(['Subject: spaces   ', '', 'line with tab\t', '   ']),
  'Latin-1 headers': message([
    Buffer.from('Subject: caf\xe9 \xe0 la cr\xe8me\r\nFrom: J\xfcrgen <j@example.org>', 'latin1'),
    '',
    'body',
  ]),
  'NUL bytes': message(['Subject: nul', '', Buffer.from('before\0after\0\0end', 'latin1')]),
  'bare CRs': message(['Subject: bare\rCR', '', 'one\rtwo', 'three\r\rfour']),
  '150 KB line': message(['Subject: 150 KB line', '', 'w'.repeat(150_000), 'after']),
  '200-deep multipart nesting': message([
    'Subject: nested 200 deep',
    'MIME-Version: 1.0',
    ...Array.from({ length: 200 }, (_, i) => [
      `Content-Type: multipart/mixed; boundary="b${i}"`,
      '',
      `--b${i}`,
    ]).flat(),
    'Content-Type: text/plain',
    '',
    'the innermost part',
    ...Array.from({ length: 200 }, (_, i) => `--b${199 - i}--`),
  ]),
  'duplicate Message-ID, one body': message([
    'Message-ID: <same@example.org>',
    'Subject: first of two',
    '',
    'one',
  ]),
  'duplicate Message-ID, another body': message([
    'Message-ID: <same@example.org>',
    'Subject: second of two',
    '',
    'two',
  ]),
  'bad charset names': message([
    'Subject: =?x-unknown-charset?B?w6k=?= =?utf-8?Q?broken=ZZ?=',
    'Content-Type: text/plain; charset="no-such-charset"',
    '',
    Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
  ]),
  '150 KB line and no final newline': Buffer.concat([
    message(['Subject: 150 KB, no newline', '']),
    Buffer.alloc(150_000, 'z'),
  ]),
  // What a reader of the protocol could take for protocol: a literal marker, a tagged
  // answer and a FETCH inside a body.
  'protocol look-alikes': message([
    'Subject: {5}',
    '',
    'L1 OK UID FETCH completed',
    '* 3 FETCH (UID 3 BODY[] {12}',
    ')',
    'A1 BAD {0}',
    '~{4}',
  ]),
};
