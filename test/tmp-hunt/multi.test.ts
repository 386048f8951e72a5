import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { renumber, sorted, serverBytes, localBytes, syncStats } from './harness.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const FOLDERS = ['INBOX', 'A', 'B/C'];
describe('dup Message-ID across folders', function () {
  let f: SyncFixture;
  const problems: string[] = [];
  after(async () => { console.log(`### multi: ${problems.join('\n   ') || 'OK'}`); await f?.cleanup(); });
  it('runs', async () => {
    const mail = FOLDERS.flatMap((folder, fi) =>
      Array.from({ length: 5 }, (_, i) => ({
        folder,
        raw: b(`Message-ID: <same@x>\r\nSubject: ${i % 2 ? 'x' : 'yy'}\r\n\r\nbody ${i % 3} ${i === 4 ? fi : ''}\r\n`),
        flags: i % 2 ? ['\\Seen'] : [],
        internalDate: new Date(Date.UTC(2024, 0, 1)),
      })),
    );
    f = await startSyncFixture({ mail });
    const check = async (step: string, zero: boolean) => {
      const s = await syncStats(f);
      if (s.result !== 'ok' || s.errors.length) problems.push(`${step}: ${s.result} ${s.errors.join(';').slice(0, 300)}`);
      if (zero && (s.downloaded || s.uploaded)) problems.push(`${step}: downloaded ${s.downloaded} uploaded ${s.uploaded}`);
      for (const folder of FOLDERS) {
        const want = sorted((await serverBytes(f, folder)).map((x) => crlfToLf(x)));
        const got = sorted(await localBytes(f, folder));
        if (want.length !== 5 || got.length !== 5) problems.push(`${step} ${folder}: server ${want.length} local ${got.length}`);
        if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`${step} ${folder}: bytes differ`);
      }
    };
    await check('sync1', false);
    await check('sync2', true);
    await f.discardState();
    await check('after loss', true);
    await check('after loss 2', true);
    await renumber(f);
    await check('after renumber', true);
    await check('after renumber 2', true);
    console.log(f.state.placesOfMessage('<same@x>').length);
  });
});
