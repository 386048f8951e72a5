/** Puts generated mail on an IMAP server: creates the folders (parents first), then APPENDs. */
import type { ImapFlow } from 'imapflow';
import type { SampleMessage } from './sample-mail.js';

export async function appendSampleMail(
  client: ImapFlow,
  messages: readonly SampleMessage[],
): Promise<void> {
  const existing = new Set((await client.list()).map((entry) => entry.path));
  for (const folder of new Set(messages.map((m) => m.folder))) {
    const parts = folder.split('/');
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = parts.slice(0, depth).join('/');
      if (existing.has(path) || path.toUpperCase() === 'INBOX') continue;
      await client.mailboxCreate(path);
      existing.add(path);
    }
  }
  for (const message of messages) {
    await client.append(message.folder, message.raw, message.flags, message.internalDate);
  }
}
