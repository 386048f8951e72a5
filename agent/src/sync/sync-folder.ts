/**
 * One folder's sync: make sure its directory exists, open it on the server, repair what an
 * interrupted run left, then run the content steps the MAPISIB flags ask for.
 */
import type { ImapFlow } from 'imapflow';
import { downloadNewMessages } from './download-new-messages.js';
import { SyncFailure } from './errors.js';
import type { RemoteFolder } from './list-folders.js';
import type { SyncLogger } from './logger.js';
import { maildirLetters } from './maildir/flags.js';
import { folderDirectory, folderSegments } from './maildir/folder-path.js';
import { MaildirFolder } from './maildir/maildir-folder.js';
import type { StateDb } from './state-db.js';

export interface FolderSyncInput {
  client: ImapFlow;
  state: StateDb;
  accountId: string;
  maildirRoot: string;
  remote: RemoteFolder;
  downloadContents: boolean;
  signal: AbortSignal;
  log: SyncLogger;
  onMessage(index: number, total: number, bytes: number): void;
}

export interface FolderSyncResult {
  downloaded: number;
  bytes: number;
  created: boolean;
}

export async function syncFolder(input: FolderSyncInput): Promise<FolderSyncResult> {
  const { client, state, remote, log } = input;
  const dir = folderDirectory(input.maildirRoot, folderSegments(remote.path, '/'));
  const local = new MaildirFolder(dir);
  const folder = state.folder(input.accountId, remote.path, remote.serverPath, remote.delimiter);
  const created = folder.uidValidity === null;
  await local.ensure();
  if (!input.downloadContents) return { downloaded: 0, bytes: 0, created };

  // EXAMINE: this pass only reads, so it must not clear \Recent for other clients.
  const mailbox = await client.mailboxOpen(remote.serverPath, { readOnly: true });
  const uidValidity = Number(mailbox.uidValidity);
  if (folder.uidValidity !== null && folder.uidValidity !== uidValidity) {
    throw new SyncFailure(
      'UIDVALIDITY_CHANGED',
      `The server renumbered "${remote.path}" (UIDVALIDITY ${folder.uidValidity} → ${uidValidity}); it is left untouched until it can be matched again`,
      remote.path,
    );
  }
  await repairInterruptedDeliveries(local, state, folder.id, log);

  const result = await downloadNewMessages(
    { client, state, folder, local, signal: input.signal, log, onMessage: input.onMessage },
    mailbox.uidNext ?? null,
  );
  state.markFolderSynced(folder.id, {
    uidValidity,
    uidNext: mailbox.uidNext ?? null,
    highestModseq: mailbox.highestModseq ?? null,
  });
  return { downloaded: result.downloaded, bytes: result.bytes, created };
}

/**
 * A crash between committing a batch and renaming its files leaves them in tmp/: finish
 * those renames, and remove tmp/ files no committed batch owns.
 */
async function repairInterruptedDeliveries(
  local: MaildirFolder,
  state: StateDb,
  folderId: number,
  log: SyncLogger,
): Promise<void> {
  const rows = state.messages(folderId);
  const known = new Set(rows.map((row) => row.base));
  if (rows.length > 0) {
    const present = await local.scan();
    for (const row of rows) {
      if (present.has(row.base)) continue;
      if (await local.recoverFromTmp(row.base, maildirLetters(row.flags))) {
        log.info({ uid: row.uid }, 'finished a delivery interrupted by a crash');
      }
    }
  }
  const swept = await local.sweepTmp((name) => known.has(name));
  if (swept > 0) log.info({ swept }, 'removed partial files left in tmp/ by an interrupted run');
}
