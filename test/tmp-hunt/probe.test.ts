import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
describe('probe dovecot', function () {
  let d: TestDovecot;
  before(async () => { d = await startTestDovecot(); });
  after(async () => d?.cleanup());
  it('shows stored bytes', async () => {
    const cases: Record<string, string> = {
      crBeforeCrlf: 'Subject: a\r\n\r\nx\r\r\ny\r\n',
      twoCrBeforeCrlf: 'Subject: a\r\n\r\nx\r\r\r\ny\r\n',
      loneCrHeader: 'Subject: a\rb\r\nX: y\r\n\r\nbody\r\n',
      loneLf: 'Subject: a\nX: y\n\nbody\nmore',
      noFinal: 'Subject: a\r\n\r\nbody',
      endCr: 'Subject: a\r\n\r\nbody\r',
      onlyCrlf: '\r\n',
      headerOnly: 'Subject: a\r\nX: b\r\n',
      headerOnlyNoEol: 'Subject: a\r\nX: b',
      emptyBody: 'Subject: a\r\n\r\n',
      crLfLf: 'Subject: a\r\n\r\nx\r\n\ny\r\n',
      loneCrMidHeaderMsgid: 'X-A: 1\rMessage-ID: <fake@x>\r\nMessage-ID: <real@x>\r\n\r\nb\r\n',
    };
    for (const [name, raw] of Object.entries(cases)) {
      try {
        await d.appendMessages([{ folder: 'INBOX', raw: Buffer.from(raw, 'latin1'), flags: [], internalDate: new Date() }]);
      } catch (e) { console.log(name, 'APPEND failed', (e as Error).message); }
    }
    const list = await d.listMessages('INBOX');
    for (const m of list) console.log(m.uid, JSON.stringify(m.raw.toString('latin1')));
    const c = await d.client();
    await c.mailboxOpen('INBOX');
    for await (const m of c.fetch('1:*', { uid: true, size: true, headers: ['message-id'] , headers2: true } as never, { uid: true })) console.log(m.uid, m.size, JSON.stringify(m.headers?.toString('latin1')));
    for await (const m of c.fetch('1:*', { uid: true, headers: true }, { uid: true })) console.log('HDR', m.uid, JSON.stringify(m.headers?.toString('latin1')));
    await c.logout();
  });
});
