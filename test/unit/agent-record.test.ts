/**
 * The running agent's record of its config (agent-record.ts): found from the config file's
 * path while config and policy are the files the agent loaded, and never otherwise.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POLICY_FILE_ENV } from '../../agent/src/platform-paths.js';
import {
  readAgentRecord,
  recordRunningAgent,
  type RecordedConfig,
} from '../../agent/src/server/agent-record.js';

describe("the running agent's record of its config", () => {
  let dir: string;
  let cacheDir: string;
  let configFile: string;
  let config: RecordedConfig;
  const savedPolicy = process.env[POLICY_FILE_ENV];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storesync-record-'));
    cacheDir = path.join(dir, 'cache');
    configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, '{"accounts":[]}');
    // No policy on this machine, as far as these tests go.
    process.env[POLICY_FILE_ENV] = path.join(dir, 'policy.json');
    config = {
      file: configFile,
      dataDir: path.join(dir, 'data'),
      accounts: [{ id: 'work', maxConnections: 3 }],
    };
  });
  afterEach(() => {
    if (savedPolicy === undefined) delete process.env[POLICY_FILE_ENV];
    else process.env[POLICY_FILE_ENV] = savedPolicy;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the dataDir, the pid and the accounts, found by the path however it is spelt', () => {
    const handle = recordRunningAgent(config, cacheDir);
    const relative = path.relative(process.cwd(), configFile);
    for (const spelt of [configFile, relative, path.join(dir, '.', 'config.json')]) {
      const record = readAgentRecord(spelt, cacheDir);
      assert.ok(record, spelt);
      assert.equal(record.pid, process.pid);
      assert.equal(record.dataDir, config.dataDir);
      assert.deepEqual(record.accounts, [{ id: 'work', maxConnections: 3 }]);
    }
    assert.equal(readAgentRecord(path.join(dir, 'other.json'), cacheDir), null);
    handle.remove();
    assert.equal(readAgentRecord(configFile, cacheDir), null);
    assert.deepEqual(fs.readdirSync(path.join(cacheDir, 'agents')), []);
  });

  it('no longer stands once the config file is edited, replaced or gone', () => {
    recordRunningAgent(config, cacheDir);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(configFile, later, later);
    assert.equal(readAgentRecord(configFile, cacheDir), null, 'edited');

    recordRunningAgent(config, cacheDir);
    fs.writeFileSync(`${configFile}.new`, '{"accounts":[]}');
    fs.renameSync(`${configFile}.new`, configFile);
    assert.equal(readAgentRecord(configFile, cacheDir), null, 'replaced');

    recordRunningAgent(config, cacheDir);
    fs.rmSync(configFile);
    assert.equal(readAgentRecord(configFile, cacheDir), null, 'gone');
  });

  it('no longer stands once an admin policy appears or changes', () => {
    recordRunningAgent(config, cacheDir);
    assert.ok(readAgentRecord(configFile, cacheDir));
    fs.writeFileSync(process.env[POLICY_FILE_ENV]!, '{}');
    assert.equal(readAgentRecord(configFile, cacheDir), null, 'a policy appeared');
    recordRunningAgent(config, cacheDir);
    assert.ok(readAgentRecord(configFile, cacheDir), 'recorded with the policy');
    fs.writeFileSync(process.env[POLICY_FILE_ENV]!, '{"sync":{}}');
    assert.equal(readAgentRecord(configFile, cacheDir), null, 'the policy changed');
  });

  it('follows a reload, and is dropped when a reload could not apply everything', () => {
    const handle = recordRunningAgent(config, cacheDir);
    fs.writeFileSync(configFile, '{"accounts":[1]}');
    handle.update({ ...config, accounts: [{ id: 'home', maxConnections: 1 }] }, true);
    assert.deepEqual(readAgentRecord(configFile, cacheDir)?.accounts, [
      { id: 'home', maxConnections: 1 },
    ]);
    handle.update({ ...config, dataDir: path.join(dir, 'elsewhere') }, false);
    assert.equal(readAgentRecord(configFile, cacheDir), null);
  });

  it("keeps no record for a config from no file, and leaves another agent's alone", () => {
    recordRunningAgent({ ...config, file: null }, cacheDir);
    assert.equal(fs.existsSync(path.join(cacheDir, 'agents')), false);

    const handle = recordRunningAgent(config, cacheDir);
    const [name] = fs.readdirSync(path.join(cacheDir, 'agents'));
    const file = path.join(cacheDir, 'agents', name!);
    // Another agent took over the config since (this one's end was not seen, say).
    const theirs = { ...JSON.parse(fs.readFileSync(file, 'utf8')), pid: process.pid + 1 };
    fs.writeFileSync(file, JSON.stringify(theirs));
    handle.remove();
    assert.equal(readAgentRecord(configFile, cacheDir)?.pid, process.pid + 1);
  });

  it("removes the records of agents that died without removing theirs, and no one else's", () => {
    const agents = path.join(cacheDir, 'agents');
    fs.mkdirSync(agents, { recursive: true });
    // A pid no process has (above Linux's highest), and one that runs (this process's parent).
    fs.writeFileSync(path.join(agents, 'dead.json'), JSON.stringify({ pid: 4_194_305 }));
    fs.writeFileSync(path.join(agents, 'alive.json'), JSON.stringify({ pid: process.ppid }));
    fs.writeFileSync(path.join(agents, 'half-written.json'), '{"pid":');
    recordRunningAgent(config, cacheDir);
    const left = fs.readdirSync(agents).sort();
    assert.ok(!left.includes('dead.json'), left.join(' '));
    assert.ok(left.includes('alive.json') && left.includes('half-written.json'), left.join(' '));
    assert.ok(readAgentRecord(configFile, cacheDir), 'its own written');
  });

  it('ignores a damaged record', () => {
    recordRunningAgent(config, cacheDir);
    const [name] = fs.readdirSync(path.join(cacheDir, 'agents'));
    fs.writeFileSync(path.join(cacheDir, 'agents', name!), '{"pid":');
    assert.equal(readAgentRecord(configFile, cacheDir), null);
  });
});
