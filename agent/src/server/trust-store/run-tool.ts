/**
 * Runs the platform tools (certutil, security, update-ca-certificates). A tool that is not
 * installed is its own error, whose message says which package brings it.
 */
import { execFile } from 'node:child_process';

export class ToolMissingError extends Error {
  override readonly name = 'ToolMissingError';
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

const TOOL_TIMEOUT_MS = 60_000;

/** Resolves with the exit code (non-zero is not an error here: callers know what it means). */
export function runTool(
  command: string,
  args: readonly string[],
  missingHint: string,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new ToolMissingError(`${command} is not installed: ${missingHint}`));
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The last meaningful line a tool printed, for an error message. */
export function lastLine(result: ToolResult): string {
  const lines = (result.stderr + '\n' + result.stdout)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.at(-1) ?? `exit code ${result.code}`;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
