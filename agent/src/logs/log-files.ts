/**
 * Where the agent's log lives and how its rotated files are named: <dataDir>/logs/agent.N.log,
 * N growing with each rotation (pino-roll's scheme), so the oldest line is in the file with
 * the lowest N. Kept free of pino so the readers (`storesync logs`, support bundles) can use it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export const LOG_BASENAME = 'agent';
export const LOG_EXTENSION = 'log';
/** The single file earlier versions wrote; read first when it is still there. */
const LEGACY_FILE = `${LOG_BASENAME}.${LOG_EXTENSION}`;
const ROTATED = new RegExp(`^${LOG_BASENAME}\\.(\\d+)\\.${LOG_EXTENSION}$`);

export function logDirectory(dataDir: string): string {
  return path.join(dataDir, 'logs');
}

export interface LogFile {
  path: string;
  /** Rotation number; -1 for the legacy unnumbered file. */
  number: number;
}

/** The log files oldest first; empty when there is no log directory yet. */
export async function listLogFiles(dir: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: LogFile[] = [];
  for (const name of names) {
    const match = ROTATED.exec(name);
    if (match) files.push({ path: path.join(dir, name), number: Number(match[1]) });
    else if (name === LEGACY_FILE) files.push({ path: path.join(dir, name), number: -1 });
  }
  return files.sort((a, b) => a.number - b.number);
}
