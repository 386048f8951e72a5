import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ImapProtocolError,
  ImapResponseReader,
  MAX_LINE_BYTES,
  MAX_SMALL_LITERAL_BYTES,
} from '../../agent/src/sync/imap-response-reader.js';

interface Seen {
  responses: Array<{ text: string; literals: string[]; hasBody: boolean }>;
  bodies: Array<{ size: number; bytes: Buffer }>;
}

/** Feeds `wire` cut at the given offsets and records what the reader hands on. */
function read(wire: Buffer, cuts: number[] = []): Seen {
  const seen: Seen = { responses: [], bodies: [] };
  const parts: Buffer[] = [];
  const reader = new ImapResponseReader({
    bodyStart: (size) => {
      parts.length = 0;
      seen.bodies.push({ size, bytes: Buffer.alloc(0) });
    },
    bodyChunk: (bytes) => {
      // Copied: the test must see what the slice held when it was handed on.
      parts.push(Buffer.from(bytes));
      seen.bodies.at(-1)!.bytes = Buffer.concat(parts);
    },
    response: (text, literals, hasBody) =>
      seen.responses.push({
        text: text.toString('latin1'),
        literals: literals.map((l) => l.toString('latin1')),
        hasBody,
      }),
  });
  const bounds = [
    0,
    ...[...new Set(cuts)].filter((c) => c > 0 && c < wire.length).sort((a, b) => a - b),
    wire.length,
  ];
  for (let i = 0; i + 1 < bounds.length; i++) reader.push(wire.subarray(bounds[i], bounds[i + 1]));
  return seen;
}

// A body that looks like protocol: a literal marker, a tagged line and a FETCH inside it.
const trickyBody = 'Subject: {5}\r\n\r\nL1 OK done\r\n* 2 FETCH (BODY[] {3}\r\n)\r\nend\r';
const wire = Buffer.from(
  '* 1 FETCH (UID 7 FLAGS (\\Seen $Label1) INTERNALDATE "01-Jan-2024 10:00:00 +0000" ' +
    `BODY[] {${Buffer.byteLength(trickyBody)}}\r\n${trickyBody})\r\n` +
    '* 3 EXISTS\r\n' +
    '* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {10}\r\nSubject:\r\n BODY[] {0}\r\n UID 9)\r\n' +
    'L1 OK Fetch completed\r\n',
);

describe('IMAP response reader', () => {
  it('streams the body of a FETCH and frames every response around it', () => {
    const seen = read(wire);
    assert.deepEqual(
      seen.bodies.map((b) => [b.size, b.bytes.toString('latin1')]),
      [
        [Buffer.byteLength(trickyBody), trickyBody],
        [0, ''],
      ],
    );
    assert.deepEqual(
      seen.responses.map((r) => [r.text.slice(0, 12), r.literals, r.hasBody]),
      [
        ['* 1 FETCH (U', [''], true],
        ['* 3 EXISTS', [], false],
        // The header literal is gathered; the empty body's place holds an empty buffer.
        ['* 2 FETCH (B', ['Subject:\r\n', ''], true],
        ['L1 OK Fetch ', [], false],
      ],
    );
    assert.ok(seen.responses[0]!.text.endsWith(`{${Buffer.byteLength(trickyBody)}}\r\n)`));
  });

  it('hands on the same, whatever the socket chunks are', () => {
    const whole = read(wire);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: wire.length }), { maxLength: 12 }), (cuts) => {
        const seen = read(wire, cuts);
        assert.deepEqual(seen.responses, whole.responses);
        assert.deepEqual(
          seen.bodies.map((b) => b.bytes.toString('latin1')),
          whole.bodies.map((b) => b.bytes.toString('latin1')),
        );
      }),
      { numRuns: 1000 },
    );
    // Every single cut, including between CR and LF of a marker line.
    for (let cut = 1; cut < wire.length; cut++) {
      assert.deepEqual(read(wire, [cut]).responses, whole.responses, `cut at ${cut}`);
    }
  });

  it('streams BINARY literal8 and RFC822 bodies too, but no literal outside a FETCH', () => {
    const seen = read(
      Buffer.from(
        '* 4 FETCH (UID 4 BINARY[] ~{3}\r\na\0b)\r\n' +
          '* 5 FETCH (RFC822 {2}\r\nhi UID 5)\r\n' +
          '* OK [ALERT] BODY[] {2}\r\nno)\r\n',
      ),
    );
    assert.deepEqual(
      seen.bodies.map((b) => b.bytes.toString('latin1')),
      ['a\0b', 'hi'],
    );
    assert.deepEqual(
      seen.responses.map((r) => [r.hasBody, r.literals]),
      [
        [true, ['']],
        [true, ['']],
        [false, ['no']],
      ],
    );
  });

  it('refuses an endless line and an oversized literal where no body is due', () => {
    const endless = new ImapResponseReader({
      bodyStart: () => {},
      bodyChunk: () => {},
      response: () => {},
    });
    const line = Buffer.alloc(64 * 1024, 0x61);
    assert.throws(() => {
      for (let sent = 0; sent <= MAX_LINE_BYTES; sent += line.length) endless.push(line);
    }, ImapProtocolError);
    assert.throws(
      () => read(Buffer.from(`* OK {${MAX_SMALL_LITERAL_BYTES + 1}}\r\n`)),
      ImapProtocolError,
    );
    // A body literal of any size is fine: it is streamed, never held.
    const big = read(Buffer.from(`* 1 FETCH (BODY[] {${MAX_SMALL_LITERAL_BYTES + 1}}\r\nabc`));
    assert.equal(big.bodies[0]!.size, MAX_SMALL_LITERAL_BYTES + 1);
    assert.equal(big.bodies[0]!.bytes.toString(), 'abc');
  });
});
