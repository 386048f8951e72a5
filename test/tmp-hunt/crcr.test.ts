import assert from 'node:assert/strict';
import { startSyncFixture, type SyncFixture } from '../support/sync-fixture.js';
import { assertMirror, syncStats, serverBytes, localBytes } from './harness.js';

describe('CR CR LF on the server, state DB lost', function () {
  let f: SyncFixture;
  after(async () => f?.cleanup());
  it('rebuild does not duplicate', async () => {
    f = await startSyncFixture({
      mail: [{ folder: 'INBOX', raw: Buffer.from('Message-ID: <crcr@example.org>\r\nSubject: crcr\r\n\r\nline\r\r\r\nend\r\n', 'latin1'), flags: ['\\Seen'], internalDate: new Date() }],
    });
    console.log(JSON.stringify((await serverBytes(f))[0]!.toString('latin1')));
    console.log('sync1', await syncStats(f));
    await assertMirror(f, 'first');
    console.log('sync2', await syncStats(f));
    await f.discardState();
    console.log('sync3 after state loss', await syncStats(f));
    console.log('server', (await serverBytes(f)).length, 'local', (await localBytes(f)).length);
    await assertMirror(f, 'after rebuild');
    assert.equal((await serverBytes(f)).length, 1);
  });
});
