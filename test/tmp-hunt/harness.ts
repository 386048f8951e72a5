import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crlfToLf } from '../../agent/src/sync/maildir/crlf.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import type { SyncFixture } from '../support/sync-fixture.js';
import { FULL_SYNC } from '../../agent/src/protocol/index.js';

export const sorted = (xs: Buffer[]) => xs.map((b) => b.toString('latin1')).sort();

export async function serverBytes(f: SyncFixture, folder = 'INBOX') {
  return (await f.dovecot.listMessages(folder)).map((m) => m.raw);
}
export async function localBytes(f: SyncFixture, folder = 'INBOX') {
  return (await readMaildirFolder(f.folderDir(folder))).map((m) => m.data);
}
/** Local must equal crlfToLf(server) as multisets. */
export async function assertMirror(f: SyncFixture, label: string, folder = 'INBOX') {
  const s = sorted((await serverBytes(f, folder)).map((b) => crlfToLf(b)));
  const l = sorted(await localBytes(f, folder));
  assert.deepEqual(l, s, `${label}: local != crlfToLf(server) in ${folder}`);
}
export async function syncStats(f: SyncFixture, headersOnly = false) {
  const { done, errors } = await f.sync(headersOnly ? { ...FULL_SYNC, headersOnly: true } : FULL_SYNC);
  const s = done.stats;
  return { result: done.result, downloaded: s.downloaded, uploaded: s.uploaded, flagsPushed: s.flagsPushed, flagsPulled: s.flagsPulled, errors: errors.map((e) => `${e.code}:${e.severity}:${e.message}`) };
}
export async function renumber(f: SyncFixture) {
  const d = f.dovecot;
  await d.stop();
  for (const e of await fs.readdir(d.maildirRoot, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && (e.name === 'dovecot-uidlist' || e.name.startsWith('dovecot.index')))
      await fs.rm(path.join(e.parentPath, e.name));
  }
  await new Promise((r) => setTimeout(r, 1100));
  await d.restart();
}
