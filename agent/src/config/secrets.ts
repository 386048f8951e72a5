/**
 * Resolves a secret (an IMAP password) from where the config says it lives. The value is
 * returned to the caller only: never logged, never put in an error message, never cached
 * beyond the connection that needs it (a rotated password is picked up at the next sync).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { SecretSource } from './schema.js';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

const COMMAND_TIMEOUT_MS = 30_000;

export async function resolveSecret(source: SecretSource, field: string): Promise<string> {
  if ('env' in source) {
    const value = process.env[source.env];
    if (value === undefined || value === '') {
      throw new SecretError(`${field}: environment variable ${source.env} is not set`);
    }
    return value;
  }
  if ('file' in source) {
    let text: string;
    try {
      text = await readFile(source.file, 'utf8');
    } catch (err) {
      throw new SecretError(
        `${field}: cannot read ${source.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    // Editors and `echo` add a final newline; a password never ends with one.
    return stripFinalNewline(text);
  }
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', source.command],
      { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 },
      (err, stdout) => {
        if (err) {
          // The command's output may contain the secret: report only how it failed.
          const how = err.killed ? 'timed out' : `exited with code ${err.code ?? 'unknown'}`;
          reject(new SecretError(`${field}: password command ${how}`));
          return;
        }
        const value = stripFinalNewline(stdout);
        if (value === '') reject(new SecretError(`${field}: password command printed nothing`));
        else resolve(value);
      },
    );
  });
}

function stripFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
