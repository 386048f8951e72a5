/**
 * Reads and validates the config file, and turns it into the resolved form the agent uses:
 * absolute paths (relative ones are relative to the config file), defaults filled in.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigSchema,
  type LogConfig,
  type OAuthMethod,
  type RawAccount,
  type SecretSource,
} from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface AccountConfig {
  id: string;
  imap: {
    host: string;
    port: number;
    tls: 'implicit' | 'starttls' | 'none';
    user: string;
    credentials: ImapCredentials;
    allowSelfSigned: boolean;
  };
  maildir: string;
  deletePolicy: 'expunge' | 'trash' | 'keep-remote';
  syncIntervalSeconds: number;
  maxConnections: number;
  idleFolders: string[];
  folders: { include: string[]; exclude: string[] };
}

/** How the account logs in; the secret itself is resolved only when connecting. */
export type ImapCredentials =
  | { kind: 'password'; source: SecretSource }
  /** `method` null: the server's capabilities decide (OAUTHBEARER when offered). */
  | { kind: 'accessToken'; source: SecretSource; method: OAuthMethod | null };

export interface AgentConfig {
  /** The file this came from, or null for the embedded defaults. */
  file: string | null;
  dataDir: string;
  server: { host: string; port: number; allowRemote: boolean };
  accounts: AccountConfig[];
  /** The "log" block, defaults filled in (optional only for configs made in code). */
  log?: LogConfig;
}

/** Where state, certificates and logs live when the config does not say. */
export function defaultDataDir(): string {
  const xdg = process.env.XDG_DATA_HOME;
  return path.join(
    xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'share'),
    'storesync',
  );
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

export function loadConfigFile(file: string): AgentConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${file}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseConfig(json, absolute);
}

/** Validates a parsed config object; errors name the file and the field. */
export function parseConfig(json: unknown, file: string | null): AgentConfig {
  const parsed = ConfigSchema.safeParse(json);
  const where = file ?? 'config';
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = issue.path.length > 0 ? formatPath(issue.path) : '(top level)';
      return `${where}: ${field}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const raw = parsed.data;
  const base = file ? path.dirname(file) : process.cwd();
  const resolve = (p: string) => path.resolve(base, expandHome(p));

  if (!raw.server.allowRemote && !LOOPBACK_HOSTS.has(raw.server.host)) {
    throw new ConfigError(
      `${where}: server.host: "${raw.server.host}" is not a loopback address; ` +
        'the agent only listens on 127.0.0.1, ::1 or localhost unless server.allowRemote is true',
    );
  }
  return {
    file,
    dataDir: raw.dataDir ? resolve(raw.dataDir) : defaultDataDir(),
    server: raw.server,
    accounts: raw.accounts.map((account) => resolveAccount(account, resolve)),
    log: raw.log,
  };
}

function resolveAccount(account: RawAccount, resolve: (p: string) => string): AccountConfig {
  const { imap } = account;
  const source = (s: SecretSource) => ('file' in s ? { file: resolve(s.file) } : s);
  // The schema guarantees exactly one of the two.
  const credentials: ImapCredentials = imap.accessToken
    ? { kind: 'accessToken', source: source(imap.accessToken), method: imap.authMethod ?? null }
    : { kind: 'password', source: source(imap.password!) };
  return {
    id: account.id,
    imap: {
      host: imap.host,
      port: imap.port ?? (imap.tls === 'implicit' ? 993 : 143),
      tls: imap.tls,
      user: imap.user,
      credentials,
      allowSelfSigned: imap.allowSelfSigned,
    },
    maildir: resolve(account.maildir),
    deletePolicy: account.deletePolicy,
    syncIntervalSeconds: account.syncIntervalSeconds,
    maxConnections: account.maxConnections,
    idleFolders: account.idleFolders,
    folders: account.folders,
  };
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** accounts[0].imap.port, the way a user would look for it in the file. */
function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : (i > 0 ? '.' : '') + String(s)))
    .join('');
}
