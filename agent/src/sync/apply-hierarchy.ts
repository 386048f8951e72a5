/**
 * Step: carry out a hierarchy plan in the directions the sync allows, never deleting a folder
 * that holds a message the state does not know (it arrived, or was written, after the last
 * sync: deleting it would lose mail nobody has seen).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ImapFlow } from 'imapflow';
import type { SyncFlags } from '../protocol/index.js';
import { classifyError, SyncFailure } from './errors.js';
import { moveExactly } from './expunge-exactly.js';
import type { RemoteFolder } from './list-folders.js';
import type { SyncLogger } from './logger.js';
import { serverPathOf } from './maildir/folder-path.js';
import { openLocalFolder } from './maildir/open-local-folder.js';
import type { HierarchyPlan } from './plan-hierarchy.js';
import type { FolderState, StateDb } from './state-db.js';

export interface HierarchyOutcome {
  created: RemoteFolder[];
  /** Folders deleted on either side: not to be synced in this pass. */
  removed: Set<string>;
  foldersCreated: number;
  foldersDeleted: number;
  /** Messages of a deleted folder were moved into the Trash (deletePolicy "trash"). */
  trashed: boolean;
}

export async function applyHierarchy(input: {
  client: ImapFlow;
  state: StateDb;
  maildirRoot: string;
  plan: HierarchyPlan;
  flags: SyncFlags;
  /** What becomes on the server of the messages of a folder deleted here, as of a message. */
  deletePolicy: 'expunge' | 'trash' | 'keep-remote';
  /** The server's \\Trash folder, for deletePolicy "trash". */
  trashPath: string | null;
  /** The server's hierarchy delimiter; null when it keeps no hierarchy. */
  delimiter: string | null;
  log: SyncLogger;
  report(failure: SyncFailure): void;
}): Promise<HierarchyOutcome> {
  const { client, state, plan, flags, log } = input;
  const outcome: HierarchyOutcome = {
    created: [],
    removed: new Set(),
    foldersCreated: 0,
    foldersDeleted: 0,
    trashed: false,
  };
  const attempt = async (folder: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      input.report(classifyError(err, folder));
    }
  };

  for (const folder of plan.forget) state.deleteFolder(folder.id);

  if (flags.uploadHierarchy) {
    for (const displayPath of plan.createRemote) {
      await attempt(displayPath, async () => {
        const serverPath = serverPathOf(displayPath, input.delimiter);
        await client.mailboxCreate(serverPath);
        outcome.created.push({
          serverPath,
          path: displayPath,
          delimiter: input.delimiter,
          specialUse: null,
          status: null,
        });
        outcome.foldersCreated += 1;
        log.info({ folder: displayPath }, 'folder created on the server');
      });
    }
    for (const folder of plan.deleteRemote) {
      outcome.removed.add(folder.path);
      await attempt(folder.path, async () => {
        const known = new Set(state.messages(folder.id).map((m) => m.uid));
        // Its messages go where a message deleted here goes (deletePolicy): into the Trash
        // before the folder goes; with "keep-remote" the folder stays on the server.
        const toTrash = input.deletePolicy === 'trash' && folder.serverPath !== input.trashPath;
        await client.mailboxOpen(folder.serverPath, { readOnly: !toTrash });
        const uids = await client.search({ all: true }, { uid: true });
        const close = () => client.mailboxClose().catch(() => undefined);
        // No answer (refused, or the connection dropped) is not "no messages": kept.
        if (!uids) {
          await close();
          throw new SyncFailure(
            'FOLDER_KEPT',
            `"${folder.path}" was deleted here but the server would not say what it holds; kept`,
            folder.path,
          );
        }
        const unseen = uids.filter((uid) => !known.has(uid)).length;
        if (unseen > 0 || input.deletePolicy === 'keep-remote') await close();
        if (unseen > 0) {
          // The deletion stands for what it was made on, the messages the last sync had: the
          // folder is made again here, where the pass deletes those (deletePolicy) and brings
          // in the others. Kept as it was, it would be asked to go at every sync, unsynced.
          openLocalFolder(
            state,
            { id: folder.accountId, maildir: input.maildirRoot },
            folder.path,
            { create: true },
          ).ensure();
          outcome.removed.delete(folder.path);
          throw new SyncFailure(
            'FOLDER_KEPT',
            `"${folder.path}" was deleted here but has ${unseen} new message${unseen === 1 ? '' : 's'} on the server: made again here with ${unseen === 1 ? 'it' : 'them'}, the others deleted`,
            folder.path,
          );
        }
        if (input.deletePolicy === 'keep-remote') {
          // Left there, and its record with it: each sync finds it deleted here again, and
          // only mail new there brings it back here (above).
          log.debug(
            { folder: folder.path },
            'folder deleted here kept on the server (keep-remote)',
          );
          return;
        }
        if (toTrash && uids.length > 0) {
          const moved =
            input.trashPath !== null && (await moveExactly(client, uids, input.trashPath));
          if (!moved) {
            await close();
            throw new SyncFailure(
              'FOLDER_KEPT',
              input.trashPath === null
                ? `"${folder.path}" was deleted here, but deletePolicy is "trash" and the server has no Trash folder; kept`
                : `"${folder.path}" was deleted here, but the server would not move its messages to the Trash; kept`,
              folder.path,
            );
          }
          outcome.trashed = true;
        }
        await close();
        await client.mailboxDelete(folder.serverPath);
        state.deleteFolder(folder.id);
        outcome.foldersDeleted += 1;
        log.info(
          { folder: folder.path, trashed: toTrash ? uids.length : 0 },
          'folder deleted on the server',
        );
      });
    }
  }

  if (flags.downloadHierarchy) {
    for (const folder of plan.deleteLocal) {
      outcome.removed.add(folder.path);
      await attempt(folder.path, async () => {
        const unseen = await deleteLocalFolder(input.maildirRoot, folder, state, {
          keepUnseen: flags.uploadHierarchy,
        });
        if (unseen > 0) {
          // As above, the other way: the files the last sync had are gone with the folder,
          // and the folder is made again on the server for the others, synced as new.
          state.deleteFolder(folder.id);
          const serverPath = folder.serverPath;
          await client.mailboxCreate(serverPath);
          outcome.removed.delete(folder.path);
          outcome.created.push({
            serverPath,
            path: folder.path,
            delimiter: folder.delimiter,
            specialUse: null,
            status: null,
          });
          throw new SyncFailure(
            'FOLDER_KEPT',
            `"${folder.path}" was deleted on the server but has ${unseen} new message${unseen === 1 ? '' : 's'} here: made again on the server with ${unseen === 1 ? 'it' : 'them'}, the others deleted`,
            folder.path,
          );
        }
        state.deleteFolder(folder.id);
        outcome.foldersDeleted += 1;
        log.info({ folder: folder.path }, 'folder deleted locally');
      });
    }
  }
  return outcome;
}

