/**
 * Every failure the engine reports carries a stable code, a one-line message and a hint the
 * user can act on. This table is the one place their wording lives.
 */
import type { ErrorCode, ErrorSeverity } from '../protocol/index.js';

interface ErrorEntry {
  hint: string;
  retryable: boolean;
  /** Default 'error'; anything else is reported without failing the run. */
  severity?: ErrorSeverity;
}

export const ERROR_TABLE: Record<ErrorCode, ErrorEntry> = {
  AUTH_FAILED: {
    hint: 'Check the user name and password in the config (the password source it names), then sync again.',
    retryable: false,
  },
  TLS_ERROR: {
    hint: 'Check the "tls" mode and port (implicit is usually 993, starttls 143); for a private server with its own certificate set "allowSelfSigned": true.',
    retryable: false,
  },
  CONNECTION_FAILED: {
    hint: 'Check the server host and port, and that this machine can reach it (network, VPN, firewall).',
    retryable: true,
  },
  CONNECTION_LOST: {
    hint: 'The connection dropped; sync again. What was already saved is kept.',
    retryable: true,
  },
  SERVER_NO: {
    hint: 'The server refused the request; its own words are in the message.',
    retryable: true,
  },
  SERVER_BAD: {
    hint: 'The server did not understand a command; please report this with the sync id.',
    retryable: false,
  },
  FOLDER_GONE: {
    hint: 'The folder was deleted or renamed on the server while syncing; the next sync picks up the change.',
    retryable: true,
  },
  FOLDER_NAME_INVALID: {
    hint: 'This folder name cannot be stored as a directory; rename it on the server or exclude it in the config.',
    retryable: false,
  },
  FOLDER_KEPT: {
    hint: 'The folder was deleted on one side, but the other side has messages the last sync had not seen: the folder is there again with those only. Check them, then delete the folder again if you mean to.',
    retryable: false,
    // Nothing lost and nothing stuck: the folder syncs on with the messages nobody had seen.
    severity: 'warning',
  },
  UIDVALIDITY_CHANGED: {
    hint: 'The server renumbered this folder; its messages are being matched again. Nothing is lost.',
    retryable: false,
    // Handled by matching the files again: news for the user, not a failure.
    severity: 'info',
  },
  DISK_FULL: {
    hint: 'Free some disk space where the Maildir lives, then sync again; nothing was corrupted.',
    retryable: true,
  },
  QUOTA_EXCEEDED: {
    hint: 'The mailbox on the server is full; delete or archive mail there (or raise the quota), then sync again. The message stays here meanwhile.',
    retryable: true,
  },
  LOCAL_IO: {
    hint: 'Check that the Maildir and data directories exist and are writable by this user.',
    retryable: true,
  },
  SECRET_UNAVAILABLE: {
    hint: 'The password could not be read from where the config says it lives; fix that source.',
    retryable: false,
  },
  CANCELLED: {
    hint: 'The sync was cancelled; what was already saved is kept.',
    retryable: true,
  },
  INTERNAL: {
    hint: 'An unexpected error; please report it with the sync id and the agent log.',
    retryable: true,
  },
  SERVER_ALERT: {
    hint: 'Your mail server asked for this to be shown to you: it is its message, not StoreSync’s. Whoever runs the server can say more.',
    retryable: false,
    // The server's news for the user; the run goes on.
    severity: 'warning',
  },
  MESSAGE_UNAVAILABLE: {
    hint: 'The next sync asks for these messages again. If they never come, open them in the server’s webmail: the server may be unable to hand them out.',
    retryable: true,
    // The rest of the folder synced; what is owed is fetched by a later pass.
    severity: 'warning',
  },
  FOLDER_UNOPENABLE: {
    hint: 'Repair or rename the folder with the server’s own tools (or ask whoever runs it), or exclude it in the account’s "folders" in the config. The other folders sync; nothing of this one is deleted here.',
    retryable: false,
    // Nothing any client can do on its side; the rest of the account synced.
    severity: 'warning',
  },
  STATE_REBUILT: {
    hint: 'Nothing to do: the Maildir’s files were matched to the server’s messages again, so nothing is downloaded or uploaded twice. If it happens again, check the disk; the damaged copy is kept for support.',
    retryable: false,
    // Healed within the run: news for the user and support, not a failure.
    severity: 'info',
  },
};

