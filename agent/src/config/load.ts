/**
 * Reads and validates the config file, and turns it into the resolved form the agent uses:
 * absolute paths (relative ones are relative to the config file), defaults filled in, renamed
 * keys read under their new names, and the machine's admin policy (policy.ts) applied.
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigSchema,
  type LogConfig,
  type OAuthMethod,
  type RawAccount,
  type SecretSource,
} from './schema.js';
import { ConfigError, jsonSyntaxProblem } from './errors.js';
import { applyPolicy, loadPolicy, type LoadedPolicy } from './policy.js';
import { applyRenamedKeys, RENAMED_KEYS, type RenamedKey } from './renamed-keys.js';
import { defaultDataDirFor } from '../platform-paths.js';

export { ConfigError, jsonSyntaxProblem };

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
  /** Every sync stores header blocks only (config or policy); absent: false. */
  headersOnly?: boolean;
  /** The info separator a new store starts with; absent: the platform's default. */
  maildirInfoSeparator?: ':' | ';' | '!';
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
  log?: LogConfig & { levelLocked?: boolean };
  /** Where the values came from (`storesync config show`); absent for configs made in code. */
  sources?: ConfigSources;
}

export interface ConfigSources {
  /** Keys the user's file sets (after renames), as `accounts[0].imap.host`. */
  userKeys: string[];
  /** The admin policy applied, and the keys whose value it decided. */
  policy: { file: string; keys: string[] } | null;
  /** Deprecated names and values the policy replaced: for the user to read. */
  warnings: string[];
}

export interface ParseOptions {
  /** The admin policy; default: the machine's (policy.ts), null: none. */
  policy?: LoadedPolicy | null;
  renames?: readonly RenamedKey[];
}

/** Where state, certificates and logs live when the config does not say. */
export function defaultDataDir(): string {
  return defaultDataDirFor();
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/** Where load-time warnings go unless the caller shows them itself. */
function warnOnStderr(text: string): void {
  process.stderr.write(`storesync: warning: ${text}\n`);
}

export function loadConfigFile(
  file: string,
  options: ParseOptions & { warn?: (text: string) => void } = {},
): AgentConfig {
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
    throw new ConfigError(`${file}: not valid JSON (${jsonSyntaxProblem(err)})`);
  }
  const config = parseConfig(json, absolute, options);
  config.sources?.warnings.forEach(options.warn ?? warnOnStderr);
  return config;
}

/** Validates a parsed config object; errors name the file and the field. */
export function parseConfig(
  json: unknown,
  file: string | null,
  options: ParseOptions = {},
): AgentConfig {
  const where = file ?? 'config';
  const renamed = applyRenamedKeys(json, options.renames ?? RENAMED_KEYS, where);
  const parsed = ConfigSchema.safeParse(renamed.json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = issue.path.length > 0 ? formatPath(issue.path) : '(top level)';
      return `${where}: ${field}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const policy = options.policy === undefined ? loadPolicy() : options.policy;
  const userKeys = keysOf(renamed.json);
  const enforced = policy
    ? applyPolicy(parsed.data, policy, where, (key) => userKeys.includes(key))
    : { config: parsed.data, keys: [], warnings: [] };
  const raw = enforced.config;
  const base = file ? path.dirname(file) : process.cwd();
  const resolve = (p: string) => path.resolve(base, expandHome(p));

  if (!raw.server.allowRemote && !LOOPBACK_HOSTS.has(raw.server.host)) {
    throw new ConfigError(
      `${where}: server.host: "${raw.server.host}" is not a loopback address; ` +
        'the agent only listens on 127.0.0.1, ::1 or localhost unless server.allowRemote is true' +
        (policy?.rules.server?.allowRemote === false
          ? ` (forbidden by the policy ${policy.file})`
          : ''),
    );
  }
  const dataDir = raw.dataDir ? resolve(raw.dataDir) : defaultDataDir();
  checkDirectoryPath(dataDir, `${where}: dataDir`);
  const accounts = raw.accounts.map((account) => resolveAccount(account, resolve));
  accounts.forEach((account, i) =>
    checkDirectoryPath(account.maildir, `${where}: accounts[${i}].maildir`),
  );
  checkMaildirsApart(accounts, where);
  return {
    file,
    dataDir,
    server: raw.server,
    accounts,
    log: policy?.rules.log?.level ? { ...raw.log, levelLocked: true } : raw.log,
    sources: {
      userKeys,
      policy: policy ? { file: policy.file, keys: enforced.keys } : null,
      warnings: [...renamed.warnings, ...enforced.warnings],
    },
  };
}

/**
 * A directory the config names must be one, or not exist yet (it is created on first use).
 * A file there, or a file on the way to it, would otherwise fail every folder of every run
 * with a bare ENOTDIR; said here, it names the field. Anything else (no permission, say) is
 * for the first use to report.
 */
function checkDirectoryPath(dir: string, field: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTDIR') return;
    throw new ConfigError(`${field}: "${dir}" cannot be a directory: part of that path is a file`);
  }
  if (!isDirectory) throw new ConfigError(`${field}: "${dir}" is a file, not a directory`);
}

/**
 * Each account its own Maildir, none inside another's: two accounts syncing one directory
 * would each take the other's messages for new ones of its own and upload them, at every
 * pass.
 */
function checkMaildirsApart(accounts: readonly AccountConfig[], where: string): void {
  const caseInsensitive = process.platform === 'darwin' || process.platform === 'win32';
  const key = (dir: string) => (caseInsensitive ? dir.toLowerCase() : dir);
  const within = (dir: string, root: string) => {
    const rel = path.relative(key(root), key(dir));
    const outside = rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
    return !outside;
  };
  accounts.forEach((account, j) => {
    const i = accounts.findIndex(
      (other, k) =>
        k < j && (within(account.maildir, other.maildir) || within(other.maildir, account.maildir)),
    );
    if (i < 0) return;
    const same = key(account.maildir) === key(accounts[i]!.maildir);
    throw new ConfigError(
      `${where}: accounts[${j}].maildir: "${account.maildir}" ${same ? 'is' : 'overlaps'} the maildir of accounts[${i}] ("${accounts[i]!.id}"); each account needs a Maildir of its own, not inside another's`,
    );
  });
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
    headersOnly: account.headersOnly,
    ...(account.maildirInfoSeparator ? { maildirInfoSeparator: account.maildirInfoSeparator } : {}),
  };
}

/** Every key a parsed config file sets, objects walked and `accounts` by index. */
function keysOf(json: unknown, prefix = ''): string[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return [];
  return Object.entries(json).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}.${key}` : key;
    if (name === 'accounts' && Array.isArray(value)) {
      return [
        name,
        ...value.flatMap((item, i) => [`${name}[${i}]`, ...keysOf(item, `${name}[${i}]`)]),
      ];
    }
    return [name, ...keysOf(value, name)];
  });
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
