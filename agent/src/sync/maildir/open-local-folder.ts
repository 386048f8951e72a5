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
  account: { id: string; maildir: string },
  displayPath: string,
  options: { create?: boolean } = {},
): MaildirFolder {
  const separator = checkInfoSeparator(
    state.maildirInfoSeparator(account.id, defaultInfoSeparator()),
  );
  return new MaildirFolder(folderDirectory(account.maildir, displayPath, options), {
    infoSeparator: separator,
  });
}
