/**
 * The machine-wide admin policy: a JSON file IT deploys beside the per-user config, whose keys
 * override and lock what the user's config says. A value the policy can enforce by replacing
 * it (a log level, an interval raised to the minimum) is replaced, with a warning naming the
 * key and the policy file; a value it cannot (a server not on the allowed list, a plain-text
 * connection) makes the config invalid, with an error saying the same.
 *
 * It is a management tool, not a sandbox: a user who can run programs can run StoreSync with
 * another policy (STORESYNC_POLICY_FILE exists so admins can try a policy before deploying it).
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import '../protocol/zod-messages.js';
import { ConfigError, jsonSyntaxProblem } from './errors.js';
import { LogLevelSchema, type RawConfig } from './schema.js';
import { policyFile } from '../platform-paths.js';

// Where the policy is: platform-paths.ts, which the command line reads before any schema.
export { defaultPolicyFile, POLICY_FILE_ENV, policyFile } from '../platform-paths.js';

export const PolicySchema = z.strictObject({
  imap: z.optional(
    z.strictObject({
      /** Host names accounts may use; "*.example.com" matches any name under example.com. */
      allowedHosts: z.optional(
        z
          .array(z.string().check(z.minLength(1)))
          .check(z.minLength(1, 'must list at least one host')),
      ),
      /** true: no account may use `"tls": "none"`. */
      requireTls: z.optional(z.boolean()),
    }),
  ),
  sync: z.optional(
    z.strictObject({
      /** Background syncs no more often than this (0, on demand only, stays allowed). */
      minIntervalSeconds: z.optional(z.int().check(z.gte(30), z.lte(86400))),
      /** Every account syncs headers only (true), or never (false); bodies come on demand. */
      headersOnly: z.optional(z.boolean()),
    }),
  ),
  log: z.optional(
    z.strictObject({
      level: z.optional(LogLevelSchema),
      maxSizeMB: z.optional(z.number().check(z.positive('must be more than 0'), z.lte(1024))),
      maxFiles: z.optional(z.int().check(z.gte(1), z.lte(100))),
      imapProtocol: z.optional(z.boolean()),
    }),
  ),
  server: z.optional(
    z.strictObject({
      /** Only `false`: the pane's port may never listen beyond loopback. */
      allowRemote: z.optional(z.literal(false, 'can only be false (forbid remote access)')),
    }),
  ),
});
export type Policy = z.infer<typeof PolicySchema>;

export interface LoadedPolicy {
  file: string;
  rules: Policy;
}

/** The policy in force, or null when there is none. A broken policy is an error, not "none". */
export function loadPolicy(file: string = policyFile()): LoadedPolicy | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ConfigError(`${file}: cannot read the admin policy (${code ?? err})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `${file}: the admin policy is not valid JSON (${jsonSyntaxProblem(err)})`,
    );
  }
  const parsed = PolicySchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues
        .map((issue) => `${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`)
        .join('\n'),
    );
  }
  return { file, rules: parsed.data };
}

export interface PolicyOutcome {
  config: RawConfig;
  /** Keys (`log.level`, `accounts[0].headersOnly`) whose value the policy decided. */
  keys: string[];
  /** One line per value of the user's file the policy replaced. */
  warnings: string[];
}

/**
 * Applies the policy to a validated config. `userSet(key)` says whether the user's file set
 * the key (a default the policy replaces is not worth a warning). Throws ConfigError, every
 * violation on its own line, when the config breaks a rule that cannot be enforced by
 * replacing a value.
 */
export function applyPolicy(
  raw: RawConfig,
  policy: LoadedPolicy,
  where: string,
  userSet: (key: string) => boolean,
): PolicyOutcome {
  const { rules, file } = policy;
  const config = structuredClone(raw);
  const keys: string[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  const by = (rule: string) => `the policy ${file} (${rule})`;

  /** Sets a locked key; warns when the user's own value differs. */
  const lock = <T>(key: string, rule: string, current: T, forced: T, set: (v: T) => void) => {
    keys.push(key);
    if (current === forced) return;
    set(forced);
    if (userSet(key)) {
      warnings.push(
        `${where}: ${key}: ${JSON.stringify(current)} is locked to ${JSON.stringify(forced)} by ${by(rule)}; using ${JSON.stringify(forced)}`,
      );
    }
  };

  if (rules.server?.allowRemote === false) {
    lock('server.allowRemote', 'server.allowRemote', config.server.allowRemote, false, (v) => {
      config.server.allowRemote = v;
    });
  }
  for (const name of ['level', 'maxSizeMB', 'maxFiles', 'imapProtocol'] as const) {
    const forced = rules.log?.[name];
    if (forced === undefined) continue;
    lock(`log.${name}`, `log.${name}`, config.log[name], forced, (v) => {
      (config.log as Record<string, unknown>)[name] = v;
    });
  }

  config.accounts.forEach((account, i) => {
    const at = `accounts[${i}]`;
    const allowed = rules.imap?.allowedHosts;
    if (allowed && !allowed.some((pattern) => hostMatches(account.imap.host, pattern))) {
      errors.push(
        `${where}: ${at}.imap.host: "${account.imap.host}" is not allowed by ${by('imap.allowedHosts')}; allowed: ${allowed.join(', ')}`,
      );
    }
    if (rules.imap?.requireTls && account.imap.tls === 'none') {
      errors.push(
        `${where}: ${at}.imap.tls: "none" is not allowed: ${by('imap.requireTls')} requires TLS; use "implicit" or "starttls"`,
      );
    }
    const minimum = rules.sync?.minIntervalSeconds;
    const interval = account.syncIntervalSeconds;
    // 0 is "on demand only": less load than any interval, so no minimum applies to it.
    if (minimum !== undefined && interval !== 0 && interval < minimum) {
      account.syncIntervalSeconds = minimum;
      keys.push(`${at}.syncIntervalSeconds`);
      if (userSet(`${at}.syncIntervalSeconds`)) {
        warnings.push(
          `${where}: ${at}.syncIntervalSeconds: ${interval} is below the minimum of ${minimum} set by ${by('sync.minIntervalSeconds')}; using ${minimum}`,
        );
      }
    }
    const headersOnly = rules.sync?.headersOnly;
    if (headersOnly !== undefined) {
      lock(`${at}.headersOnly`, 'sync.headersOnly', account.headersOnly, headersOnly, (v) => {
        account.headersOnly = v;
      });
    }
  });

  if (errors.length > 0) throw new ConfigError(errors.join('\n'));
  return { config, keys, warnings };
}

/** "imap.example.com" matches itself; "*.example.com" any name below example.com. */
export function hostMatches(host: string, pattern: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const wanted = pattern.toLowerCase().replace(/\.$/, '');
  if (wanted.startsWith('*.'))
    return name.endsWith(wanted.slice(1)) && name.length > wanted.length - 1;
  return name === wanted;
}