/**
 * Deletes a folder the server deleted, unless it has files the last sync did not have. Then,
 * with `keepUnseen`, only the files it had are deleted and the number of the others returned
 * (the folder is to be made again on the server for them); without, it is kept whole.
 */
async function deleteLocalFolder(
  root: string,
  folder: FolderState,
  state: StateDb,
  options: { keepUnseen: boolean },
): Promise<number> {
  const local = openLocalFolder(state, { id: folder.accountId, maildir: root }, folder.path);
  const dir = local.dir;
  const known = new Set(state.messages(folder.id).map((m) => m.base));
  const files = await local.scan();
  const unseen = [...files.keys()].filter((base) => !known.has(base)).length;
  if (unseen > 0 && options.keepUnseen) {
    for (const [base, file] of files)
      if (known.has(base)) await fs.rm(path.join(dir, file.subdir, file.name), { force: true });
    return unseen;
  }
  if (unseen > 0) {
    throw new SyncFailure(
      'FOLDER_KEPT',
      `"${folder.path}" was deleted on the server but has new messages here; kept`,
      folder.path,
    );
  }
  for (const sub of ['cur', 'new', 'tmp'])
    await fs.rm(path.join(dir, sub), { recursive: true, force: true });
  // Subfolders that still exist keep the directory; that is their business.
  await fs.rmdir(dir).catch(() => undefined);
  return 0;
}
