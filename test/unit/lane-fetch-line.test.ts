import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLaneFetch, readLaneFetch } from '../../agent/src/sync/lane-fetch-line.js';

/** A response as the lane's reader hands it on: the body literal's place holds an empty buffer. */
function received(text: string): { text: Buffer; literals: Buffer[] } {
  const literals = [...text.matchAll(/\{\d+\+?\}\r?\n/g)].map(() => Buffer.alloc(0));
  return { text: Buffer.from(text, 'latin1'), literals };
}

const flag = fc.constantFrom(
  '\\Seen',
  '\\Answered',
  '\\Flagged',
  '\\Deleted',
  '\\Draft',
  '\\Recent',
  '$Forwarded',
  '$MDNSent',
  '$label1',
  'Junk',
  'NonJunk',
  'a.b-c_d',
  "it's",
  'x+y=z',
  'tag^x`',
  'brace}',
  '~pipe|',
);
const date = fc.constantFrom(
  '03-Dec-2026 08:00:00 +0000',
  ' 1-Jan-2024 23:59:59 -0800',
  '29-Feb-2024 12:30:45 +0530',
  '31-Dec-1999 00:00:00 +1400',
);
const item = fc.oneof(
  fc.integer({ min: 1, max: 4294967295 }).map((uid) => `UID ${uid}`),
  fc.uniqueArray(flag, { maxLength: 5 }).map((flags) => `FLAGS (${flags.join(' ')})`),
  date.map((d) => `INTERNALDATE "${d}"`),
  fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map((m) => `MODSEQ (${m})`),
  fc
    .tuple(fc.constantFrom('BODY[]', 'BINARY[]', 'RFC822'), fc.nat(50_000_000), fc.boolean())
    .map(([name, size, crlf]) => `${name} {${size}}${crlf ? '\r\n' : '\n'}`),
  fc.constant('BODY[] NIL'),
);
/** Items of distinct kinds, in any order, as a server may send them. */
const response = fc
  .tuple(
    fc.nat(100_000),
    fc.uniqueArray(item, { minLength: 1, maxLength: 5, selector: (i) => i.split(/[ {]/)[0] }),
  )
  .filter(([, items]) => items.filter((i) => /^(BODY|BINARY|RFC822)/.test(i)).length <= 1)
  // After a body's marker the response goes on with a space, on the line after the body.
  .map(([seq, items]) => `* ${seq + 1} FETCH (${items.join(' ')})`);

describe('the lane reads its usual FETCH response without a parse tree', () => {
  it('reads every ordering of the items exactly as imapflow does', async () => {
    await fc.assert(
      fc.asyncProperty(response, async (text) => {
        const { text: bytes, literals } = received(text);
        const quick = readLaneFetch(bytes);
        assert.notEqual(quick, null, `not read: ${JSON.stringify(text)}`);
        assert.deepEqual(quick, await parseLaneFetch(bytes, literals));
      }),
      { numRuns: 500 },
    );
  });

  it('reads the response Dovecot sends for a body', () => {
    const text =
      '* 7 FETCH (UID 42 FLAGS (\\Seen $Forwarded) INTERNALDATE "03-Dec-2026 08:00:00 +0000" MODSEQ (12) BODY[] {2345}\r\n)';
    assert.deepEqual(readLaneFetch(received(text).text), {
      uid: 42,
      flags: ['\\Seen', '$Forwarded'],
      internalDate: Date.UTC(2026, 11, 3, 8),
      bodyNil: false,
    });
  });

  it('leaves any other shape to imapflow, which still reads it', async () => {
    const others = [
      // a quoted flag, a flag outside ASCII, a literal where no body is
      '* 1 FETCH (UID 5 FLAGS ("\\\\Seen") BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 FLAGS (caf\xe9) BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 INTERNALDATE {26}\r\n BODY[] {3}\r\n)',
      // items the lane does not ask for, a partial body, lower case, a doubled item
      '* 1 FETCH (UID 5 RFC822.SIZE 3 BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 BODY[]<0> {3}\r\n)',
      '* 1 FETCH (uid 5 body[] {3}\r\n)',
      '* 1 FETCH (UID 5 UID 6 BODY[] {3}\r\n)',
      // extra spaces, a missing or extra parenthesis, trailing bytes
      '* 1 FETCH (UID 5  BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 FLAGS (\\Seen ) BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 BODY[] {3}\r\n',
      '* 1 FETCH (UID 5 BODY[] {3}\r\n))',
      '* 1 FETCH (UID 5 BODY[] {3}\r\n) x',
      // an empty item list, not a FETCH, a tagged line
      '* 1 FETCH ()',
      '* 3 EXISTS',
      'A1 FETCH (UID 5 BODY[] {3}\r\n)',
    ];
    for (const text of others) {
      assert.equal(readLaneFetch(received(text).text), null, JSON.stringify(text));
    }
    const { text, literals } = received(others[0]!);
    assert.deepEqual(await parseLaneFetch(text, literals), {
      uid: 5,
      flags: ['\\Seen'],
      internalDate: null,
      bodyNil: false,
    });
  });

  it('takes UID 0 and dates it cannot read as absent, as imapflow does', async () => {
    for (const text of [
      '* 1 FETCH (UID 0 BODY[] {3}\r\n)',
      '* 1 FETCH (UID 5 INTERNALDATE "not a date" BODY[] {3}\r\n)',
    ]) {
      const { text: bytes, literals } = received(text);
      const quick = readLaneFetch(bytes);
      assert.notEqual(quick, null);
      assert.deepEqual(quick, await parseLaneFetch(bytes, literals));
    }
  });
});
