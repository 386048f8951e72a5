/** Runs a service manager's command line tool and keeps what it said, for the user. */
import { spawnSync } from 'node:child_process';

export interface ToolResult {
  ok: boolean;
  /** The command as typed, for messages: `systemctl --user daemon-reload`. */
  command: string;
  /** stdout, or stderr when it failed, trimmed (or why it could not start). */
  output: string;
}

export function runTool(command: string, args: string[]): ToolResult {
  const typed = [command, ...args].join(' ');
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      command: typed,
      output: code === 'ENOENT' ? `${command} is not installed` : result.error.message,
    };
  }
  const ok = result.status === 0;
  const output = (ok ? result.stdout : result.stderr || result.stdout).trim();
  return { ok, command: typed, output };
}
