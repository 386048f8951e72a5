/**
 * Hostile real-world mail stored exactly as the server sends it (CRLF → LF only), including
 * a 20 MB message that is streamed rather than held in memory, and uploaded back byte-exact.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crlfToLf, lfToCrlf } from '../../agent/src/sync/maildir/crlf.js';
import type { SampleMessage } from '../../agent/src/demo/sample-mail.js';
import { startTestDovecot, type TestDovecot } from '../support/dovecot.js';
import { readMaildirFolder } from '../support/maildir-files.js';
import { runCli, writeTestConfig } from '../support/storesync-process.js';

const PASSWORD_ENV = 'STORESYNC_BYTES_PASSWORD';
const CRLF = '\r\n';

function message(lines: Array<string | Buffer>): Buffer {
  return Buffer.concat(
    lines.map((l) =>
      Buffer.concat([typeof l === 'string' ? Buffer.from(l, 'latin1') : l, Buffer.from(CRLF)]),
    ),
  );
}

const HOSTILE: Record<string, Buffer> = {
  '8-bit headers': message([
    Buffer.from('From: Zoë Ärger <zoe@example.org>\r\nSubject: Grüße aus Köln — 東京', 'utf8'),
    '',
    Buffer.from('Körper', 'utf8'),
  ]),
  'no headers at all': message(['', 'just a body, no header block']),
  'missing Date and Message-ID': message(['From: a@example.org', 'Subject: bare', '', 'body']),
  'latin-1 body, wrong charset label': message([
    'Content-Type: text/plain; charset=utf-8',
    '',
    Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff, 0x80]),
  ]),
  '10,000-character line': message(['Subject: long', '', 'x'.repeat(10_000)]),
  'broken MIME': message([
    'Content-Type: multipart/mixed; boundary="never-closed"',
    '',
    '--never-closed',
    'Content-Type: text/plain',
    '',
    'part',
    '--wrong-boundary--',
  ]),
  'invalid base64': message(['Content-Transfer-Encoding: base64', '', '!!!not base64***', '====']),
  'trailing spaces and tabs': message(['Subject: spaces   ', '', 'line with tab\t', '   ']),
};

describe('byte-exact storage of hostile mail', function () {
  let dovecot: TestDovecot;
  let dir: string;
  let config: string;
  const env = () => ({ [PASSWORD_ENV]: dovecot.password });

  before(async () => {
    dovecot = await startTestDovecot();
    const big = message([
      'Subject: 20 MB',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      ...Array.from({ length: 270_000 }, (_, i) => Buffer.from(String(i).padStart(76, 'Q'))),
    ]);
    assert.ok(big.length > 20 * 1024 * 1024);
    const mail: SampleMessage[] = [...Object.values(HOSTILE), big].map((raw, i) => ({
      folder: 'INBOX',
      raw,
      flags: i % 2 ? ['\\Seen'] : [],
      internalDate: new Date(Date.UTC(2024, 0, 1 + i)),
    }));
    await dovecot.appendMessages(mail);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-bytes-'));
    config = await writeTestConfig(dir, dovecot, { passwordEnv: PASSWORD_ENV });
  });

  after(async () => {
    await dovecot?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores every message as the server sends it, CRLF → LF and nothing else', async () => {
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const server = await dovecot.listMessages('INBOX');
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    assert.equal(local.length, server.length);
    const byContent = new Set(local.map((m) => m.data.toString('latin1')));
    for (const m of server) {
      const name =
        Object.entries(HOSTILE).find(([, raw]) => raw.equals(m.raw))?.[0] ??
        `${m.raw.length} bytes`;
      assert.ok(byContent.has(crlfToLf(m.raw).toString('latin1')), `${name}: stored bytes differ`);
    }
  });

  it('uploads them back with CRLF restored: the round trip is identical', async () => {
    const local = await readMaildirFolder(path.join(dir, 'Maildir', 'INBOX'));
    const copyDir = path.join(dir, 'Maildir', 'Copies');
    for (const sub of ['cur', 'new', 'tmp'])
      await fs.mkdir(path.join(copyDir, sub), { recursive: true });
    for (const [i, m] of local.entries())
      await fs.writeFile(path.join(copyDir, 'cur', `1700000${i}.copy${i}.host:2,S`), m.data);
    const result = await runCli(['sync', '--config', config, '--once', '--json'], env());
    assert.equal(JSON.parse(result.stdout).uploaded, local.length, result.stdout);
    const originals = (await dovecot.listMessages('INBOX'))
      .map((m) => m.raw.toString('latin1'))
      .sort();
    const copies = (await dovecot.listMessages('Copies'))
      .map((m) => m.raw.toString('latin1'))
      .sort();
    assert.deepEqual(copies, originals);
    for (const m of local) assert.ok(originals.includes(lfToCrlf(m.data).toString('latin1')));
  });
});
