/**
 * The sync progress display: plain milestone lines when not on a terminal; on a terminal one
 * line per account with the folders in progress (n/m), the rate and the finished folders.
 */
import assert from 'node:assert/strict';
import { ProgressDisplay } from '../../agent/src/commands/progress-display.js';
import type { ProgressEvent } from '../../agent/src/protocol/index.js';

function progress(
  step: ProgressEvent['step'],
  folder: string | null,
  index: number,
  indexMax: number,
  at: number,
  bytes = 0,
): ProgressEvent {
  const text =
    step === 'downloading'
      ? `Downloading messages ${index} of ${indexMax} in ${folder}`
      : step === 'checking-folder'
        ? `Checking ${folder}`
        : step === 'finishing'
          ? `Synced ${indexMax} folders`
          : 'Connecting to host';
  return {
    type: 'progress',
    syncId: 's',
    accountId: 'work',
    folder,
    step,
    text,
    index,
    indexMax,
    bytes,
    at,
  };
}

function fakeOut() {
  const written: string[] = [];
  const out = {
    write: (t: string) => written.push(t),
    columns: 200,
  } as unknown as NodeJS.WriteStream;
  return { out, written };
}

describe('sync progress display', () => {
  it('prints plain milestone lines when not on a terminal', () => {
    const { out, written } = fakeOut();
    const display = new ProgressDisplay(out, false);
    display.handle(progress('connecting', null, 0, 1, 0));
    display.handle(progress('checking-folder', 'INBOX', 0, 2, 10));
    display.handle(progress('downloading', 'INBOX', 1, 2, 20));
    display.handle(progress('downloading', 'INBOX', 2, 2, 30));
    display.handle(progress('finishing', null, 2, 2, 1010, 2 * 1048576));
    assert.deepEqual(written, [
      'work: Connecting to host\n',
      'work: Checking INBOX (1/2)\n',
      'work: Downloading messages 2 of 2 in INBOX\n',
      'work: Synced 2 folders, 2 downloaded, 2.0 MB in 1.0 s\n',
    ]);
    assert.ok(
      written.every((t) => !t.includes('\x1b')),
      'no cursor movement',
    );
  });

  it('shows folders in progress, the rate and finished folders on one line per account', () => {
    const { out } = fakeOut();
    const display = new ProgressDisplay(out, true, { connections: new Map([['work', 2]]) });
    display.handle(progress('checking-folder', 'INBOX', 0, 4, 0));
    display.handle(progress('checking-folder', 'Archive', 1, 4, 0));
    for (let i = 1; i <= 10; i++)
      display.handle(progress('downloading', 'INBOX', i, 10, i * 100, i * 1048576));
    display.handle(progress('downloading', 'Archive', 1, 5, 1000, 11 * 1048576));
    // A connection takes the third folder: INBOX (all downloaded) is the one that finished.
    display.handle(progress('checking-folder', 'Sent', 2, 4, 1000, 11 * 1048576));
    const line = display.lineOf('work')!;
    assert.match(line, /Archive 1\/5/);
    assert.match(line, /Sent checking/);
    assert.match(line, /folder 3\/4/);
    assert.match(line, /11 msg\/s, 11\.0 MB\/s/);
    assert.match(line, /done: INBOX \(\+10\)/);
    display.handle(progress('finishing', null, 4, 4, 2000, 11 * 1048576));
    assert.match(display.lineOf('work')!, /^✔ work: 3 folders, 11 downloaded/);
  });
});
