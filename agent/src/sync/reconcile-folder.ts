/**
 * Step: bring the messages we already hold in line on both sides: server flag changes onto
 * the files, file flag changes onto the server (the three-way merge), and messages the server
 * expunged removed from the Maildir. Local deletions and new local files are not handled
 * here.
 */
import type { ImapFlow } from 'imapflow';
import type { SyncLogger } from './logger.js';
import type { MaildirFolder } from './maildir/maildir-folder.js';
import { imapFlagsOfLetters, keywordsWithoutLetter, maildirLetters } from './maildir/flags.js';
import { mergeChangesNothing, mergeFlags, remoteChangesNothing } from './merge-flags.js';
import { expungeExactly, moveExactly, stillConnected } from './expunge-exactly.js';
import type { RemoteChanges } from './remote-changes.js';
import type { FlagRow, StateDb } from './state-db.js';

/** Beyond this many messages to look at, one listing of the folder costs less than a stat each. */
const LOCATE_AT_MOST = 2000;

export interface ReconcileInput {
  client: ImapFlow;
  state: StateDb;
  folderId: number;
  local: MaildirFolder;
  rows: readonly FlagRow[];
  /**
   * The Maildir holds exactly the rows' files with their flags' letters (a mark the last pass
   * vouched for): the directories are listed only if the server changed something.
   */
  localAsVouched: boolean;
  remote: RemoteChanges;
  downloadContents: boolean;
  uploadContents: boolean;
  deletePolicy: 'expunge' | 'trash' | 'keep-remote';
  /** The server's \\Trash folder, for deletePolicy "trash". */
  trashPath: string | null;
  /**
   * Of messages whose file left this folder, those whose file is in another folder of the
   * account now (moved there by another mail client): with deletePolicy "trash" they are
   * expunged here, not put in the Trash, since the folder they went to uploads them.
   */
  filesMovedElsewhere: (uids: readonly number[]) => Promise<Set<number>>;
  serverPath: string;
  log: SyncLogger;
}

export interface ReconcileResult {
  flagsPulled: number;
  flagsPushed: number;
  expungedLocal: number;
  expungedRemote: number;
  /** Local deletions that could not be applied on the server yet (no \\Trash folder). */
  deletionsPending: number;
  /** Messages this pass moved into the server's Trash (deletePolicy "trash"). */
  trashed: number;
}

