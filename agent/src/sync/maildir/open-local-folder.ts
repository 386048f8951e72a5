/**
 * An account's folder in its Maildir: the directory its name maps to on this platform, read
 * and written with the store's recorded info separator.
 */
import type { StateDb } from '../state-db.js';
import { checkInfoSeparator, defaultInfoSeparator } from './flags.js';
import { folderDirectory } from './folder-path.js';
import { MaildirFolder } from './maildir-folder.js';

export function openLocalFolder(
  state: Pick<StateDb, 'maildirInfoSeparator'>,
  account: { id: string; maildir: string; maildirInfoSeparator?: string },
  displayPath: string,
  options: { create?: boolean } = {},
): MaildirFolder {
  const separator = checkInfoSeparator(
    // The store's recorded separator wins: the config only picks one for a new store.
    state.maildirInfoSeparator(account.id, account.maildirInfoSeparator ?? defaultInfoSeparator()),
  );
  return new MaildirFolder(folderDirectory(account.maildir, displayPath, options), {
    infoSeparator: separator,
  });
}
