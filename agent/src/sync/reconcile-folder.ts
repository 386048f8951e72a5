/**
 * Step: bring the messages we already hold in line on both sides: server flag changes onto
 * the files, file flag changes onto the server (the three-way merge), and messages the server
 * expunged removed from the Maildir. Local deletions and new local files are not handled
 * here.
 */
import type { ImapFlow } from 'imapflow';
import type { SyncLogger } from './logger.js';
import type { MaildirFolder } from './maildir/maildir-folder.js';
import { mergeFlags } from './merge-flags.js';
import type { RemoteChanges } from './remote-changes.js';
import type { MessageRow, StateDb } from './state-db.js';

export interface ReconcileInput {
  client: ImapFlow;
  state: StateDb;
  folderId: number;
  local: MaildirFolder;
  rows: readonly MessageRow[];
  remote: RemoteChanges;
  downloadContents: boolean;
  uploadContents: boolean;
  log: SyncLogger;
}

export interface ReconcileResult {
  flagsPulled: number;
  flagsPushed: number;
  expungedLocal: number;
}

export async function reconcileFolder(input: ReconcileInput): Promise<ReconcileResult> {
  const { local, rows, remote } = input;
  const result: ReconcileResult = { flagsPulled: 0, flagsPushed: 0, expungedLocal: 0 };
  if (rows.length === 0) return result;
  const files = await local.scan();
  const renames: Array<{
    from: { subdir: 'cur' | 'new'; name: string };
    base: string;
    letters: string;
  }> = [];
  const removals: Array<{ subdir: 'cur' | 'new'; name: string }> = [];
  const updatedRows: Array<{ uid: number; flags: string[] }> = [];
  const deletedUids: number[] = [];
  const pushes = new Map<string, { add: string[]; remove: string[]; uids: number[] }>();

  for (const row of rows) {
    const file = files.get(row.base);
    if (remote.vanished.has(row.uid)) {
      if (!input.downloadContents) continue;
      if (file) removals.push(file);
      deletedUids.push(row.uid);
      result.expungedLocal += 1;
      continue;
    }
    if (!file) continue; // deleted here: left to the local-deletion policy
    const merged = mergeFlags({
      base: row.flags,
      localLetters: file.letters,
      remote: remote.flags.get(row.uid) ?? row.flags,
      applyToLocal: input.downloadContents,
      applyToRemote: input.uploadContents,
    });
    if (merged.localLetters !== file.letters) {
      renames.push({ from: file, base: row.base, letters: merged.localLetters });
      result.flagsPulled += 1;
    }
    if (merged.addRemote.length > 0 || merged.removeRemote.length > 0) {
      const key = `${merged.addRemote.join(' ')}|${merged.removeRemote.join(' ')}`;
      const group = pushes.get(key) ?? {
        add: merged.addRemote,
        remove: merged.removeRemote,
        uids: [],
      };
      group.uids.push(row.uid);
      pushes.set(key, group);
      result.flagsPushed += 1;
    }
    if (merged.base.join(' ') !== [...row.flags].sort().join(' '))
      updatedRows.push({ uid: row.uid, flags: merged.base });
  }

  // Server first, then files, then the base: a crash between any two leaves both sides
  // agreeing on the changed flags, which the next merge takes as already in sync.
  for (const group of pushes.values()) {
    const uids = group.uids.join(',');
    if (group.add.length > 0) await input.client.messageFlagsAdd(uids, group.add, { uid: true });
    if (group.remove.length > 0)
      await input.client.messageFlagsRemove(uids, group.remove, { uid: true });
  }
  await local.applyChanges(renames, removals);
  input.state.applyFolderChanges(input.folderId, updatedRows, deletedUids);
  if (result.flagsPulled + result.flagsPushed + result.expungedLocal > 0) {
    input.log.info(result, 'folder changes reconciled');
  }
  return result;
}
