/**
 * Which config a running agent runs, told by a small file per config file in the user's cache
 * directory: `storesync sync` finds the agent from the path of its config alone, before it
 * loads the config's validation, the engine or anything else (commands/sync-fast-path.ts).
 *
 * The record stands only while it describes the files the agent loaded: the config file and
 * the admin policy with the same size, modification time and inode as then, and the agent
 * still holding its dataDir's lock. Anything else (an edited config, a new policy, an agent
 * that died, no record at all) and the command goes the usual way (cli.ts), which reads and
 * checks the config first and then looks for the agent by its dataDir: the same agent, found
 * slower, or the error the config deserves. The record is never a second source of truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultCacheDirFor, policyFile } from '../platform-paths.js';
import { processAlive } from './lock-holder.js';

/** What identifies a file's content well enough to notice an edit, without reading it. */
interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface AgentRecord {
  pid: number;
  /** Absolute, as the command line resolves `--config`. */
  configFile: string;
  config: FileIdentity;
  /** null: there was no policy file. */
  policy: FileIdentity | null;
  dataDir: string;
  /** For the command's progress display, as the config gives them. */
  accounts: Array<{ id: string; maxConnections: number }>;
}

/** What of an agent's config the record needs (AgentConfig has it). */
export interface RecordedConfig {
  file: string | null;
  dataDir: string;
  accounts: ReadonlyArray<{ id: string; maxConnections: number }>;
}

export interface AgentRecordHandle {
  /** After a reload: the new config's record, or none when part of it was not applied. */
  update(config: RecordedConfig, applied: boolean): void;
  remove(): void;
}

/**
 * Records the agent's config (none for a config that came from no file). Failing to write
 * costs the command line some start-up time, nothing else: it is not an error.
 */
export function recordRunningAgent(
  config: RecordedConfig,
  cacheDir: string = defaultCacheDirFor(),
): AgentRecordHandle {
  let file: string | null = null;
  const remove = () => {
    if (file) removeIfOurs(file);
    file = null;
  };
  const write = (current: RecordedConfig) => {
    if (!current.file) return;
    const configFile = path.resolve(current.file);
    const identity = identityOf(configFile);
    if (!identity) return;
    const record: AgentRecord = {
      pid: process.pid,
      configFile,
      config: identity,
      policy: identityOf(policyFile()),
      dataDir: current.dataDir,
      accounts: current.accounts.map((a) => ({ id: a.id, maxConnections: a.maxConnections })),
    };
    const target = recordFileFor(configFile, cacheDir);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      const temporary = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, JSON.stringify(record) + '\n', { mode: 0o600 });
      fs.renameSync(temporary, target);
      file = target;
    } catch {
      // No record: `storesync sync` finds the agent by its dataDir instead.
    }
  };
  write(config);
  forgetDeadAgents(cacheDir);
  return {
    update(next, applied) {
      remove();
      if (applied) write(next);
    },
    remove,
  };
}

/** The record of the agent running `configFile`, if it still stands (see above); else null. */
export function readAgentRecord(
  configFile: string,
  cacheDir: string = defaultCacheDirFor(),
): AgentRecord | null {
  const absolute = path.resolve(configFile);
  let record: AgentRecord;
  try {
    record = JSON.parse(fs.readFileSync(recordFileFor(absolute, cacheDir), 'utf8')) as AgentRecord;
  } catch {
    return null;
  }
  if (
    typeof record?.pid !== 'number' ||
    record.configFile !== absolute ||
    typeof record.dataDir !== 'string' ||
    !Array.isArray(record.accounts) ||
    !sameIdentity(record.config, identityOf(absolute)) ||
    !sameIdentity(record.policy, identityOf(policyFile()))
  )
    return null;
  return record;
}

/** One file per config file, named by a hash of its path (two configs rarely share one). */
function recordFileFor(configFile: string, cacheDir: string): string {
  return path.join(cacheDir, 'agents', `${pathHash(configFile)}.json`);
}

/**
 * FNV-1a over the path's UTF-16 code units, twice with different offsets: 16 hex digits.
 * node:crypto would cost the command line more to load than everything else here; a clash
 * only means the record names another config and is not used.
 */
function pathHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

function identityOf(file: string): FileIdentity | null {
  try {
    const stat = fs.statSync(file);
    return { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino };
  } catch {
    return null;
  }
}

function sameIdentity(a: FileIdentity | null | undefined, b: FileIdentity | null): boolean {
  if (a === null || b === null) return a === b;
  return a?.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/**
 * Removes the records of agents that died without removing theirs (killed, a power cut): they
 * would never be used (their lock's holder is gone), only pile up. A record this cannot read
 * is left alone: it may be being written.
 */
function forgetDeadAgents(cacheDir: string): void {
  const dir = path.join(cacheDir, 'agents');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      const { pid } = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as AgentRecord;
      if (typeof pid === 'number' && !processAlive(pid)) fs.rmSync(path.join(dir, name));
    } catch {
      // Unreadable now: left as it is.
    }
  }
}

/** Removes a record unless another agent (for the same config) has written it since. */
function removeIfOurs(file: string): void {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as AgentRecord;
    if (record.pid === process.pid) fs.rmSync(file, { force: true });
  } catch {
    // Gone already.
  }
}
