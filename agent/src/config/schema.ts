/**
 * The config file's shape. Strict objects: an unknown key is far more often a typo than an
 * intent, and a typo silently ignored is a setting the user thinks is on.
 */
import * as z from 'zod/mini';
import '../protocol/zod-messages.js';

export const DEFAULT_PORT = 4643;

const SecretSourceSchema = z.union(
  [
    z.strictObject({ env: z.string().check(z.minLength(1, 'must name an environment variable')) }),
    z.strictObject({ file: z.string().check(z.minLength(1, 'must be a file path')) }),
    z.strictObject({ command: z.string().check(z.minLength(1, 'must be a shell command')) }),
  ],
  // The usual mistake is the secret itself written here: say what goes here instead (zod
  // would say "Invalid input").
  {
    error:
      'must say where the secret is: {"env": "VARIABLE"}, {"file": "path"} or {"command": "shell command"}, one of them, not the secret itself',
  },
);
export type SecretSource = z.infer<typeof SecretSourceSchema>;

/** The SASL mechanisms that carry an OAuth2 bearer token (RFC 7628, and Google's older one). */
export const OAuthMethodSchema = z.enum(['XOAUTH2', 'OAUTHBEARER']);
export type OAuthMethod = z.infer<typeof OAuthMethodSchema>;

const ImapSchema = z
  .strictObject({
    host: z.string().check(z.minLength(1, 'must be a host name or address')),
    port: z.optional(z.int().check(z.gte(1), z.lte(65535))),
    tls: z._default(z.enum(['implicit', 'starttls', 'none']), 'implicit'),
    user: z.string().check(z.minLength(1, 'must not be empty')),
    /** Exactly one of password and accessToken (checked below, naming the field). */
    password: z.optional(SecretSourceSchema),
    /** An OAuth2 access token, fetched afresh for every connection (tokens expire). */
    accessToken: z.optional(SecretSourceSchema),
    /** Which mechanism carries the token; by default the server's offer decides. */
    authMethod: z.optional(OAuthMethodSchema),
    /** Accept a certificate no trusted CA signed (a private server). Off by default. */
    allowSelfSigned: z._default(z.boolean(), false),
  })
  .check(
    z.superRefine((imap, ctx) => {
      if (imap.password && imap.accessToken) {
        ctx.addIssue({
          code: 'custom',
          path: ['accessToken'],
          message: 'give either "password" or "accessToken", not both',
        });
      } else if (!imap.password && !imap.accessToken) {
        ctx.addIssue({
          code: 'custom',
          path: ['password'],
          message: 'required (or "accessToken" for an OAuth2 login)',
        });
      }
      if (imap.authMethod && !imap.accessToken) {
        ctx.addIssue({
          code: 'custom',
          path: ['authMethod'],
          message: 'only applies to an "accessToken" login',
        });
      }
    }),
  );

const AccountSchema = z.strictObject({
  id: z
    .string()
    .check(
      z.regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      ),
    ),
  imap: ImapSchema,
  maildir: z.string().check(z.minLength(1, 'must be a directory path')),
  folders: z._default(
    z.strictObject({
      include: z._default(z.array(z.string().check(z.minLength(1))), ['*']),
      exclude: z._default(z.array(z.string().check(z.minLength(1))), []),
    }),
    { include: ['*'], exclude: [] },
  ),
  /** Background sync at start and every this many seconds (the agent only); 0: only on demand. */
  syncIntervalSeconds: z._default(
    z
      .int()
      .check(
        z.refine((n) => n === 0 || (n >= 30 && n <= 86400), 'must be 0 (off) or 30–86400 seconds'),
      ),
    300,
  ),
  /** Folders watched with IDLE so new mail lands within a second (the agent only). */
  idleFolders: z._default(z.array(z.string().check(z.minLength(1))), ['INBOX']),
  /** IMAP connections a sync of this account may use at once (folders sync in parallel). */
  maxConnections: z._default(z.int().check(z.gte(1), z.lte(8)), 2),
  /** What a message deleted from the Maildir becomes on the server. */
  deletePolicy: z._default(z.enum(['expunge', 'trash', 'keep-remote']), 'expunge'),
  /** Every sync of this account stores header blocks only; bodies come on demand. */
  headersOnly: z._default(z.boolean(), false),
  /**
   * The character between a Maildir file's unique name and its flags: ":" by the standard;
   * Windows cannot store ":", so ";" (the default there) or "!" as other Windows tools use.
   * Chosen when the store is first synced and kept for it from then on.
   */
  maildirInfoSeparator: z.optional(z.enum([':', ';', '!'])),
});

/** The agent's own log (agent/src/logging.ts); STORESYNC_LOG_LEVEL overrides `level`. */
export const LogLevelSchema = z.enum([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

const LogSchema = z.strictObject({
  level: z._default(LogLevelSchema, 'info'),
  /** The current file is rotated at this size (MiB; fractions allowed). */
  maxSizeMB: z._default(z.number().check(z.positive('must be more than 0'), z.lte(1024)), 10),
  /** Files kept, the current one included. */
  maxFiles: z._default(z.int().check(z.gte(1), z.lte(100)), 5),
  /** Every IMAP command and response in the log, credentials masked (for support). */
  imapProtocol: z._default(z.boolean(), false),
});
export type LogConfig = z.infer<typeof LogSchema>;

export const ConfigSchema = z
  .strictObject({
    dataDir: z.optional(z.string().check(z.minLength(1))),
    server: z._default(
      z.strictObject({
        host: z._default(z.string().check(z.minLength(1)), '127.0.0.1'),
        port: z._default(z.int().check(z.gte(0), z.lte(65535)), DEFAULT_PORT),
        allowRemote: z._default(z.boolean(), false),
      }),
      { host: '127.0.0.1', port: DEFAULT_PORT, allowRemote: false },
    ),
    accounts: z._default(z.array(AccountSchema), []),
    log: z._default(LogSchema, { level: 'info', maxSizeMB: 10, maxFiles: 5, imapProtocol: false }),
  })
  .check(
    z.superRefine((config, ctx) => {
      const seen = new Set<string>();
      config.accounts.forEach((account, index) => {
        if (seen.has(account.id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['accounts', index, 'id'],
            message: `duplicate account id "${account.id}"`,
          });
        }
        seen.add(account.id);
      });
    }),
  );

export type RawConfig = z.infer<typeof ConfigSchema>;
export type RawAccount = RawConfig['accounts'][number];
