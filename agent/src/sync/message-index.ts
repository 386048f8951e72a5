/**
 * The Message-ID index behind lookups ("which folder holds the item open in Outlook?").
 * Downloads record each message's Message-ID as they store it; rows written before that
 * (an older state, a renumbered folder) are filled in here from their files' headers, once.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AccountConfig } from '../config/load.js';
import { openLocalFolder } from './maildir/open-local-folder.js';
import { headerBlockEnd, messageIdOf } from './message-id.js';
import { normalizeMessageId, type StateDb } from './state-db.js';

/** Read at a time from the start of a file, until the header block has ended. */
const HEADER_READ_BYTES = 64 * 1024;
/** Read at most: a header block longer than this is not mail. */
const HEADER_MAX_BYTES = 8 * 1024 * 1024;

/** Reads the Message-ID of every message of the account the index lacks. Returns how many. */
export async function backfillMessageIds(state: StateDb, account: AccountConfig): Promise<number> {
  let filled = 0;
  for (const folder of state.folders(account.id)) {
    const missing = state.messagesWithoutMessageId(folder.id);
    if (missing.length === 0) continue;
    const local = openLocalFolder(state, account, folder.path);
    const files = await local.scan();
    const ids: Array<{ uid: number; messageId: string }> = [];
    for (const { uid, base } of missing) {
      const file = files.get(base);
      // A file gone since the last sync: the next sync settles it; nothing to index now.
      if (!file) continue;
      const head = await readHead(path.join(local.dir, file.subdir, file.name));
      if (head === null) continue;
      ids.push({ uid, messageId: normalizeMessageId(messageIdOf(head) ?? '') });
    }
    state.setMessageIds(folder.id, ids);
    filled += ids.length;
  }
  return filled;
}

/** The start of a file up to the end of its header block (or its end, or the limit). */
async function readHead(file: string): Promise<Buffer | null> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const pieces: Buffer[] = [];
    let read = 0;
    for (;;) {
      const buffer = Buffer.alloc(HEADER_READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, read);
      pieces.push(buffer.subarray(0, bytesRead));
      read += bytesRead;
      if (bytesRead < buffer.length || read >= HEADER_MAX_BYTES) break;
      // The blank line may straddle two reads: look a few bytes back.
      const tail = Buffer.concat(pieces.slice(-2)).subarray(-(bytesRead + 3));
      if (headerBlockEnd(tail) >= 0) break;
    }
    return Buffer.concat(pieces, read);
  } catch {
    return null;
  } finally {
    await handle?.close();
  }
}
