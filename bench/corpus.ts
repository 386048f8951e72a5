/**
 * The benchmark's mail: N realistic messages (the project's generator: mostly 2–20 KB, ~8 %
 * with 50 KB–2 MB base64 attachments, threads, 8-bit and quoted-printable bodies) spread over
 * ten folders with nesting, put on the server by APPEND over a few connections.
 * Generated one message at a time (never the whole mailbox in memory: 20,000 messages are
 * ~2.5 GB) and deterministic from the seed.
 */
import { ImapFlow } from 'imapflow';
import { generateMessage } from '../agent/src/demo/sample-mail.js';

/** Folder and its share of the mail; parents are created before their children. */
export const BENCH_FOLDERS: ReadonlyArray<readonly [string, number]> = [
  ['INBOX', 30],
  ['Archive', 8],
  ['Archive/2023', 15],
  ['Archive/2024', 15],
  ['Sent', 12],
  ['Drafts', 1],
  ['Projects/Alpha', 7],
  ['Projects/Beta', 5],
  ['Lists/dev', 6],
  ['Trash', 1],
];

const FLAG_SETS: string[][] = [
  [],
  ['\\Seen'],
  ['\\Seen'],
  ['\\Seen'],
  ['\\Seen'],
  ['\\Seen', '\\Answered'],
  ['\\Seen', '\\Flagged'],
  ['\\Seen', '$Forwarded'],
];

const WINDOW_START = Date.UTC(2023, 0, 1);
const WINDOW_MS = 2 * 365 * 86_400_000;

export interface ImapLogin {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface CorpusMessage {
  folder: string;
  raw: Buffer;
  flags: string[];
  internalDate: Date;
}

/** The i-th message of the corpus; the same (seed, count, i) always gives the same bytes. */
export function corpusMessage(seed: number, count: number, i: number): CorpusMessage {
  // A cheap integer hash picks the folder and flags, independent of the body's generator.
  const h = hash32(seed * 2_654_435_761 + i);
  const total = BENCH_FOLDERS.reduce((sum, [, share]) => sum + share, 0);
  let pick = h % total;
  let folder = BENCH_FOLDERS[0]![0];
  for (const [name, share] of BENCH_FOLDERS) {
    if (pick < share) {
      folder = name;
      break;
    }
    pick -= share;
  }
  const step = Math.floor(WINDOW_MS / Math.max(count, 1));
  const internalDate = new Date(Math.floor((WINDOW_START + i * step) / 1000) * 1000);
  // Small mailboxes (the smoke run) keep attachments small so they stay quick.
  const maxAttachmentBytes = count < 1000 ? 300 * 1024 : undefined;
  const raw = generateMessage(seed * 1_000_003 + i, {
    maxAttachmentBytes,
    date: new Date(internalDate.getTime() - 60_000),
  });
  return { folder, raw, flags: FLAG_SETS[(h >>> 8) % FLAG_SETS.length]!, internalDate };
}

function hash32(n: number): number {
  let x = (n >>> 0) ^ Math.floor(n / 2 ** 32);
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export async function connect(login: ImapLogin): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: login.host,
    port: login.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: login.user, pass: login.password },
    logger: false,
  });
  await client.connect();
  return client;
}

/** Creates the folders, then APPENDs messages [0, count) over `connections` connections. */
export async function populate(
  login: ImapLogin,
  options: { count: number; seed: number; connections?: number; onProgress?: (n: number) => void },
): Promise<void> {
  const admin = await connect(login);
  try {
    const existing = new Set((await admin.list()).map((entry) => entry.path));
    for (const [folder] of BENCH_FOLDERS) {
      const parts = folder.split('/');
      for (let depth = 1; depth <= parts.length; depth++) {
        const name = parts.slice(0, depth).join('/');
        if (existing.has(name) || name.toUpperCase() === 'INBOX') continue;
        await admin.mailboxCreate(name);
        existing.add(name);
      }
    }
  } finally {
    await admin.logout();
  }
  let next = 0;
  let done = 0;
  const worker = async () => {
    const client = await connect(login);
    try {
      while (next < options.count) {
        const m = corpusMessage(options.seed, options.count, next++);
        await client.append(m.folder, m.raw, m.flags, m.internalDate);
        if (++done % 1000 === 0) options.onProgress?.(done);
      }
    } finally {
      await client.logout();
    }
  };
  await Promise.all(Array.from({ length: options.connections ?? 3 }, worker));
}
