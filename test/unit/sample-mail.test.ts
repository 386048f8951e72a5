import assert from 'node:assert/strict';
import { generateMailbox, generateMessage } from '../../agent/src/demo/sample-mail.js';

const headersOf = (raw: Buffer) => {
  const text = raw.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
};

describe('sample mail', () => {
  it('is deterministic for a seed and different across seeds', () => {
    assert.deepEqual(generateMessage(42), generateMessage(42));
    assert.notDeepEqual(generateMessage(42), generateMessage(43));
    // Large seeds (generateMailbox uses seed * 1,000,003 + i) stay distinct too.
    assert.notDeepEqual(generateMessage(5_000_015), generateMessage(5_000_019));
    const again = generateMailbox({ count: 30, folders: ['INBOX', 'Sent'], seed: 8 });
    assert.deepEqual(generateMailbox({ count: 30, folders: ['INBOX', 'Sent'], seed: 8 }), again);
  });

  it('ends every line in CRLF, with the headers real mail has', () => {
    for (let seed = 0; seed < 50; seed++) {
      const raw = generateMessage(seed, { maxAttachmentBytes: 60_000 });
      const text = raw.toString('latin1');
      assert.ok(!/(^|[^\r])\n/.test(text), `seed ${seed}: bare LF`);
      assert.ok(!/\r(?!\n)/.test(text), `seed ${seed}: bare CR`);
      assert.ok(!text.includes('=0D'), `seed ${seed}: CR leaked into quoted-printable`);
      assert.ok(
        text.split('\r\n').every((l) => l.length <= 998),
        `seed ${seed}: line over 998 octets`,
      );
      const headers = headersOf(raw);
      for (const name of [
        'From',
        'To',
        'Subject',
        'Date',
        'Message-ID',
        'MIME-Version',
        'Content-Type',
      ]) {
        assert.match(headers, new RegExp(`^${name}: `, 'm'), `seed ${seed}: ${name}`);
      }
    }
  });

  it('threads, encodes words, mixes body types', () => {
    const all = Array.from({ length: 200 }, (_, seed) => generateMessage(seed).toString('latin1'));
    const share = (re: RegExp) => all.filter((t) => re.test(t)).length / all.length;
    assert.ok(share(/^In-Reply-To: <.+>\r\nReferences: <.+>/m) > 0.5, 'replies');
    assert.ok(share(/^Subject: =\?UTF-8\?B\?/m) > 0.05, 'RFC 2047 subjects');
    assert.ok(
      share(/^Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit/m) > 0.2,
    );
    assert.ok(share(/^Content-Transfer-Encoding: quoted-printable/m) > 0.2);
    assert.ok(share(/^Content-Type: multipart\/alternative/m) > 0.2);
    assert.ok(share(/^Content-Type: multipart\/mixed/m) > 0.02);
  });

  it('has a realistic size mix: mostly 2–20 KB, a few with attachments', () => {
    const mailbox = generateMailbox({ count: 400, folders: ['INBOX', 'Archive'], seed: 3 });
    const sizes = mailbox.map((m) => m.raw.length);
    const small = sizes.filter((s) => s >= 2048 && s <= 20_480).length;
    const attachments = mailbox.filter((m) =>
      m.raw.includes('Content-Disposition: attachment'),
    ).length;
    assert.ok(small / sizes.length > 0.7, `2–20 KB share ${small / sizes.length}`);
    assert.ok(attachments > 10 && attachments < 60, `attachments ${attachments}`);
    // 300 KB of attachment is ~410 KB in base64.
    assert.ok(Math.max(...sizes) < 450_000, 'small mailboxes keep attachments under 300 KB');
    assert.deepEqual(new Set(mailbox.map((m) => m.folder)), new Set(['INBOX', 'Archive']));
    assert.ok(
      mailbox.some((m) => /[\x80-\xff]/.test(m.raw.toString('latin1'))),
      '8-bit bodies',
    );
    const flagSets = new Set(mailbox.map((m) => m.flags.join(' ')));
    for (const flag of ['\\Seen', '\\Flagged', '\\Answered', '\\Draft']) {
      assert.ok(
        [...flagSets].some((f) => f.includes(flag)),
        flag,
      );
    }
    assert.ok(flagSets.has(''), 'some unflagged');
  });

  it('honours size classes and the attachment cap', () => {
    assert.ok(generateMessage(1, { sizeClass: 'tiny' }).length < 1024);
    const big = generateMessage(1, { sizeClass: 'attachment', maxAttachmentBytes: 100_000 });
    assert.ok(big.length > 50 * 1024 * 1.3 && big.length < 100_000 * 1.4 + 40_000);
    assert.ok(!generateMessage(1, { sizeClass: 'small' }).includes('multipart/mixed'));
  });

  it('dates mail in the past, in order, a little before it arrived', () => {
    const mailbox = generateMailbox({ count: 50, folders: ['INBOX'], seed: 12 });
    let previous = 0;
    for (const m of mailbox) {
      const arrived = m.internalDate.getTime();
      assert.ok(arrived > previous && arrived < Date.now(), 'ascending, in the past');
      assert.equal(arrived % 1000, 0, 'whole seconds, as INTERNALDATE');
      const sent = Date.parse(/^Date: (.+)$/m.exec(headersOf(m.raw))![1]!);
      assert.ok(sent < arrived && arrived - sent < 600_000, `sent ${sent}, arrived ${arrived}`);
      previous = arrived;
    }
    for (const seed of [0, 7, 5_000_015, 2026 * 1_000_003]) {
      const year = new Date(
        Date.parse(/^Date: (.+)$/m.exec(headersOf(generateMessage(seed)))![1]!),
      ).getUTCFullYear();
      assert.ok(year >= 2022 && year <= 2025, `seed ${seed}: year ${year}`);
    }
  });
});
