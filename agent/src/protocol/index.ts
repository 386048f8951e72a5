/**
 * The StoreSync wire protocol: the one definition of every message exchanged between the
 * agent and the task pane over the WebSocket. Both sides import these schemas; the agent
 * validates every incoming command with them and the pane validates every incoming event.
 *
 * Events mirror MAPI's IMAPISyncProgressCallback: Progress(step, index, max) → `progress`,
 * Error(code, text) → `error`, Done(result) → `done`. Commands mirror
 * IMAPISync::SynchronizeInBackground, whose MAPISIB flags become booleans on `sync`.
 *
 * Keep this module free of Node and DOM APIs: it is bundled into the pane.
 */
import * as z from 'zod/mini';
import './zod-messages.js';

/**
 * Bumped on any incompatible change; the pane refuses an agent that speaks another one.
 * 2: commands need a paired token (`auth` / `pair`); events carry ids that can be resumed.
 */
export const PROTOCOL_VERSION = 2;

/** Largest frame either side accepts (bytes of UTF-8 JSON). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** The WebSocket endpoint, on the same origin as the pane. */
export const WS_PATH = '/ws';

const id = z.string().check(z.minLength(1), z.maxLength(200));
/** Set by the agent on every event it sends; a reconnecting pane resumes after the last one. */
const eventId = z.optional(z.int().check(z.positive()));

/** MAPISIB flags: which directions and which parts of the store to synchronise. */
export const SyncFlagsSchema = z.strictObject({
  /** MAPISIB_UPLOAD + MAPISIB_HIERARCHY: create/delete folders on the server. */
  uploadHierarchy: z.boolean(),
  /** MAPISIB_DOWNLOAD + MAPISIB_HIERARCHY: create/delete local folders. */
  downloadHierarchy: z.boolean(),
  /** MAPISIB_UPLOAD + MAPISIB_CONTENTS: push local messages, flags and deletions. */
  uploadContents: z.boolean(),
  /** MAPISIB_DOWNLOAD + MAPISIB_CONTENTS: pull messages, flags and expunges. */
  downloadContents: z.boolean(),
  /** SYNC_GLOBAL_HEADERS: store header blocks only; bodies come on demand. */
  headersOnly: z.boolean(),
  /** SYNC_ON_DEMAND: a user asked for it; pre-empts background work. */
  onDemand: z.boolean(),
});
export type SyncFlags = z.infer<typeof SyncFlagsSchema>;

/** A full two-way sync requested by a user. */
export const FULL_SYNC: SyncFlags = Object.freeze({
  uploadHierarchy: true,
  downloadHierarchy: true,
  uploadContents: true,
  downloadContents: true,
  headersOnly: false,
  onDemand: true,
});

/** What a sync counted; every field is a number of items, `bytes` excepted. */
export const SyncStatsSchema = z.strictObject({
  downloaded: z.int().check(z.nonnegative()),
  uploaded: z.int().check(z.nonnegative()),
  flagsPulled: z.int().check(z.nonnegative()),
  flagsPushed: z.int().check(z.nonnegative()),
  expungedLocal: z.int().check(z.nonnegative()),
  expungedRemote: z.int().check(z.nonnegative()),
  foldersCreated: z.int().check(z.nonnegative()),
  foldersDeleted: z.int().check(z.nonnegative()),
  foldersSynced: z.int().check(z.nonnegative()),
  /** Of the folders synced, those found unchanged on both sides (one SELECT each). */
  foldersUnchanged: z._default(z.int().check(z.nonnegative()), 0),
  foldersFailed: z.int().check(z.nonnegative()),
  bytes: z.int().check(z.nonnegative()),
});
export type SyncStats = z.infer<typeof SyncStatsSchema>;

export function emptyStats(): SyncStats {
  return {
    downloaded: 0,
    uploaded: 0,
    flagsPulled: 0,
    flagsPushed: 0,
    expungedLocal: 0,
    expungedRemote: 0,
    foldersCreated: 0,
    foldersDeleted: 0,
    foldersSynced: 0,
    foldersUnchanged: 0,
    foldersFailed: 0,
    bytes: 0,
  };
}

/** Machine-readable phase of a sync; `text` carries the human wording. */
export const SyncStepSchema = z.enum([
  'connecting',
  'listing-folders',
  'checking-folder',
  'downloading',
  'finishing',
]);
export type SyncStep = z.infer<typeof SyncStepSchema>;

