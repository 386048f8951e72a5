/**
 * Resolves a secret (an IMAP password or OAuth2 access token) from where the config says it
 * lives. The value is returned to the caller only: never logged, never put in an error
 * message, never cached beyond the connection that needs it (a rotated password, a refreshed
 * token, is picked up at the next connection).
 */
import { readFile } from 'node:fs/promises';
import { killTree } from './process-tree.js';
import type { SecretSource } from './schema.js';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

const COMMAND_TIMEOUT_MS = 30_000;

/**
 * What the secret is, for error messages and for how its text is read: a password is taken
 * as is (spaces may be part of it) but for one final newline; a token never contains
 * whitespace, so any around it (helpers print "\n", "\r\n", padding) is dropped.
 */
export type SecretKind = 'password' | 'access token';

export async function resolveSecret(
  source: SecretSource,
  field: string,
  kind: SecretKind = 'password',
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const clean = kind === 'password' ? stripFinalNewline : (text: string) => text.trim();
  if ('env' in source) {
    const value = clean(process.env[source.env] ?? '');
    if (value === '') {
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
    const value = clean(text);
    if (value === '') throw new SecretError(`${field}: ${source.file} is empty`);
    return value;
  }
  // Loaded here: starting child processes is Node's heaviest module, and most configs never do.
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const child = execFile(
      '/bin/sh',
      ['-c', source.command],
      { maxBuffer: 64 * 1024 },
      (err, stdout) => {
        clearTimeout(timer);
        if (err) {
          // The command's output may contain the secret: report only how it failed.
          const how = timedOut ? 'timed out' : `exited with code ${err.code ?? 'unknown'}`;
          reject(new SecretError(`${field}: ${kind} command ${how}`));
          return;
        }
        const value = clean(stdout);
        if (value === '') reject(new SecretError(`${field}: ${kind} command printed nothing`));
        else resolve(value);
      },
    );
    // Not execFile's own timeout: it kills the shell only (process-tree.ts).
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) void killTree(child.pid);
    }, options.timeoutMs ?? COMMAND_TIMEOUT_MS);
  });
}

function stripFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
