/**
 * The effective config as `storesync config show` prints it: one row per setting, named as in
 * the config file, with where its value came from. Secrets never appear: a password or token
 * shows only the kind of source it is read from (a variable name, a path or a command line can
 * give the secret away as well).
 */
import type { AccountConfig, AgentConfig } from './load.js';

export type ValueOrigin = 'default' | 'user file' | 'policy';

export interface ConfigRow {
  key: string;
  /** JSON text of the value (`"imap.example.com"`, `993`, `["INBOX"]`). */
  value: string;
  origin: ValueOrigin;
}

export function describeConfig(config: AgentConfig): ConfigRow[] {
  const sources = config.sources;
  const policyKeys = new Set(sources?.policy?.keys ?? []);
  const userKeys = sources?.userKeys ?? [];
  const originOf = (key: string): ValueOrigin => {
    if (policyKeys.has(key)) return 'policy';
    const inFile = userKeys.some(
      (k) => k === key || k.startsWith(`${key}.`) || k.startsWith(`${key}[`),
    );
    return inFile ? 'user file' : 'default';
  };
  const rows: ConfigRow[] = [];
  const add = (key: string, value: unknown) =>
    rows.push({ key, value: JSON.stringify(value), origin: originOf(key) });

  add('dataDir', config.dataDir);
  add('server.host', config.server.host);
  add('server.port', config.server.port);
  add('server.allowRemote', config.server.allowRemote);
  if (config.log) {
    add('log.level', config.log.level);
    add('log.maxSizeMB', config.log.maxSizeMB);
    add('log.maxFiles', config.log.maxFiles);
    add('log.imapProtocol', config.log.imapProtocol);
  }
  config.accounts.forEach((account, i) => accountRows(account, `accounts[${i}]`, add));
  return rows;
}

function accountRows(
  account: AccountConfig,
  at: string,
  add: (key: string, value: unknown) => void,
): void {
  const { imap } = account;
  add(`${at}.id`, account.id);
  add(`${at}.imap.host`, imap.host);
  add(`${at}.imap.port`, imap.port);
  add(`${at}.imap.tls`, imap.tls);
  add(`${at}.imap.user`, imap.user);
  add(`${at}.imap.${imap.credentials.kind}`, secretSourceKind(imap.credentials.source));
  if (imap.credentials.kind === 'accessToken') {
    add(`${at}.imap.authMethod`, imap.credentials.method ?? 'offered by the server');
  }
  add(`${at}.imap.allowSelfSigned`, imap.allowSelfSigned);
  add(`${at}.maildir`, account.maildir);
  add(`${at}.folders.include`, account.folders.include);
  add(`${at}.folders.exclude`, account.folders.exclude);
  add(`${at}.deletePolicy`, account.deletePolicy);
  add(`${at}.syncIntervalSeconds`, account.syncIntervalSeconds);
  add(`${at}.idleFolders`, account.idleFolders);
  add(`${at}.maxConnections`, account.maxConnections);
  add(`${at}.headersOnly`, account.headersOnly === true);
}

/** "(from env)": where the secret is read from, never what names it. */
function secretSourceKind(source: object): string {
  return `(from ${Object.keys(source)[0] ?? 'nowhere'})`;
}
