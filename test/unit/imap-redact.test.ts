/**
 * Credentials never survive redactImapLine: LOGIN arguments, AUTHENTICATE initial responses,
 * continuation lines of an authentication exchange, and bearer tokens; everything else stays
 * readable for support.
 */
import assert from 'node:assert/strict';
import {
  ImapRedactor,
  type ImapRedactionState,
  MASK,
  redactImapLine,
} from '../../agent/src/logs/imap-redact.js';

const PASSWORD = 'c0rrect-h0rse';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const PLAIN = b64(`\0tester\0${PASSWORD}`);
const XOAUTH2 = b64(`user=tester\x01auth=Bearer ya29.secret-token\x01\x01`);

/** Feeds a conversation through one state; returns the redacted lines. */
function conversation(lines: Array<['C' | 'S', string]>): string[] {
  let state: ImapRedactionState | undefined;
  return lines.map(([direction, line]) => {
    const result = redactImapLine(direction, line, state);
    state = result.state;
    return result.line;
  });
}

describe('IMAP protocol line redaction', () => {
  it('masks both LOGIN arguments, quoted or atoms, in any case', () => {
    assert.equal(redactImapLine('C', `A1 LOGIN tester "${PASSWORD}"`).line, `A1 LOGIN ${MASK}`);
    assert.equal(redactImapLine('C', `3 login "tester" ${PASSWORD}`).line, `3 LOGIN ${MASK}`);
    assert.equal(redactImapLine('C', `x LoGiN "a\\"b" "p\\\\w"`).line, `x LOGIN ${MASK}`);
  });

  it('masks LOGIN arguments sent as literals, until the server answers the tag', () => {
    const out = conversation([
      ['C', 'A1 LOGIN {6}'],
      ['S', '+ OK'],
      ['C', `tester {${PASSWORD.length}}`],
      ['S', '+ OK'],
      ['C', PASSWORD],
      ['S', 'A1 OK [CAPABILITY IMAP4rev1] Logged in'],
      ['C', 'A2 SELECT INBOX'],
    ]);
    assert.deepEqual(out, [
      `A1 LOGIN ${MASK}`,
      '+ OK',
      MASK,
      '+ OK',
      MASK,
      'A1 OK [CAPABILITY IMAP4rev1] Logged in',
      'A2 SELECT INBOX',
    ]);
  });

  it('masks an AUTHENTICATE initial response but keeps the mechanism', () => {
    assert.equal(
      redactImapLine('C', `A1 AUTHENTICATE PLAIN ${PLAIN}`).line,
      `A1 AUTHENTICATE PLAIN ${MASK}`,
    );
    assert.equal(
      redactImapLine('C', `7 authenticate XOAUTH2 ${XOAUTH2}`).line,
      `7 AUTHENTICATE XOAUTH2 ${MASK}`,
    );
  });

  it('masks every client line after AUTHENTICATE until the tagged answer', () => {
    const out = conversation([
      ['C', 'A1 AUTHENTICATE PLAIN'],
      ['S', '+ '],
      ['C', PLAIN],
      ['S', 'A1 NO [AUTHENTICATIONFAILED] Authentication failed.'],
      ['C', 'A2 AUTHENTICATE OAUTHBEARER'],
      ['S', '+ '],
      ['C', 'not even base64, still secret'],
      ['S', `+ ${b64('{"status":"invalid_token"}')}`],
      ['C', ''],
      ['S', 'A2 NO failed'],
      ['C', 'A3 LOGOUT'],
    ]);
    assert.deepEqual(out, [
      'A1 AUTHENTICATE PLAIN',
      '+ ',
      MASK,
      'A1 NO [AUTHENTICATIONFAILED] Authentication failed.',
      'A2 AUTHENTICATE OAUTHBEARER',
      '+ ',
      MASK,
      `+ ${b64('{"status":"invalid_token"}')}`,
      MASK,
      'A2 NO failed',
      'A3 LOGOUT',
    ]);
  });

  it('masks a bare base64 client line even without knowing the exchange', () => {
    assert.equal(redactImapLine('C', PLAIN).line, MASK);
    assert.equal(redactImapLine('C', XOAUTH2).line, MASK);
    // IDLE's DONE and ordinary commands are not base64 blobs.
    assert.equal(redactImapLine('C', 'DONE').line, 'DONE');
    assert.equal(redactImapLine('C', 'A9 UID FETCH 1:* (FLAGS)').line, 'A9 UID FETCH 1:* (FLAGS)');
  });

  it('masks a bearer token spelled out in either direction', () => {
    const decoded = 'user=tester\x01auth=Bearer ya29.secret-token\x01\x01';
    assert.ok(!redactImapLine('C', `* debug ${decoded}`).line.includes('ya29.secret-token'));
    assert.ok(!redactImapLine('S', `* NO Bearer ya29.secret-token`).line.includes('ya29'));
  });

  it('leaves server lines and ordinary commands alone', () => {
    for (const line of [
      '* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] Dovecot ready.',
      '* 3 FETCH (UID 7 FLAGS (\\Seen))',
      'A4 OK Fetch completed.',
    ]) {
      assert.equal(redactImapLine('S', line).line, line);
    }
    assert.equal(redactImapLine('C', 'A5 LIST "" "*"').line, 'A5 LIST "" "*"');
  });

  it('keeps the exchanges of parallel connections apart', () => {
    const redactor = new ImapRedactor();
    // Both connections use tag "1"; the second one's answer must not end the first's exchange.
    assert.equal(redactor.redact('C', '1 AUTHENTICATE PLAIN', 'a'), '1 AUTHENTICATE PLAIN');
    assert.equal(redactor.redact('C', '1 CAPABILITY', 'b'), '1 CAPABILITY');
    assert.equal(redactor.redact('S', '1 OK done', 'b'), '1 OK done');
    assert.equal(redactor.redact('C', 'password as typed', 'a'), MASK);
    assert.equal(redactor.redact('S', '1 OK Logged in', 'a'), '1 OK Logged in');
    assert.equal(redactor.redact('C', '2 SELECT INBOX', 'a'), '2 SELECT INBOX');
  });
});
