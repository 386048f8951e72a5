/**
 * Realistic generated mail, deterministic from a seed: threads with In-Reply-To/References,
 * plain and HTML alternatives, 8-bit UTF-8 and quoted-printable bodies, RFC 2047 subjects,
 * and base64 attachments. Every line ends in CRLF, as on the wire. No dependencies.
 *
 * Sizes follow real mailboxes: about 80 % of messages are 2–20 KB (the rest a little smaller
 * or larger, HTML alternatives being the larger ones), and about 8 % carry one base64
 * attachment of 50 KB up to `maxAttachmentBytes` (default 2 MB). generateMailbox() caps
 * attachments at 300 KB for mailboxes under 1,000 messages, so tests stay quick.
 */

export interface SampleMessage {
  folder: string;
  raw: Buffer;
  flags: string[];
  internalDate: Date;
}

export type SizeClass = 'tiny' | 'small' | 'attachment';

export interface GenerateOptions {
  sizeClass?: SizeClass;
  /** Largest attachment in bytes before base64 (default 2 MB, as in real mail). */
  maxAttachmentBytes?: number;
  /** The Date header (default: derived from the seed, within 2023–2024). */
  date?: Date;
}

/** mulberry32: small, fast, good enough to make varied but repeatable mail. */
function prng(seed: number): () => number {
  // Fold any safe integer into 32 bits with integer multiplies: plain `seed * k` loses its
  // low bits past 2^53, which would give many seeds the same stream.
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  let a = Math.imul((seed >>> 0) ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Name, address, and the UTC offset (minutes) their mail client writes into Date. */
const PEOPLE = [
  ['Ana García', 'ana.garcia@example.org', 60],
  ['Björn Lindqvist', 'bjorn@example.se', 60],
  ['Chloé Martin', 'chloe.martin@example.fr', 60],
  ['Dmitri Ivanov', 'dmitri@example.net', 180],
  ['Emeka Okafor', 'emeka.okafor@example.com', 60],
  ['Fatima Zahra', 'fatima@example.ma', 0],
  ['Grace Hopper', 'grace@example.com', -300],
  ['Hiroshi Tanaka', 'hiroshi.tanaka@example.jp', 540],
] as const;

const WINDOW_START = Date.UTC(2023, 0, 1);
const WINDOW_MS = 2 * 365 * 86_400_000;

const TOPICS = [
  'Quarterly report draft',
  'Lunch on Thursday?',
  'Release 2.4 checklist',
  'Invoice #4471',
  'Réunion de lundi',
  'Übergabe Projekt Zephyr',
  'Travel plans for the offsite',
  'Re-org of the shared drive',
  'Customer feedback summary',
  'Budget approval needed',
];

const WORDS = (
  'the of and to in is for on that with as this by be are from at or an it we will our can ' +
  'project meeting report please thanks schedule update review team budget customer release ' +
  'déjà vu naïve café über straße smörgåsbord 東京 ümlaut résumé'
).split(' ');

const FLAG_CHOICES: string[][] = [
  [],
  ['\\Seen'],
  ['\\Seen'],
  ['\\Seen'],
  ['\\Seen', '\\Flagged'],
  ['\\Seen', '\\Answered'],
  ['\\Draft'],
  ['\\Flagged'],
];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function paragraph(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(pick(rand, WORDS));
  const text = out.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1) + '.';
}

/** Wraps text at ~72 columns, as mail clients do. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > 72 && line) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function encodeWord(text: string): string {
  // RFC 2047 B-encoding for non-ASCII subjects.
  return /^[\x20-\x7e]*$/.test(text)
    ? text
    : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/** Quoted-printable with CRLF hard breaks (from "\n" in the text) and "=" soft breaks. */
function quotedPrintable(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let out = '';
      let lineLength = 0;
      for (const byte of Buffer.from(line, 'utf8')) {
        const printable = (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32;
        const ch = printable
          ? String.fromCharCode(byte)
          : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
        if (lineLength + ch.length > 75) {
          out += '=\r\n';
          lineLength = 0;
        }
        out += ch;
        lineLength += ch.length;
      }
      return out;
    })
    .join('\r\n');
}