/** Stable error codes. Their wording and hints live in the agent's error table. */
export const ErrorCodeSchema = z.enum([
  'AUTH_FAILED',
  'TLS_ERROR',
  'CONNECTION_FAILED',
  'CONNECTION_LOST',
  'SERVER_NO',
  'SERVER_BAD',
  'FOLDER_GONE',
  'FOLDER_NAME_INVALID',
  'FOLDER_KEPT',
  'UIDVALIDITY_CHANGED',
  'DISK_FULL',
  'QUOTA_EXCEEDED',
  'LOCAL_IO',
  'SECRET_UNAVAILABLE',
  'CANCELLED',
  'INTERNAL',
  'SERVER_ALERT',
  'MESSAGE_UNAVAILABLE',
  'FOLDER_UNOPENABLE',
  'STATE_REBUILT',
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/**
 * Failures after which the agent tries the account's pass again, a few times. While it does,
 * their error events are warnings that say when the next attempt comes ("retrying in 3 s");
 * once the run is over they are past: its result, or a final error, says how it went.
 */
export const RETRIED_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONNECTION_LOST',
  'CONNECTION_FAILED',
]);

/**
 * How bad an error event is. `error`: something did not sync (the run's result says so);
 * `warning` and `info`: worth telling the user, but the run still succeeded (a folder the
 * server renumbered and that was matched again, say). Absent means `error`, as agents that
 * predate the field only sent errors.
 */
export const ErrorSeveritySchema = z.enum(['info', 'warning', 'error']);
export type ErrorSeverity = z.infer<typeof ErrorSeveritySchema>;

export const SyncResultSchema = z.enum(['ok', 'error', 'cancelled']);
export type SyncResult = z.infer<typeof SyncResultSchema>;

export const SyncTriggerSchema = z.enum(['user', 'schedule', 'cli']);
export type SyncTrigger = z.infer<typeof SyncTriggerSchema>;

// ---------------------------------------------------------------- events (agent → pane)

/** A sync run was accepted and is starting. */
export const SyncStartedEventSchema = z.strictObject({
  type: z.literal('syncStarted'),
  eventId,
  syncId: id,
  accountIds: z.array(id),
  flags: SyncFlagsSchema,
  trigger: SyncTriggerSchema,
  at: z.number(),
});

/** IMAPISyncProgressCallback::Progress(step, index, max), per account and folder. */
export const ProgressEventSchema = z.strictObject({
  type: z.literal('progress'),
  eventId,
  syncId: id,
  accountId: id,
  /** Folder path with "/" as the hierarchy separator; null for account-level steps. */
  folder: z.nullable(z.string()),
  step: SyncStepSchema,
  /** Human wording of the step, ready to show ("Downloading messages 12 of 200 in Archive"). */
  text: z.string(),
  index: z.int().check(z.nonnegative()),
  indexMax: z.int().check(z.nonnegative()),
  /** Message bytes transferred so far in this sync for this account. */
  bytes: z.int().check(z.nonnegative()),
  at: z.number(),
});

/** IMAPISyncProgressCallback::Error(code, text), with what the user can do about it. */
export const ErrorEventSchema = z.strictObject({
  type: z.literal('error'),
  eventId,
  syncId: id,
  accountId: z.nullable(id),
  code: ErrorCodeSchema,
  message: z.string(),
  hint: z.string(),
  folder: z.nullable(z.string()),
  retryable: z.boolean(),
  severity: z.optional(ErrorSeveritySchema),
  at: z.number(),
});

/** IMAPISyncProgressCallback::Done(result). */
export const DoneEventSchema = z.strictObject({
  type: z.literal('done'),
  eventId,
  syncId: id,
  result: SyncResultSchema,
  stats: SyncStatsSchema,
  startedAt: z.number(),
  finishedAt: z.number(),
});

/** Events the sync engine emits; the agent forwards them unchanged. */
export const SyncEventSchema = z.discriminatedUnion('type', [
  SyncStartedEventSchema,
  ProgressEventSchema,
  ErrorEventSchema,
  DoneEventSchema,
]);
export type SyncStartedEvent = z.infer<typeof SyncStartedEventSchema>;
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
export type ErrorEvent = z.infer<typeof ErrorEventSchema>;
export type DoneEvent = z.infer<typeof DoneEventSchema>;
export type SyncEvent = z.infer<typeof SyncEventSchema>;

