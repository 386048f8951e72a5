/**
 * The config file's shape. Strict objects: an unknown key is far more often a typo than an
 * intent, and a typo silently ignored is a setting the user thinks is on.
 */
import { z } from 'zod';

export const DEFAULT_PORT = 4643;

const SecretSourceSchema = z.union([
  z.strictObject({ env: z.string().min(1, 'must name an environment variable') }),
  z.strictObject({ file: z.string().min(1, 'must be a file path') }),
  z.strictObject({ command: z.string().min(1, 'must be a shell command') }),
]);
export type SecretSource = z.infer<typeof SecretSourceSchema>;

/** The SASL mechanisms that carry an OAuth2 bearer token (RFC 7628, and Google's older one). */
export const OAuthMethodSchema = z.enum(['XOAUTH2', 'OAUTHBEARER']);
export type OAuthMethod = z.infer<typeof OAuthMethodSchema>;

const ImapSchema = z
  .strictObject({
    host: z.string().min(1, 'must be a host name or address'),
    port: z.number().int().min(1).max(65535).optional(),
    tls: z.enum(['implicit', 'starttls', 'none']).default('implicit'),
    user: z.string().min(1, 'must not be empty'),
    /** Exactly one of password and accessToken (checked below, naming the field). */
    password: SecretSourceSchema.optional(),
    /** An OAuth2 access token, fetched afresh for every connection (tokens expire). */
    accessToken: SecretSourceSchema.optional(),
    /** Which mechanism carries the token; by default the server's offer decides. */
    authMethod: OAuthMethodSchema.optional(),
    /** Accept a certificate no trusted CA signed (a private server). Off by default. */
    allowSelfSigned: z.boolean().default(false),
  })
  .superRefine((imap, ctx) => {
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
  });

const AccountSchema = z.strictObject({
  id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ),
  imap: ImapSchema,
  maildir: z.string().min(1, 'must be a directory path'),
  folders: z
    .strictObject({
      include: z.array(z.string().min(1)).default(['*']),
      exclude: z.array(z.string().min(1)).default([]),
    })
    .default({ include: ['*'], exclude: [] }),
  /** Background sync at start and every this many seconds (the agent only); 0: only on demand. */
  syncIntervalSeconds: z
    .number()
    .int()
    .refine((n) => n === 0 || (n >= 30 && n <= 86400), 'must be 0 (off) or 30–86400 seconds')
    .default(300),
  /** Folders watched with IDLE so new mail lands within a second (the agent only). */
  idleFolders: z.array(z.string().min(1)).default(['INBOX']),
  /** IMAP connections a sync of this account may use at once (folders sync in parallel). */
  maxConnections: z.number().int().min(1).max(8).default(2),
  /** What a message deleted from the Maildir becomes on the server. */
  deletePolicy: z.enum(['expunge', 'trash', 'keep-remote']).default('expunge'),
  /** Every sync of this account stores header blocks only; bodies come on demand. */
  headersOnly: z.boolean().default(false),
  /**
   * The character between a Maildir file's unique name and its flags: ":" by the standard;
   * Windows cannot store ":", so ";" (the default there) or "!" as other Windows tools use.
   * Chosen when the store is first synced and kept for it from then on.
   */
  maildirInfoSeparator: z.enum([':', ';', '!']).optional(),
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
  level: LogLevelSchema.default('info'),
  /** The current file is rotated at this size (MiB; fractions allowed). */
  maxSizeMB: z.number().positive('must be more than 0').max(1024).default(10),
  /** Files kept, the current one included. */
  maxFiles: z.number().int().min(1).max(100).default(5),
  /** Every IMAP command and response in the log, credentials masked (for support). */
  imapProtocol: z.boolean().default(false),
});
export type LogConfig = z.infer<typeof LogSchema>;

export const ConfigSchema = z
  .strictObject({
    dataDir: z.string().min(1).optional(),
    server: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
        allowRemote: z.boolean().default(false),
      })
      .default({ host: '127.0.0.1', port: DEFAULT_PORT, allowRemote: false }),
    accounts: z.array(AccountSchema).default([]),
    log: LogSchema.default({ level: 'info', maxSizeMB: 10, maxFiles: 5, imapProtocol: false }),
  })
  .superRefine((config, ctx) => {
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
  });

export type RawConfig = z.infer<typeof ConfigSchema>;
export type RawAccount = RawConfig['accounts'][number];
