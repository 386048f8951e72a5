/**
 * What makes the engine report each error code, for the error catalogue (docs/errors.md).
 * The fix is the hint in the engine's own ERROR_TABLE; this is only the "why". A Record over
 * ErrorCode, so a new code does not compile until its cause is written here.
 */
import type { ErrorCode } from '../../agent/src/protocol/index.js';

export const ERROR_CAUSES: Record<ErrorCode, string> = {
  AUTH_FAILED:
    'The server refused the login (a wrong user name or password, a locked or disabled account, or a server that answers AUTHENTICATIONFAILED). With an OAuth2 `accessToken`: the token command failed or printed nothing, the server refused the token, or it does not offer the `authMethod` the config names.',
  TLS_ERROR:
    'The TLS handshake with the IMAP server failed: its certificate is not signed by a CA this machine trusts (a private or self-signed server), names another host, has expired, or the `tls` mode does not match the port (implicit TLS against a plain-text port, or the reverse).',
  CONNECTION_FAILED:
    'The server could not be reached at all: the host name does not resolve (`ENOTFOUND`, `EAI_AGAIN`), nothing listens on the port (`ECONNREFUSED`), or there is no route to it (`EHOSTUNREACH`, `ENETUNREACH`).',
  CONNECTION_LOST:
    'An open connection ended mid-sync: reset by the server or a firewall (`ECONNRESET`, `EPIPE`), timed out (`ETIMEDOUT`), or closed by the server right after connecting.',
  SERVER_NO:
    "The server answered NO to a command for a reason StoreSync has no more specific code for; the message carries the server's own text.",
  SERVER_BAD:
    'The server answered BAD: it did not understand or accept a command StoreSync sent. This points to an incompatibility between StoreSync and the server.',
  FOLDER_GONE:
    "A folder disappeared while it was being synced (deleted or renamed on the server), a `--folder` named on the command line does not exist on the server or is excluded by the config, or the folder's local directory was removed during the sync.",
  FOLDER_NAME_INVALID:
    "A folder name cannot be carried to the other side: a server folder name that cannot be a directory on this machine (a character or a name the file system does not allow), a folder made here whose name the server cannot take (it contains the server's hierarchy delimiter), or two directories of the Maildir that both store the same folder name (one made by hand beside another spelling). The message names the folder and the hint says what to rename or move; nothing of the folder is deleted meanwhile.",
  FOLDER_KEPT:
    'A folder was deleted on one side, but the other side holds messages the last sync has not seen; deleting it would lose them. The deletion is carried out for the messages the last sync had, and the folder is made again where it was deleted to hold the others (when the sync may change folders there). When the server would not say what the folder holds, the folder is kept as it is and the next sync asks again.',
  UIDVALIDITY_CHANGED:
    'The server renumbered a folder (its UIDVALIDITY changed, as after a server migration or a mailbox restore). StoreSync matches the stored files to the new numbers by Message-ID and size instead of downloading them again. Informational: the sync still succeeds.',
  DISK_FULL:
    "Writing a message failed because the disk holding the Maildir is full or the user's disk quota is reached (`ENOSPC`, `EDQUOT`). The message being written is not left half-written.",
  QUOTA_EXCEEDED:
    'The server refused to store a message because the mailbox is over its quota (`OVERQUOTA`).',
  LOCAL_IO:
    'A file or directory of the Maildir or the data directory could not be written (`EACCES`, `EPERM`, `EROFS`: permissions, a read-only file system), or a message file recorded in the state is missing from the Maildir.',
  SECRET_UNAVAILABLE:
    'The password could not be read from the source the config names: the environment variable is not set, the file cannot be read, or the command failed or printed nothing.',
  CANCELLED: 'Someone cancelled the sync (the pane, the CLI or the agent stopping).',
  INTERNAL:
    'Something failed that StoreSync does not recognise; the message carries the underlying error text.',
  SERVER_ALERT:
    'The mail server sent an ALERT, a message it wants shown to the user (a mailbox nearly full, maintenance to come, a login to confirm elsewhere). RFC 9051 asks clients to show it; StoreSync shows it once per run and account, and logs it.',
  MESSAGE_UNAVAILABLE:
    'The server did not send messages it still has when they were asked for: it left them out of its answer, sent them without a body, under another UID, or in an answer that could not be read (a literal whose length was not what it announced). What did come is stored; the folder is not marked in sync, so the next sync looks for the missing messages again.',
  FOLDER_UNOPENABLE:
    'The server lists a folder but refuses to open it, saying it does not exist, and still lists it when asked again: a folder the server holds under a name it cannot use (with Dovecot, a directory made in its mail store by another program under a name that is not modified UTF-7, such as `R&D`). No client can open it until it is repaired on the server.',
  STATE_REBUILT:
    'The sync state database (`state.db` in the data directory) had a damaged page: a disk or file system fault, or a copy of the file taken while it was written. StoreSync moved it aside as `state.db.damaged-<time>` (kept for support) and started an empty state, which the same sync rebuilds from the Maildir and the server. Informational: the sync still succeeds.',
};
