import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { configFileNamed } from '../../agent/src/commands/sync-fast-path.js';
import { syncThroughRecord } from '../../agent/src/commands/sync-through-recorded-agent.js';
import type { AgentRecord } from '../../agent/src/server/agent-record.js';
import {
  addSyncCommand,
  syncFlagsOf,
  type SyncCliOptions,
} from '../../agent/src/commands/sync-options.js';

describe('sync command MAPISIB flags', () => {
  it('runs all four directions when none is named', () => {
    assert.deepEqual(syncFlagsOf({}), {
      uploadHierarchy: true,
      downloadHierarchy: true,
      uploadContents: true,
      downloadContents: true,
      headersOnly: false,
      onDemand: false,
    });
  });

  it('runs only the directions named', () => {
    const flags = syncFlagsOf({ downloadContents: true, headersOnly: true });
    assert.deepEqual(
      [
        flags.uploadHierarchy,
        flags.downloadHierarchy,
        flags.uploadContents,
        flags.downloadContents,
        flags.headersOnly,
      ],
      [false, false, false, true, true],
    );
  });
});

describe('the config file of a `sync` command line, as the quick way in reads it', () => {
  /** What commander makes of the same arguments with the CLI's definition. */
  function commanderConfig(args: string[]): string | null {
    let config: string | null = null;
    const program = new Command()
      .exitOverride()
      .configureOutput({ writeOut: () => {}, writeErr: () => {} });
    addSyncCommand(program).action((opts: SyncCliOptions) => {
      config = opts.config ?? null;
    });
    program.parse(['node', 'storesync', ...args]);
    return config;
  }

  for (const args of [
    ['sync', '--once', '--config', 'a.json'],
    ['sync', '--config=a.json', '--once'],
    ['sync', '-c', 'a.json', '--once', '--json'],
    ['sync', '-ca.json', '--once'],
    ['sync', '--once', '--config', 'a.json', '--folder', 'INBOX', 'Archive', '-c', 'b.json'],
    ['sync', '--once', '--account', 'work'],
  ]) {
    it(`${args.join(' ')}: the same file as commander, or none`, () => {
      assert.equal(configFileNamed(args.slice(1)), commanderConfig(args));
    });
  }

  it('gives up where commander reads another file than the scan found', async () => {
    // An option's value that looks like `-c…`: commander takes it as the account's name.
    const argv = ['node', 'storesync', 'sync', '--once', '--account', '-cother.json'];
    assert.equal(commanderConfig(argv.slice(2)), null);
    assert.equal(configFileNamed(argv.slice(2)), 'other.json');
    // A dataDir whose agent looks alive (this process holds its lock) but cannot be reached:
    // asked, it would fail the command (exit 1) rather than leave it to the CLI (null).
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-quick-'));
    try {
      fs.writeFileSync(
        path.join(dataDir, 'agent.lock'),
        JSON.stringify({
          pid: process.pid,
          role: 'agent',
          startedAt: Date.now(),
          url: 'https://localhost:1/',
          port: 1,
          socket: path.join(dataDir, 'agent.sock'),
        }),
      );
      fs.writeFileSync(path.join(dataDir, 'agent.token'), 'token');
      fs.mkdirSync(path.join(dataDir, 'tls'));
      fs.writeFileSync(path.join(dataDir, 'tls', 'ca.pem'), 'not a certificate');
      const identity = { size: 0, mtimeMs: 0, ino: 0 };
      const record: AgentRecord = {
        pid: process.pid,
        configFile: 'other.json',
        config: identity,
        policy: null,
        dataDir,
        accounts: [],
      };
      const quiet = process.stderr.write;
      process.stderr.write = () => true;
      try {
        assert.equal(await syncThroughRecord(argv, 'other.json', record), null);
        // The same command line naming that file the way commander reads it: asked, failed.
        const named = ['node', 'storesync', 'sync', '--once', '--config', 'other.json'];
        assert.equal(await syncThroughRecord(named, 'other.json', record), 1);
      } finally {
        process.stderr.write = quiet;
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