/**
 * A failure with its code; whatever throws it decides the wording of the message, and may
 * replace the table's hint when it knows better (a refused OAuth2 token is not a password).
 */
export class SyncFailure extends Error {
  override readonly name = 'SyncFailure';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly folder: string | null = null,
    private readonly specificHint: string | null = null,
  ) {
    super(message);
  }
  get hint(): string {
    return this.specificHint ?? ERROR_TABLE[this.code].hint;
  }
  get retryable(): boolean {
    return ERROR_TABLE[this.code].retryable;
  }
  get severity(): ErrorSeverity {
    return ERROR_TABLE[this.code].severity ?? 'error';
  }
}

/** How long a connection may hear nothing from the server before it is given up. */
export const SERVER_SILENCE_MS = 5 * 60_000;

interface ImapFlowErrorFields {
  code?: string;
  /** The text of the BYE that closed the connection (imapflow). */
  reason?: string;
  authenticationFailed?: boolean;
  responseStatus?: string;
  responseText?: string;
  serverResponseCode?: string;
}

/** Maps whatever was thrown (imapflow, Node, ours) to a SyncFailure with a useful message. */
export function classifyError(err: unknown, folder: string | null = null): SyncFailure {
  if (err instanceof SyncFailure) return err;
  const e = (err ?? {}) as ImapFlowErrorFields & Error;
  const text = e.responseText || e.message || String(err);
  if (e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new SyncFailure('AUTH_FAILED', `Login refused by the server: ${text}`, folder);
  }
  if (e.reason && /^ClosedAfterConnect/.test(e.code ?? '')) {
    // Turned away at the door ("too many connections", "server shutting down"): its words.
    return new SyncFailure(
      'CONNECTION_FAILED',
      `The server closed the connection at once: ${e.reason}`,
      folder,
    );
  }
  switch (e.code) {
    case 'ETIMEOUT':
      return new SyncFailure(
        'CONNECTION_LOST',
        `The server stopped answering (nothing received for ${SERVER_SILENCE_MS / 60_000} minutes)`,
        folder,
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new SyncFailure('DISK_FULL', 'The disk holding the Maildir is full', folder);
    case 'SQLITE_FULL':
      return new SyncFailure(
        'DISK_FULL',
        "The disk holding StoreSync's data (the sync state) is full",
        folder,
        'Free some disk space where the dataDir lives, then sync again; nothing was corrupted.',
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new SyncFailure('LOCAL_IO', `Cannot write the Maildir: ${e.message}`, folder);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return new SyncFailure('CONNECTION_FAILED', `Cannot reach the server (${e.code})`, folder);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
    case 'NoConnection':
    case 'ClosedAfterConnectText':
    case 'ClosedAfterConnectTLS':
      return new SyncFailure(
        'CONNECTION_LOST',
        `Connection to the server lost (${e.code})`,
        folder,
      );
  }
  if (
    /certificate|self[- ]signed|SSL|TLS/i.test(e.code ?? '') ||
    /certificate|ssl routines|tls/i.test(text)
  ) {
    return new SyncFailure('TLS_ERROR', `TLS handshake failed: ${text}`, folder);
  }
  if (e.serverResponseCode === 'OVERQUOTA' || /\bquota\b/i.test(e.responseText ?? '')) {
    return new SyncFailure('QUOTA_EXCEEDED', `The server refused: ${text}`, folder);
  }
  if (
    e.serverResponseCode === 'NONEXISTENT' ||
    // Dovecot's "Mailbox was deleted under us": another client deleted it while it was open.
    /nonexistent|doesn't exist|does not exist|deleted under us/i.test(text)
  ) {
    return new SyncFailure('FOLDER_GONE', `The server no longer has this folder: ${text}`, folder);
  }
  if (e.responseStatus === 'NO')
    return new SyncFailure('SERVER_NO', `Server said NO: ${text}`, folder);
  if (e.responseStatus === 'BAD')
    return new SyncFailure('SERVER_BAD', `Server said BAD: ${text}`, folder);
  return new SyncFailure('INTERNAL', text, folder);
}
