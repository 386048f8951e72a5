import assert from 'node:assert/strict';
import { generateMailbox, generateMessage } from '../../agent/src/demo/sample-mail.js';

describe('sample mail', () => {
  it('is deterministic for a seed and different across seeds', () => {
    assert.deepEqual(generateMessage(42), generateMessage(42));
    assert.notDeepEqual(generateMessage(42), generateMessage(43));
  });

  it('ends every line in CRLF, with the headers real mail has', () => {
    for (let seed = 0; seed < 50; seed++) {
      const text = generateMessage(seed, { maxAttachmentBytes: 60_000 }).toString('latin1');
      assert.ok(!/(^|[^\r])\n/.test(text), `seed ${seed}: bare LF`);
      assert.ok(!text.includes('\r\r'), `seed ${seed}: doubled CR`);
      const headers = text.slice(0, text.indexOf('\r\n\r\n'));
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

  it('has a realistic size mix: mostly 2–20 KB, a few with attachments', () => {
    const mailbox = generateMailbox({ count: 400, folders: ['INBOX', 'Archive'], seed: 3 });
    const sizes = mailbox.map((m) => m.raw.length);
    const small = sizes.filter((s) => s >= 1000 && s <= 20_000).length;
    const attachments = mailbox.filter((m) =>
      m.raw.includes('Content-Disposition: attachment'),
    ).length;
    assert.ok(small / sizes.length > 0.75, `small share ${small / sizes.length}`);
    assert.ok(attachments > 10 && attachments < 60, `attachments ${attachments}`);
    assert.ok(Math.max(...sizes) < 450_000, 'small mailboxes keep attachments under 300 KB');
    assert.deepEqual(new Set(mailbox.map((m) => m.folder)), new Set(['INBOX', 'Archive']));
    assert.ok(
      mailbox.some((m) => m.raw.includes('In-Reply-To: ')),
      'threads',
    );
    assert.ok(
      mailbox.some((m) => /[\x80-\xff]/.test(m.raw.toString('latin1'))),
      '8-bit bodies',
    );
  });
});
