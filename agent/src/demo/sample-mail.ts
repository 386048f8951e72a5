/**
 * Realistic generated mail, deterministic from a seed: threads with In-Reply-To/References,
 * plain and HTML alternatives, 8-bit UTF-8 and quoted-printable bodies, RFC 2047 subjects,
 * and base64 attachments. Sizes follow real mailboxes: most messages 2–20 KB, about 8 % with
 * an attachment. Every line ends in CRLF, as on the wire.
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
}

/** mulberry32: small, fast, good enough to make varied but repeatable mail. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PEOPLE = [
  ['Ana García', 'ana.garcia@example.org'],
  ['Björn Lindqvist', 'bjorn@example.se'],
  ['Chloé Martin', 'chloe.martin@example.fr'],
  ['Dmitri Ivanov', 'dmitri@example.net'],
  ['Emeka Okafor', 'emeka.okafor@example.com'],
  ['Fatima Zahra', 'fatima@example.ma'],
  ['Grace Hopper', 'grace@example.com'],
  ['Hiroshi Tanaka', 'hiroshi.tanaka@example.jp'],
] as const;

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

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** One RFC 5322 message with CRLF line endings. */
export function generateMessage(seed: number, options: GenerateOptions = {}): Buffer {
  const rand = prng(seed * 2654435761);
  const sizeClass: SizeClass = options.sizeClass ?? (rand() < 0.08 ? 'attachment' : 'small');
  const [fromName, fromAddr] = pick(rand, PEOPLE);
  const [toName, toAddr] = pick(rand, PEOPLE);
  const thread = Math.floor(seed / 4); // about four messages per thread
  const inThread = seed % 4;
  const topic = TOPICS[thread % TOPICS.length]!;
  const subject = (inThread > 0 ? 'Re: ' : '') + topic;
  const date = new Date(Date.UTC(2025, 0, 1) + seed * 3_600_000 + Math.floor(rand() * 3_000_000));
  const headers = [
    `Return-Path: <${fromAddr}>`,
    `From: ${encodeWord(fromName)} <${fromAddr}>`,
    `To: ${encodeWord(toName)} <${toAddr}>`,
    ...(rand() < 0.3 ? [`Cc: ${pick(rand, PEOPLE)[1]}`] : []),
    `Subject: ${encodeWord(subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
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
    const html = `<html><body>${text.map((p) => `<p>${p}</p>`).join('\r\n')}</body></html>`;
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
 * `count` messages spread over `folders` (the first gets the most, as INBOX does). Small
 * mailboxes (under 1,000 messages) keep attachments under 300 KB so tests stay quick.
 */
export function generateMailbox(options: {
  count: number;
  folders: readonly string[];
  seed?: number;
}): SampleMessage[] {
  const seed = options.seed ?? 1;
  const rand = prng(seed);
  const maxAttachmentBytes = options.count < 1000 ? 300 * 1024 : undefined;
  const messages: SampleMessage[] = [];
  for (let i = 0; i < options.count; i++) {
    const folderIndex = rand() < 0.4 ? 0 : Math.floor(rand() * options.folders.length);
    const n = seed * 1_000_003 + i;
    messages.push({
      folder: options.folders[folderIndex]!,
      raw: generateMessage(n, { maxAttachmentBytes }),
      flags: pick(rand, FLAG_CHOICES),
      internalDate: new Date(Date.UTC(2025, 0, 1) + i * 600_000),
    });
  }
  return messages;
}
