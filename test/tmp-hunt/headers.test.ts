import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { renumber, sorted, serverBytes, localBytes, syncStats } from './harness.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const CASES: Record<string, Buffer[]> = {
  'lone CR header': [b('Message-ID: <lch@x>\r\nSubject: a\rb\r\n\r\nbody\r\n')],
  'header only': [b('Message-ID: <ho@x>\r\nSubject: a\r\n')],
  'header only no EOL': [b('Message-ID: <hone@x>\r\nSubject: a')],
  'empty body': [b('Message-ID: <eb@x>\r\nSubject: a\r\n\r\n')],
  'only CRLF': [b('\r\n')],
  'no final EOL': [b('Message-ID: <nfe@x>\r\nSubject: a\r\n\r\nbody')],
  'no Message-ID x2': many(2, (i) => `Subject: n${i}\r\n\r\nbody\r\n`).map(b),
  'byte-identical pair': [b('Message-ID: <twin@x>\r\n\r\nsame\r\n'), b('Message-ID: <twin@x>\r\n\r\nsame\r\n')],
  'dup Message-ID, different bodies': many(3, (i) => `Message-ID: <dup@x>\r\nSubject: s\r\n\r\nbody ${i}\r\n`).map(b),
  'CR CR LF in header': [b('Message-ID: <crcrh@x>\r\nSubject: a\r\r\r\n\r\nbody\r\n')],
  '3000 headers': [b(many(3000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <hh@x>\r\n\r\nbody\r\n')],
  'normal': [b('Message-ID: <n@x>\r\nSubject: n\r\n\r\nbody\r\n')],
};

async function headerBlocks(f: SyncFixture) {
  const c = await f.dovecot.client();
  await c.mailboxOpen('INBOX', { readOnly: true });
  const out: Buffer[] = [];
  for await (const m of c.fetch('1:*', { uid: true, headers: true }, { uid: true })) out.push(m.headers!);
  await c.logout();
  return out;
}

const only = process.env.CASE;
const MODE = process.env.MODE ?? 'fetch';
for (const [name, raws] of Object.entries(CASES)) {
  if (only && !name.includes(only)) continue;
  describe(`headers-only case: ${name} (${MODE})`, function () {
    let f: SyncFixture;
    const problems: string[] = [];
    after(async () => {
      console.log(`### ${name} [${MODE}]: ${problems.length ? problems.join('\n   ') : 'OK'}`);
      await f?.cleanup();
    });
    it('runs', async () => {
      f = await startSyncFixture({
        mail: raws.map((raw) => ({ folder: 'INBOX', raw, flags: ['\\Seen'], internalDate: new Date(Date.UTC(2024, 0, 1)) })),
      });
      const n = raws.length;
      const counts = async (step: string) => {
        const s = await serverBytes(f);
        const l = await localBytes(f);
        if (s.length !== n) problems.push(`${step}: server has ${s.length}, expected ${n}`);
        if (l.length !== n) problems.push(`${step}: local has ${l.length}, expected ${n}`);
      };
      const headersMirror = async (step: string) => {
        const want = sorted((await headerBlocks(f)).map((x) => crlfToLf(x)));
        const got = sorted(await localBytes(f));
        if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`${step}: local != header blocks ${JSON.stringify(got).slice(0, 300)} vs ${JSON.stringify(want).slice(0, 300)}`);
      };
      const fullMirror = async (step: string) => {
        const want = sorted((await serverBytes(f)).map((x) => crlfToLf(x)));
        const got = sorted(await localBytes(f));
        if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`${step}: local != full server ${JSON.stringify(got).slice(0, 300)} vs ${JSON.stringify(want).slice(0, 300)}`);
      };
      const st = async (step: string, h: boolean, zero: boolean) => {
        const s = await syncStats(f, h);
        if (s.result !== 'ok' || s.errors.length) problems.push(`${step}: ${s.result} ${s.errors.join(';')}`);
        if (zero && (s.downloaded || s.uploaded)) problems.push(`${step}: downloaded ${s.downloaded} uploaded ${s.uploaded}`);
        return s;
      };
      await st('h1', true, false);
      await counts('h1'); await headersMirror('h1');
      await st('h2', true, true);
      await counts('h2'); await headersMirror('h2');
      if (MODE === 'fetch') {
        const uid = (await f.dovecot.listMessages('INBOX'))[0]!.uid;
        const r = await f.engine().fetchMessage('a', 'INBOX', uid);
        if (!r.fetched) problems.push('fetchMessage: not fetched');
        const files = await readMaildirFolder(f.folderDir('INBOX'));
        const server0 = crlfToLf((await serverBytes(f))[0]!);
        if (!files.some((m) => m.data.equals(server0))) problems.push('fetchMessage: no file with full bytes');
        await counts('after fetch');
        await st('full', false, false);
        await counts('full'); await fullMirror('full');
        await st('full2', false, true);
        await counts('full2'); await fullMirror('full2');
      } else if (MODE === 'lose') {
        await f.discardState();
        await st('h after state loss', true, true);
        await counts('h after state loss');
        await st('full after state loss', false, false);
        await counts('full after state loss'); await fullMirror('full after state loss');
        await st('full2', false, true);
        await counts('full2');
      } else if (MODE === 'renumber') {
        await renumber(f);
        await st('h after renumber', true, true);
        await counts('h after renumber'); await headersMirror('h after renumber');
        await st('full after renumber', false, false);
        await counts('full after renumber'); await fullMirror('full after renumber');
        await st('full2', false, true);
        await counts('full2');
      }
    });
  });
}
