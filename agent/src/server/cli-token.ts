/**
 * Where the dataDir keeps the CLI token (pairing.ts creates it), apart from the pairing code so
 * that a command looking for the agent reads it without loading node:crypto.
 */
import fs from 'node:fs';
import path from 'node:path';

export function cliTokenFileOf(dataDir: string): string {
  return path.join(dataDir, 'agent.token');
}

/** Reads the CLI token of an agent's dataDir; null when no agent has created one. */
export function readCliToken(dataDir: string): string | null {
  try {
    return fs.readFileSync(cliTokenFileOf(dataDir), 'utf8').trim() || null;
  } catch {
    return null;
  }
}