/** RFC 5322 date in the sender's zone: "Tue, 07 May 2024 14:03:21 +0200". */
function formatDate(date: Date, offsetMinutes: number): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000).toUTCString().slice(0, -4);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = `${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${local} ${sign}${zone}`;
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** One RFC 5322 message with CRLF line endings. */
export function generateMessage(seed: number, options: GenerateOptions = {}): Buffer {
  const rand = prng(seed);
  const sizeClass: SizeClass = options.sizeClass ?? (rand() < 0.08 ? 'attachment' : 'small');
  const [fromName, fromAddr, fromZone] = pick(rand, PEOPLE);
  const [toName, toAddr] = pick(rand, PEOPLE);
  const thread = Math.floor(seed / 4); // about four messages per thread
  const inThread = seed % 4;
  const topic = TOPICS[thread % TOPICS.length]!;
  const subject = (inThread > 0 ? 'Re: ' : '') + topic;
  // Consecutive seeds an hour or so apart, so a thread's replies follow their original.
  const offset = (seed * 3_600_000 + Math.floor(rand() * 3_000_000)) % WINDOW_MS;
  const date = options.date ?? new Date(WINDOW_START + offset);
  const headers = [
    `Return-Path: <${fromAddr}>`,
    `From: ${encodeWord(fromName)} <${fromAddr}>`,
    `To: ${encodeWord(toName)} <${toAddr}>`,
    ...(rand() < 0.3 ? [`Cc: ${pick(rand, PEOPLE)[1]}`] : []),
    `Subject: ${encodeWord(subject)}`,
    `Date: ${formatDate(date, fromZone)}`,
    `Message-ID: <${seed}.${thread}@storesync.example>`,
    ...(inThread > 0
      ? [
          `In-Reply-To: <${seed - 1}.${thread}@storesync.example>`,
          `References: ${Array.from({ length: inThread }, (_, i) => `<${seed - inThread + i}.${thread}@storesync.example>`).join(' ')}`,
        ]
      : []),
    'MIME-Version: 1.0',
  ];
  const paragraphs = sizeClass === 'tiny' ? 1 : 4 + Math.floor(rand() * 40);
  const text = Array.from({ length: paragraphs }, () =>
    paragraph(rand, 20 + Math.floor(rand() * 50)),
  );
  const plainLines = text.flatMap((p) => [...wrap(p), '']);
  const style = rand();
  let body: string;
  if (sizeClass === 'tiny') {
    headers.push('Content-Type: text/plain; charset=us-ascii');
    body = 'Short note.\r\n';
  } else if (style < 0.35) {
    headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    body = plainLines.join('\r\n');
  } else if (style < 0.55) {
    headers.push(
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
    );
    body = quotedPrintable(plainLines.join('\n'));
  } else {
    const boundary = `alt-${seed.toString(36)}`;
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    // "\n": quotedPrintable() turns it into a CRLF hard break (a "\r" would become "=0D").
    const html = `<html><body>\n${text.map((p) => `<p>${p}</p>`).join('\n')}\n</body></html>`;
    body = [
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      plainLines.join('\r\n'),
      `--${boundary}`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      quotedPrintable(html),
      `--${boundary}--`,
      '',
    ].join('\r\n');
  }
  if (sizeClass === 'attachment') {
    const max = options.maxAttachmentBytes ?? 2 * 1024 * 1024;
    const min = Math.min(50 * 1024, max);
    const size = min + Math.floor(rand() * (max - min));
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4)
      data.writeUInt32LE(Math.floor(rand() * 0xffffffff), Math.min(i, size - 4));
    const boundary = `mix-${seed.toString(36)}`;
    const inner = headers.splice(headers.findIndex((h) => h.startsWith('Content-Type')));
    headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    body = [
      'This is a multi-part message in MIME format.',
      `--${boundary}`,
      ...inner,
      '',
      body,
      `--${boundary}`,
      `Content-Type: application/pdf; name="report-${seed}.pdf"`,
      `Content-Disposition: attachment; filename="report-${seed}.pdf"`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(data),
      `--${boundary}--`,
      '',
    ].join('\r\n');
  }
  return Buffer.from(
    headers.join('\r\n') + '\r\n\r\n' + body.replace(/\r?\n$/, '') + '\r\n',
    'utf8',
  );
}

/**
 * `count` messages spread over `folders` (the first gets the most, as INBOX does), oldest
 * first, arriving over 2023–2024. Small mailboxes (under 1,000 messages) keep attachments
 * under 300 KB so tests stay quick.
 */
export function generateMailbox(options: {
  count: number;
  folders: readonly string[];
  seed?: number;
}): SampleMessage[] {
  const seed = options.seed ?? 1;
  const rand = prng(seed);
  const timing = prng(seed + 0x51ed);
  const maxAttachmentBytes = options.count < 1000 ? 300 * 1024 : undefined;
  const step = Math.floor(WINDOW_MS / Math.max(options.count, 1));
  const messages: SampleMessage[] = [];
  for (let i = 0; i < options.count; i++) {
    const folderIndex = rand() < 0.4 ? 0 : Math.floor(rand() * options.folders.length);
    const n = seed * 1_000_003 + i;
    // Arrival (INTERNALDATE) a few seconds to minutes after the sender's Date header.
    // Whole seconds: IMAP's INTERNALDATE has no finer resolution.
    const arrival = WINDOW_START + i * step + Math.floor(timing() * step * 0.5);
    const internalDate = new Date(Math.floor(arrival / 1000) * 1000);
    const sent = new Date(internalDate.getTime() - 2_000 - Math.floor(timing() * 180_000));
    messages.push({
      folder: options.folders[folderIndex]!,
      raw: generateMessage(n, { maxAttachmentBytes, date: sent }),
      flags: pick(rand, FLAG_CHOICES),
      internalDate,
    });
  }
  return messages;
}
