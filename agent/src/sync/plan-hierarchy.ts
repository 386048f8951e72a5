/**
 * Folder hierarchy, as a three-way comparison like the flags: the folders in the state are
 * the ones both sides had at the last sync. A folder only on one side and not in the state
 * was created there; a folder in the state missing on one side was deleted there. Pure: the
 * caller applies the plan with the safety checks that need I/O.
 */
import type { RemoteFolder } from './list-folders.js';
import type { FolderState } from './state-db.js';

export interface HierarchyPlan {
  /** Created locally since the last sync: create on the server (upload hierarchy). */
  createRemote: string[];
  /** Deleted locally since the last sync: delete on the server (upload hierarchy). */
  deleteRemote: FolderState[];
  /** Deleted on the server since the last sync: delete locally (download hierarchy). */
  deleteLocal: FolderState[];
  /** Gone from both sides: forget. */
  forget: FolderState[];
}

export function planHierarchy(input: {
  remote: readonly RemoteFolder[];
  local: readonly string[];
  known: readonly FolderState[];
}): HierarchyPlan {
  const remote = new Set(input.remote.map((f) => f.path));
  const local = new Set(input.local);
  const known = new Set(input.known.map((f) => f.path));
  const plan: HierarchyPlan = { createRemote: [], deleteRemote: [], deleteLocal: [], forget: [] };
  for (const path of input.local) {
    if (!remote.has(path) && !known.has(path)) plan.createRemote.push(path);
  }
  for (const folder of input.known) {
    const onServer = remote.has(folder.path);
    const here = local.has(folder.path);
    // A folder whose first pass never ended (no UIDVALIDITY recorded) was not on both sides
    // at a last sync: a crash between its record and its directory leaves it so, and the
    // folder is to be made here, not deleted there.
    if (onServer && !here && folder.path !== 'INBOX' && folder.uidValidity !== null)
      plan.deleteRemote.push(folder);
    else if (!onServer && here) plan.deleteLocal.push(folder);
    else if (!onServer && !here) plan.forget.push(folder);
  }
  // Children before parents, so a parent is empty of folders when its turn comes.
  const deepestFirst = (a: FolderState, b: FolderState) =>
    b.path.split('/').length - a.path.split('/').length;
  plan.deleteRemote.sort(deepestFirst);
  plan.deleteLocal.sort(deepestFirst);
  return plan;
}
