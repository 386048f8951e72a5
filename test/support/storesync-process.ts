/**
 * Runs the built `storesync` command as users do (bin/storesync.js over dist/), for tests
 * that check exit codes, output and the long-running agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export const BIN = path.resolve('bin', 'storesync.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface AgentProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Starts `storesync start` and waits for the line that says where it listens. `nodeFlags`:
 * Node's own arguments (the benchmark starts it with a user's launch settings). `baseEnv`:
 * what `env` is added to (the benchmark gives a service's environment instead of its own).
 */
export async function startAgentProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: readonly string[] = [],
  baseEnv: NodeJS.ProcessEnv = process.env,
): Promise<AgentProcess> {
  const child = spawn(process.execPath, [...nodeFlags, BIN, 'start', ...args], {
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const match = /listening on (https:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** Writes a config file for one account on a test Dovecot; the password comes from env. */
export async function writeTestConfig(
  dir: string,
  dovecot: { host: string; port: number; user: string },
  options: { passwordEnv: string; serverPort?: number; accountId?: string; background?: boolean },
): Promise<string> {
  const file = path.join(dir, 'config.json');
  const config = {
    dataDir: path.join(dir, 'data'),
    server: { host: '127.0.0.1', port: options.serverPort ?? 0 },
    accounts: [
      {
        id: options.accountId ?? 'test',
        imap: {
          host: dovecot.host,
          port: dovecot.port,
          tls: 'none',
          user: dovecot.user,
          password: { env: options.passwordEnv },
        },
        maildir: path.join(dir, 'Maildir'),
        // Tests drive syncs themselves unless they ask for the agent's background work.
        syncIntervalSeconds: options.background ? 300 : 0,
        idleFolders: options.background ? ['INBOX'] : [],
      },
    ],
  };
  await fs.writeFile(file, JSON.stringify(config, null, 2));
  return file;
}