export async function reconcileFolder(input: ReconcileInput): Promise<ReconcileResult> {
  const { local, rows, remote } = input;
  const result: ReconcileResult = {
    flagsPulled: 0,
    flagsPushed: 0,
    expungedLocal: 0,
    expungedRemote: 0,
    deletionsPending: 0,
    trashed: 0,
  };
  if (rows.length === 0) return result;
  // In a Maildir as vouched only what the server moved needs a look, and each file is where
  // this program would have put it, unless another program named it (then: list them all).
  const walk = input.localAsVouched ? rows.filter((row) => serverMoved(row, remote)) : rows;
  if (walk.length === 0) return result;
  const files =
    (input.localAsVouched && walk.length <= LOCATE_AT_MOST
      ? await local.locate(
          walk.map((row) => ({ base: row.base, letters: maildirLetters(row.flags) })),
        )
      : null) ?? (await local.scan());
  const renames: Array<{
    from: { subdir: 'cur' | 'new'; name: string };
    base: string;
    letters: string;
  }> = [];
  const removals: Array<{ subdir: 'cur' | 'new'; name: string }> = [];
  let updatedRows: Array<{ uid: number; flags: string[] }> = [];
  const deletedUids: number[] = [];
  let locallyDeleted: number[] = [];
  const pushes = new Map<string, { add: string[]; remove: string[]; uids: number[] }>();

  const stores = flagsTheServerStores(input.client);
  for (const row of walk) {
    const file = files.get(row.base);
    if (remote.vanished.has(row.uid)) {
      if (!input.downloadContents) continue;
      if (file) removals.push(file);
      deletedUids.push(row.uid);
      result.expungedLocal += 1;
      continue;
    }
    if (!file) {
      if (input.uploadContents && input.deletePolicy !== 'keep-remote')
        locallyDeleted.push(row.uid);
      continue; // with keep-remote the row stays: the server copy is neither deleted nor fetched again
    }
    const remoteFlags = remote.flags.get(row.uid);
    if (mergeChangesNothing(row.flags, file.letters, remoteFlags)) continue;
    // A flag the server cannot store stays this side's alone: as if both had it, so that it
    // is neither pushed in vain nor, missing there, taken off the file.
    const localOnly = imapFlagsOfLetters(file.letters).filter((f) => !stores(f));
    const withLocalOnly = (flags: readonly string[]) => [...new Set([...flags, ...localOnly])];
    const merged = mergeFlags({
      base: withLocalOnly(row.flags),
      localLetters: file.letters,
      remote: withLocalOnly(remoteFlags ?? row.flags),
      applyToLocal: input.downloadContents,
      applyToRemote: input.uploadContents,
    });
    merged.base = merged.base.filter(stores);
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

  if (locallyDeleted.length > 0) locallyDeleted = await stillMissing(input, walk, locallyDeleted);

  // Server first, then files, then the base: a crash between any two leaves both sides
  // agreeing on the changed flags, which the next merge takes as already in sync.
  for (const group of pushes.values()) {
    const uids = group.uids.join(',');
    const { client } = input;
    if (group.add.length > 0)
      stillConnected(client, await client.messageFlagsAdd(uids, group.add, { uid: true }));
    if (group.remove.length > 0)
      stillConnected(client, await client.messageFlagsRemove(uids, group.remove, { uid: true }));
  }
  const removedKeywords: Array<{ base: string; keywords: string[] }> = [];
  if (locallyDeleted.length > 0) {
    const deletion = await deleteOnServer(input, locallyDeleted);
    result.trashed = deletion.trashed;
    if (deletion.done) {
      deletedUids.push(...locallyDeleted);
      result.expungedRemote += locallyDeleted.length;
      // The file may have been moved to another folder rather than deleted: the upload there
      // cannot read these from its name. Its keywords, and what the server added since the
      // base (the move is the local side's change, the server's still count).
      const gone = new Set(locallyDeleted);
      for (const row of walk) {
        if (!gone.has(row.uid)) continue;
        const server = remote.flags.get(row.uid) ?? row.flags;
        const added = server.filter((f) => f !== '\\Recent' && !row.flags.includes(f));
        const keywords = [...new Set([...keywordsWithoutLetter(server), ...added])];
        if (keywords.length > 0) removedKeywords.push({ base: row.base, keywords });
      }
    } else {
      result.deletionsPending = locallyDeleted.length;
    }
  }
  const refused = await local.applyChanges(renames, removals);
  if (refused.length > 0) {
    // Their files keep the old letters: so does their base, and the next pass tries again
    // (a new base would read the old letters as a change made here).
    input.log.warn(
      { files: refused.slice(0, 20) },
      'message files could not take the flags their name should carry; left as they were',
    );
    const keep = new Set(refused.map((r) => r.base));
    const uids = new Set(walk.filter((row) => keep.has(row.base)).map((row) => row.uid));
    updatedRows = updatedRows.filter((row) => !uids.has(row.uid));
    result.flagsPulled -= refused.length;
  }
  input.state.applyFolderChanges(input.folderId, updatedRows, deletedUids, removedKeywords);
  if (result.flagsPulled + result.flagsPushed + result.expungedLocal + result.expungedRemote > 0) {
    input.log.info(result, 'folder changes reconciled');
  }
  return result;
}

/**
 * Of the messages whose file the scan did not find, those that are really gone: a file
 * another program renamed while the scan listed the directory may be missing from it, and
 * deleting such a message on the server would put it in the Trash (or take it from the
 * server) and upload it again as new. A file found now is left for the next pass to merge.
 */
async function stillMissing(
  input: ReconcileInput,
  walk: readonly FlagRow[],
  uids: readonly number[],
): Promise<number[]> {
  const wanted = new Set(uids);
  const baseOf = new Map(walk.filter((row) => wanted.has(row.uid)).map((r) => [r.uid, r.base]));
  const listed = await input.local.alsoListed(new Set(baseOf.values()));
  if (listed.size === 0) return [...uids];
  input.log.info(
    { count: listed.size },
    'message files missing from a listing were there after all (renamed meanwhile); not deleted',
  );
  return uids.filter((uid) => !listed.has(baseOf.get(uid)!));
}

/** The server expunged the message or reports flags other than the base's. */
function serverMoved(row: FlagRow, remote: RemoteChanges): boolean {
  return (
    remote.vanished.has(row.uid) || !remoteChangesNothing(row.flags, remote.flags.get(row.uid))
  );
}

/** Applies the account's deletePolicy to messages deleted from the Maildir. */
async function deleteOnServer(
  input: ReconcileInput,
  uids: number[],
): Promise<{ done: boolean; trashed: number }> {
  if (input.deletePolicy === 'trash' && input.serverPath !== input.trashPath) {
    if (!input.trashPath) {
      input.log.warn(
        { count: uids.length },
        'deletePolicy is "trash" but the server has no \\Trash folder; deletions kept pending',
      );
      return { done: false, trashed: 0 };
    }
    // A move to the Trash as well would leave the message there and where it went.
    const moved = await input.filesMovedElsewhere(uids);
    const trashed = uids.filter((uid) => !moved.has(uid));
    if (moved.size > 0) {
      input.log.info({ count: moved.size }, 'files moved to another folder: expunged, not trashed');
      await expungeExactly(input.client, [...moved]);
    }
    if (trashed.length > 0 && !(await moveExactly(input.client, trashed, input.trashPath))) {
      input.log.warn(
        { count: trashed.length },
        'the server would not copy messages to its Trash; deletions kept pending',
      );
      return { done: false, trashed: 0 };
    }
    return { done: true, trashed: trashed.length };
  }
  // STORE \Deleted then UID EXPUNGE of exactly these UIDs (see expungeExactly).
  await expungeExactly(input.client, uids);
  return { done: true, trashed: 0 };
}

/**
 * Which flags the selected folder keeps: those its PERMANENTFLAGS list, any with "\\*" there
 * (new keywords allowed). A read-only folder lists none and stores nothing either way; a
 * server that sends no list is taken to store all.
 */
export function flagsTheServerStores(client: ImapFlow): (flag: string) => boolean {
  const mailbox = client.mailbox;
  const permanent = mailbox ? mailbox.permanentFlags : undefined;
  if (!mailbox || mailbox.readOnly || !permanent || permanent.size === 0 || permanent.has('\\*'))
    return () => true;
  return (flag) => permanent.has(flag);
}
