/**
 * Reading the log back: the follower returns every line once, in order, across rotations and
 * half-written lines; filters and the readable form; config redaction for support bundles.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runLogs } from '../../agent/src/commands/logs-command.js';
import { LogFollower } from '../../agent/src/logs/log-follower.js';
import { formatLogRecord, matchesFilter, parseLogLine } from '../../agent/src/logs/log-format.js';
import { redactConfig, scrubSecrets, secretForms } from '../../agent/src/support/redact-config.js';

const line = (fields: Record<string, unknown>) => JSON.stringify(fields) + '\n';

describe('log reading', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-logread-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('follows the log across rotations without losing or repeating a line', async () => {
    const logs = path.join(dir, 'logs');
    await fs.mkdir(logs);
    const file = (n: number) => path.join(logs, `agent.${n}.log`);
    const follower = new LogFollower(logs);
    assert.deepEqual(await follower.poll(), []);

    await fs.writeFile(file(1), 'a\nb\n');
    await fs.writeFile(path.join(logs, 'unrelated.txt'), 'not a log\n');
    assert.deepEqual(await follower.poll(), ['a', 'b']);
    await fs.appendFile(file(1), 'c\nhal');
    assert.deepEqual(await follower.poll(), ['c'], 'a half-written line waits');
    // The rest of the line and one more land in file 1 just before it is rotated.
    await fs.appendFile(file(1), 'f\nlast of 1\n');
    await fs.writeFile(file(2), 'first of 2\n');
    assert.deepEqual(await follower.poll(), ['half', 'last of 1', 'first of 2']);
    await fs.rm(file(1)); // rotated away (maxFiles)
    await fs.appendFile(file(2), 'second of 2\n');
    await fs.writeFile(file(3), 'first of 3\n');
    assert.deepEqual(await follower.poll(), ['second of 2', 'first of 3']);
    assert.deepEqual(await follower.poll(), []);
  });

  it('prints the last lines of a run, readable or raw', async () => {
    await fs.mkdir(path.join(dir, 'logs'));
    await fs.writeFile(
      path.join(dir, 'logs', 'agent.1.log'),
      line({ level: 30, time: 0, syncId: 'aaaa1111-x', msg: 'one' }) +
        line({ level: 20, time: 0, syncId: 'aaaa1111-x', accountId: 'work', msg: 'two' }) +
        line({ level: 30, time: 0, syncId: 'bbbb2222-y', msg: 'other run' }),
    );
    await fs.writeFile(
      path.join(dir, 'logs', 'agent.2.log'),
      line({
        level: 40,
        time: 0,
        syncId: 'aaaa1111-x',
        accountId: 'work',
        folder: 'INBOX',
        msg: 'three',
        code: 'FOLDER_GONE',
      }),
    );
    const out: string[] = [];
    const sink = { write: (text: string) => out.push(text) };
    await runLogs(dir, { lines: 2, follow: false, json: false, syncId: 'aaaa' }, sink);
    assert.equal(out.length, 2);
    assert.match(out[0]!, /DEBUG \[aaaa1111\] work: two\n$/);
    assert.match(out[1]!, /WARN {2}\[aaaa1111\] work \/ INBOX: three code=FOLDER_GONE\n$/);

    out.length = 0;
    await runLogs(dir, { lines: Infinity, follow: false, json: true, level: 'info' }, sink);
    assert.deepEqual(
      out.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['one', 'other run', 'three'],
    );
  });

  it('filters only records when a filter is set', () => {
    assert.equal(matchesFilter(parseLogLine('garbage'), {}), true);
    assert.equal(matchesFilter(parseLogLine('garbage'), { syncId: 'a' }), false);
    assert.equal(formatLogRecord({ level: 50, msg: 'x' }).includes('ERROR'), true);
  });
});

describe('support bundle redaction', () => {
  it('removes secret sources but keeps their kind', () => {
    const config = {
      dataDir: '/data',
      accounts: [
        { id: 'a', imap: { user: 'u', password: { env: 'MY_PW' } } },
        { id: 'b', imap: { user: 'v', accessToken: { command: 'echo hunter2' } } },
        { id: 'c', imap: { user: 'w', password: 'inline-by-mistake' } },
        // Misspelt: the config does not load, and it is then that support is asked.
        { id: 'd', imap: { user: 'x', pasword: { command: 'echo hunter2' }, passwd: 'hunter3' } },
        { id: 'e', imap: { user: 'y', access_token: 'abc', Password: 'hunter4' } },
      ],
    };
    assert.deepEqual(redactConfig(config), {
      dataDir: '/data',
      accounts: [
        { id: 'a', imap: { user: 'u', password: { env: '[removed]' } } },
        { id: 'b', imap: { user: 'v', accessToken: { command: '[removed]' } } },
        { id: 'c', imap: { user: 'w', password: '[removed]' } },
        { id: 'd', imap: { user: 'x', pasword: { command: '[removed]' }, passwd: '[removed]' } },
        { id: 'e', imap: { user: 'y', access_token: '[removed]', Password: '[removed]' } },
      ],
    });
  });

  it('scrubs a known password and its AUTHENTICATE PLAIN forms from text', () => {
    const forms = secretForms('tester', 'pa55word');
    const plain = Buffer.from('\0tester\0pa55word').toString('base64');
    const text = `x pa55word y ${plain} z ${Buffer.from('pa55word').toString('base64')}`;
    const scrubbed = scrubSecrets(text, forms);
    assert.ok(!scrubbed.includes('pa55word') && !scrubbed.includes(plain), scrubbed);
    assert.match(scrubbed, /^x \[redacted\] y \[redacted\] z \[redacted\]$/);
  });
});
