import fs from 'node:fs/promises';
import path from 'node:path';
import { message } from '../support/hostile-mail.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { maildirName } from '../../agent/src/sync/maildir/flags.js';
import { renumber, sorted, serverBytes, localBytes, syncStats } from './harness.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const CASES: Record<string, Buffer[]> = {
  'lone CR body': [b('Message-ID: <lcb@x>\r\nSubject: a\r\n\r\none\rtwo\r\n')],
  'lone CR header': [b('Message-ID: <lch@x>\r\nSubject: a\rb\r\n\r\nbody\r\n')],
  'CR before CRLF': [b('Message-ID: <cbc@x>\r\nSubject: a\r\r\n\r\nbody\r\r\n')],
  'no final EOL': [b('Message-ID: <nfe@x>\r\nSubject: a\r\n\r\nbody')],
  'ends with lone CR after CRCR': [b('Message-ID: <ecr@x>\r\n\r\nbody\r\r')],
  'long line 2MB': [Buffer.concat([b('Message-ID: <ll@x>\r\n\r\n'), Buffer.alloc(2_000_000, 'x'), b('\r\n')])],
  'header only': [b('Message-ID: <ho@x>\r\nSubject: a\r\n')],
  'header only no EOL': [b('Message-ID: <hone@x>\r\nSubject: a')],
  'empty body': [b('Message-ID: <eb@x>\r\nSubject: a\r\n\r\n')],
  'only CRLF': [b('\r\n')],
  'invalid utf8 headers': [message([Buffer.from([0x53,0x75,0x62,0x6a,0x65,0x63,0x74,0x3a,0x20,0xc3,0x28,0xff,0xfe]), Buffer.from('Message-ID: <\xe9t\xe9@x>', 'latin1'), '', 'b'])],
  'no Message-ID x3 same size': many(3, (i) => `Subject: n${i}\r\n\r\nbody\r\n`).map(b),
  'byte-identical pair': [b('Message-ID: <twin@x>\r\n\r\nsame\r\n'), b('Message-ID: <twin@x>\r\n\r\nsame\r\n')],
  'identical pair no id': [b('Subject: twin\r\n\r\nsame\r\n'), b('Subject: twin\r\n\r\nsame\r\n')],
  'dup Message-ID many': many(6, (i) => `Message-ID: <dup@x>\r\nSubject: ${i % 2 ? 'aa' : 'b'}\r\n\r\nbody ${i % 3}\r\n`).map(b),
  '3000 headers': [b(many(3000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <hh@x>\r\n\r\nbody\r\n')],
  '3000 headers, no blank line': [b(many(3000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <hhn@x>\r\n')],
  'fake Message-ID after lone CR': [b('X-A: 1\rMessage-ID: <fake@x>\r\nMessage-ID: <real@x>\r\n\r\nb\r\n')],
  'no headers, Message-ID in body': [b('\r\nbody\r\nMessage-ID: <inbody@x>\r\n\r\nmore\r\n')],
  'CR CR LF': [b('Message-ID: <crcr@x>\r\n\r\nline\r\r\r\nend\r\n')],
  '6000 headers, no blank line': [b(many(6000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <hhn6@x>\r\n')],
  '6000 headers, blank line': [b(many(6000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <hh6@x>\r\n\r\nb\r\n')],
  '5MB line no EOL': [Buffer.concat([b('Message-ID: <ll5@x>\r\n\r\n'), Buffer.alloc(5_000_000, 'y')])],
  '30MB': [Buffer.concat([b('Message-ID: <big@x>\r\nSubject: big\r\n\r\n'), ...many(30 * 1024 * 1024 / 78, (i) => String(i).padStart(76, 'Q') + (i % 1000 === 7 ? '\r' : '') + '\r\n').map(b), b('tail\r')])],
  'lane mix': [
    b('Message-ID: <l1@x>\r\n\r\none\rtwo\r\n'), b('Message-ID: <l2@x>\r\n\r\nbody'), b('\r\n'), b('Message-ID: <l3@x>\r\nSubject: a\r\n'),
    b('Message-ID: <l4@x>\r\n\r\nline\r\r\r\nend\r\n'),
    Buffer.concat([b('Message-ID: <l5@x>\r\n\r\n'), Buffer.alloc(3_000_000, 'x'), b('\r')]),
    Buffer.concat([b('Message-ID: <l6@x>\r\n\r\n'), Buffer.alloc(9_000_000, 'z'), b('\r\r\r\nq\r')]),
    b(many(6000, (i) => `X-H${i}: v${i}\r\n`).join('') + 'Message-ID: <l7@x>\r\n\r\nb\r\n'),
    b('Message-ID: <l8@x>\r\n\r\n* 3 FETCH (UID 3 BODY[] {12}\r\nL1 OK done\r\n'),
    ...many(70, (i) => `Message-ID: <fill${i}@x>\r\nSubject: filler ${i}\r\n\r\n${'w'.repeat(i * 37)}\r\n`).map(b),
  ],
};

async function snapshot(f: SyncFixture) {
  const files = await readMaildirFolder(f.folderDir('INBOX'));
  return files.map((m) => `${m.subdir}/${m.name}:${m.data.toString('latin1')}`).sort().join('|');
}

const only = process.env.CASE;
for (const [name, raws] of Object.entries(CASES)) {
  if (only && !name.includes(only)) continue;
  describe(`case: ${name}`, function () {
    let f: SyncFixture;
    const problems: string[] = [];
    after(async () => {
      console.log(`### ${name}: ${problems.length ? problems.join('\n   ') : 'OK'}`);
      await f?.cleanup();
    });
    it('runs the battery', async () => {
      f = await startSyncFixture({
        mail: raws.map((raw) => ({ folder: 'INBOX', raw, flags: ['\\Seen'], internalDate: new Date(Date.UTC(2024, 0, 1)) })),
      });
      const n = raws.length;
      const check = async (step: string, stats: Awaited<ReturnType<typeof syncStats>>, zero: boolean) => {
        if (stats.result !== 'ok' || stats.errors.length) problems.push(`${step}: result ${stats.result} ${stats.errors.join(';')}`);
        if (zero && (stats.downloaded || stats.uploaded)) problems.push(`${step}: downloaded ${stats.downloaded} uploaded ${stats.uploaded}`);
        const s = await serverBytes(f);
        const l = await localBytes(f);
        if (s.length !== n) problems.push(`${step}: server has ${s.length} messages, expected ${n}`);
        if (l.length !== n) problems.push(`${step}: local has ${l.length} files, expected ${n}`);
        const want = sorted(s.map((x) => crlfToLf(x)));
        const got = sorted(l);
        if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`${step}: local bytes != crlfToLf(server)`);
      };
      await check('sync1', await syncStats(f), false);
      const snap1 = await snapshot(f);
      await check('sync2', await syncStats(f), true);
      if ((await snapshot(f)) !== snap1) problems.push('sync2 changed local files');
      await f.discardState();
      await check('after state loss', await syncStats(f), true);
      await check('after state loss, again', await syncStats(f), true);
      await renumber(f);
      await check('after renumber', await syncStats(f), true);
      await check('after renumber, again', await syncStats(f), true);
      // flags from server
      const server = await f.dovecot.listMessages('INBOX');
      for (const m of server) await f.dovecot.setFlags('INBOX', m.uid, ['\\Seen', '\\Flagged']);
      const s1 = await syncStats(f);
      if (s1.flagsPulled !== n) problems.push(`flag pull: flagsPulled ${s1.flagsPulled}`);
      await check('flag pull', s1, true);
      let files = await readMaildirFolder(f.folderDir('INBOX'));
      if (!files.every((m) => m.letters.includes('F'))) problems.push(`flag pull: letters ${files.map((m) => m.letters)}`);
      for (const m of files) {
        const base = m.name.slice(0, m.name.lastIndexOf(':2,'));
        await fs.rename(path.join(f.folderDir('INBOX'), m.subdir, m.name), path.join(f.folderDir('INBOX'), 'cur', maildirName(base, 'FRS')));
      }
      const s2 = await syncStats(f);
      if (s2.flagsPushed !== n) problems.push(`flag push: flagsPushed ${s2.flagsPushed}`);
      await check('flag push', s2, true);
      const after = await f.dovecot.listMessages('INBOX');
      if (!after.every((m) => m.flags.includes('\\Answered'))) problems.push(`flag push: server flags ${JSON.stringify(after.map((m) => m.flags))}`);
      files = await readMaildirFolder(f.folderDir('INBOX'));
      if (!files.every((m) => m.letters === 'FRS')) problems.push(`after push letters ${files.map((m) => m.letters)}`);
    });
  });
}
