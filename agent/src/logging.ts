/**
 * The agent's log: pino JSON lines in <dataDir>/logs/agent.log, written off the hot path.
 * Secrets are redacted by field name as a second line of defence; the first is that no code
 * passes a secret to the logger.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { SyncLogger } from './sync/logger.js';

export const REDACTED_FIELDS = [
  'password',
  'pass',
  'accessToken',
  'token',
  'authorization',
  '*.password',
  '*.pass',
  '*.accessToken',
  '*.token',
  '*.authorization',
];

export interface AgentLogger extends SyncLogger {
  flush(): void;
}

export function createFileLogger(
  dataDir: string,
  level = process.env.STORESYNC_LOG_LEVEL ?? 'info',
): AgentLogger {
  const dir = path.join(dataDir, 'logs');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Synchronous writes: a few lines per folder, and a short command must not end before its
  // log file is even open (an asynchronous destination cannot be flushed until it is).
  const destination = pino.destination({
    dest: path.join(dir, 'agent.log'),
    sync: true,
    mkdir: true,
  });
  const logger = pino(
    { level, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination,
  );
  return Object.assign(logger as unknown as SyncLogger, {
    flush: () => destination.flushSync(),
  });
}
