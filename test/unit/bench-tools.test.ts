/**
 * The bench's tool set-ups: mbsync is measured as users run it (its default, an fsync per
 * message) and, as the reference for the cost of writing the Maildir alone, with `FSync no`.
 * The password never sits in a config file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ALL_TOOLS, PASSWORD_ENV, prepareTool, TOOL_PACKAGES } from '../../bench/tools.js';

describe('bench tool set-ups', () => {
  let work: string;
  const server = { host: '127.0.0.1', port: 1143, user: 'bench', password: 's3cret-pw' };

  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-bench-tools-'));
  });

  afterEach(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  const mbsyncrc = async (name: 'mbsync' | 'mbsync-nofsync') => {
    const tool = await prepareTool(name, work, server);
    assert.equal(tool.command, 'mbsync');
    const rc = tool.args[tool.args.indexOf('-c') + 1]!;
    assert.equal(tool.env[PASSWORD_ENV], server.password);
    return fs.readFile(rc, 'utf8');
  };

  it('runs mbsync with its default, durable FSync setting', async () => {
    const rc = await mbsyncrc('mbsync');
    assert.doesNotMatch(rc, /^FSync/m);
    assert.match(rc, /^Port 1143$/m);
    assert.doesNotMatch(rc, /s3cret-pw/);
  });

  it('runs mbsync-nofsync with FSync no and otherwise the same set-up', async () => {
    const rc = await mbsyncrc('mbsync-nofsync');
    assert.match(rc, /^FSync no$/m);
    await fs.rm(work, { recursive: true, force: true });
    await fs.mkdir(work);
    const durable = await mbsyncrc('mbsync');
    assert.equal(rc.replace(/^FSync no\n/m, ''), durable);
    assert.doesNotMatch(rc, /s3cret-pw/);
  });

  it('looks for each packaged tool under the program it runs', async () => {
    for (const name of ALL_TOOLS) {
      const from = TOOL_PACKAGES[name];
      const tool = await prepareTool(name, path.join(work, name), server);
      if (from === null) assert.equal(tool.command, process.execPath, name);
      else assert.equal(tool.command, from.program, name);
    }
  });
});