export const FolderSummarySchema = z.strictObject({
  /** "/" between levels, INBOX first. */
  path: z.string(),
  messageCount: z.int().check(z.nonnegative()),
  /** Messages stored headers-only whose body comes on demand. */
  partialCount: z.int().check(z.nonnegative()),
  lastSyncAt: z.nullable(z.number()),
});
export type FolderSummary = z.infer<typeof FolderSummarySchema>;

export const AccountSummarySchema = z.strictObject({
  id,
  /** Server host shown to the user; never a credential. */
  host: z.string(),
  folderCount: z.int().check(z.nonnegative()),
  messageCount: z.int().check(z.nonnegative()),
  lastSyncAt: z.nullable(z.number()),
  lastResult: z.nullable(SyncResultSchema),
  folders: z.array(FolderSummarySchema),
});
export type AccountSummary = z.infer<typeof AccountSummarySchema>;

/** One finished (or running) sync run, newest first in lists. */
export const HistoryEntrySchema = z.strictObject({
  syncId: id,
  trigger: SyncTriggerSchema,
  flags: SyncFlagsSchema,
  accountIds: z.array(id),
  startedAt: z.number(),
  finishedAt: z.nullable(z.number()),
  result: z.nullable(SyncResultSchema),
  stats: z.nullable(SyncStatsSchema),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

/** An account's counts changed (a run finished, the config was reloaded). */
export const AccountStateEventSchema = z.strictObject({
  type: z.literal('accountState'),
  account: AccountSummarySchema,
});
export type AccountStateEvent = z.infer<typeof AccountStateEventSchema>;

/** The agent is shutting down (or restarting); the pane should reconnect later. */
export const AgentStoppingMessageSchema = z.strictObject({
  type: z.literal('agentStopping'),
  reason: z.string(),
});
export type AgentStoppingMessage = z.infer<typeof AgentStoppingMessageSchema>;

/** Where a message is stored, for the pane's lookup of the item open in Outlook. */
export const MessageLocationSchema = z.strictObject({
  accountId: id,
  folder: z.string(),
  uid: z.int().check(z.positive()),
  size: z.int().check(z.nonnegative()),
  partial: z.boolean(),
  /** When its folder last finished a sync. */
  syncedAt: z.nullable(z.number()),
});
export type MessageLocation = z.infer<typeof MessageLocationSchema>;

/** How many history entries the snapshot carries. */
export const SNAPSHOT_HISTORY = 20;

/** First message on every connection. */
export const HelloMessageSchema = z.strictObject({
  type: z.literal('hello'),
  protocolVersion: z.int(),
  agentVersion: z.string(),
  /** Changes at every agent start: event ids only mean something within one instance. */
  instanceId: id,
});

/** The state a freshly connected pane needs before events make sense. */
export const SnapshotMessageSchema = z.strictObject({
  type: z.literal('snapshot'),
  accounts: z.array(AccountSummarySchema),
  /** Syncs running right now, with their latest progress per account. */
  running: z.array(
    z.strictObject({
      syncId: id,
      accountIds: z.array(id),
      startedAt: z.number(),
      progress: z.array(ProgressEventSchema),
    }),
  ),
  /** The last SNAPSHOT_HISTORY runs, newest first. */
  history: z.array(HistoryEntrySchema),
  /** Id of the newest event sent before this snapshot; 0 when none. */
  lastEventId: z.int().check(z.nonnegative()),
});

/** Answer to one command, matched by requestId. */
export const ReplyMessageSchema = z.strictObject({
  type: z.literal('reply'),
  requestId: id,
  ok: z.boolean(),
  /** For `sync`: the id of the run that was started. */
  syncId: z.optional(id),
  /** For `pair`: the token to keep and present with `auth` from now on. */
  token: z.optional(z.string()),
  /** For `getHistory`. */
  history: z.optional(z.array(HistoryEntrySchema)),
  /** For `lookupMessage`: every place the message is stored (none: not synced). */
  locations: z.optional(z.array(MessageLocationSchema)),
  /**
   * For `fetchBody`: the message's full size on disk, and whether it had to be fetched; for
   * the command line (its own token) also the file's path, which a pane has no use for.
   */
  body: z.optional(
    z.strictObject({
      size: z.int().check(z.nonnegative()),
      fetched: z.boolean(),
      path: z.optional(z.string()),
    }),
  ),
  error: z.optional(z.strictObject({ code: z.string(), message: z.string() })),
});

/** A frame that could not be understood at all (no requestId to answer to). */
export const ProtocolErrorMessageSchema = z.strictObject({
  type: z.literal('protocolError'),
  code: z.enum(['BAD_FRAME', 'FRAME_TOO_LARGE']),
  message: z.string(),
});

export const ServerMessageSchema = z.discriminatedUnion('type', [
  HelloMessageSchema,
  SnapshotMessageSchema,
  ReplyMessageSchema,
  ProtocolErrorMessageSchema,
  AgentStoppingMessageSchema,
  AccountStateEventSchema,
  SyncStartedEventSchema,
  ProgressEventSchema,
  ErrorEventSchema,
  DoneEventSchema,
]);
export type HelloMessage = z.infer<typeof HelloMessageSchema>;
export type SnapshotMessage = z.infer<typeof SnapshotMessageSchema>;
export type ReplyMessage = z.infer<typeof ReplyMessageSchema>;
export type ProtocolErrorMessage = z.infer<typeof ProtocolErrorMessageSchema>;
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

// ---------------------------------------------------------------- commands (pane → agent)

/** IMAPISync::SynchronizeInBackground. No accountId: every account. */
export const SyncCommandSchema = z.strictObject({
  type: z.literal('sync'),
  requestId: id,
  accountId: z.optional(id),
  /** Only these folders ("/" between levels); absent or empty: every folder selected. */
  folders: z.optional(
    z.array(z.string().check(z.minLength(1), z.maxLength(1000))).check(z.maxLength(1000)),
  ),
  flags: SyncFlagsSchema,
});

export const CancelCommandSchema = z.strictObject({
  type: z.literal('cancel'),
  requestId: id,
  syncId: id,
});

/** Where a reconnecting pane left off: missed error and done events are sent again. */
const ResumeSchema = z.strictObject({
  instanceId: id,
  lastEventId: z.int().check(z.nonnegative()),
});

/** First command on a connection: the token a `pair` gave. Nothing else is served before. */
export const AuthCommandSchema = z.strictObject({
  type: z.literal('auth'),
  requestId: id,
  token: z.string().check(z.minLength(1), z.maxLength(200)),
  resume: z.optional(ResumeSchema),
});

/**
 * Trades a one-time code (`storesync pair`, typed by the user) or a one-time link token
 * (`storesync open`) for a token the pane keeps; authenticates the connection too.
 */
export const PairCommandSchema = z.strictObject({
  type: z.literal('pair'),
  requestId: id,
  code: z.string().check(z.minLength(1), z.maxLength(200)),
  /** Shown in the agent's list of paired clients ("Outlook on the web", a browser name). */
  clientName: z.optional(z.string().check(z.maxLength(200))),
});

/** SYNC_ON_DEMAND for one message: its full body into the Maildir. */
export const FetchBodyCommandSchema = z.strictObject({
  type: z.literal('fetchBody'),
  requestId: id,
  accountId: id,
  folder: z.string().check(z.minLength(1), z.maxLength(1000)),
  uid: z.int().check(z.positive()),
});

/** Which account and folder hold the message with this Message-ID (the item open in Outlook). */
export const LookupMessageCommandSchema = z.strictObject({
  type: z.literal('lookupMessage'),
  requestId: id,
  internetMessageId: z.string().check(z.minLength(1), z.maxLength(1000)),
});

export const GetHistoryCommandSchema = z.strictObject({
  type: z.literal('getHistory'),
  requestId: id,
  limit: z.optional(z.int().check(z.gte(1), z.lte(500))),
  /** Only runs that started before this time (paging back). */
  before: z.optional(z.number()),
});

export const ClientMessageSchema = z.discriminatedUnion('type', [
  AuthCommandSchema,
  PairCommandSchema,
  SyncCommandSchema,
  CancelCommandSchema,
  FetchBodyCommandSchema,
  LookupMessageCommandSchema,
  GetHistoryCommandSchema,
]);
export type SyncCommand = z.infer<typeof SyncCommandSchema>;
export type CancelCommand = z.infer<typeof CancelCommandSchema>;
export type AuthCommand = z.infer<typeof AuthCommandSchema>;
export type PairCommand = z.infer<typeof PairCommandSchema>;
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** Parses one frame of JSON into a validated message, or says in one line why it is not one. */
export function parseFrame<T>(
  schema: z.ZodMiniType<T>,
  text: string,
): { ok: true; value: T } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not valid JSON' };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') + ': ' : '';
  return { ok: false, error: where + (issue?.message ?? 'invalid message') };
}
