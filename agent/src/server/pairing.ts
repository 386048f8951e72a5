/**
 * Who may command the agent. The Origin and Host checks keep other web pages out; this keeps
 * out other programs and users of the machine, which can forge any header. Three secrets:
 *
 * - the CLI token, in <dataDir>/agent.token (0600): whoever can read the agent's data may
 *   drive it (the `status`, `pair` and `open` commands use it);
 * - one-time secrets minted for the CLI: a short code the user types into the pane
 *   (`storesync pair`), or a long one carried in a link's fragment (`storesync open`);
 * - pane tokens, handed out in exchange for a one-time secret and kept by the pane. Only their
 *   SHA-256 is stored, in <dataDir>/paired-clients.json (0600), so the file grants nothing.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cliTokenFileOf } from './cli-token.js';

/** A typed code lives long enough to walk to another window; a link is followed at once. */
export const CODE_TTL_MS = 5 * 60_000;
export const LINK_TTL_MS = 10 * 60_000;
/** Wrong codes tolerated while codes are outstanding; then every outstanding code is void. */
export const MAX_FAILED_REDEMPTIONS = 10;
/** Crockford's base32: no I, L, O or U to misread. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 8;

export type OneTimeKind = 'code' | 'link';

export interface OneTimeSecret {
  kind: OneTimeKind;
  /** What the user types ("K7QM-2XZ9") or what the link carries. */
  secret: string;
  expiresAt: number;
}

export interface PairedClient {
  name: string;
  createdAt: number;
  lastSeenAt: number | null;
}

interface StoredClient extends PairedClient {
  sha256: string;
}

export class PairingStore {
  readonly cliToken: string;
  private readonly clientsFile: string;
  private clients: StoredClient[];
  private pending: Array<{ key: string; expiresAt: number }> = [];
  private failures = 0;

  constructor(
    dataDir: string,
    private readonly now: () => number = Date.now,
  ) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.cliToken = loadOrCreateCliToken(cliTokenFileOf(dataDir));
    this.clientsFile = path.join(dataDir, 'paired-clients.json');
    this.clients = readClients(this.clientsFile);
  }

  /** A new one-time secret; redeemable once, until it expires. */
  issue(kind: OneTimeKind): OneTimeSecret {
    const secret = kind === 'code' ? newCode() : randomBytes(32).toString('base64url');
    const expiresAt = this.now() + (kind === 'code' ? CODE_TTL_MS : LINK_TTL_MS);
    this.dropExpired();
    this.pending.push({ key: normalizeSecret(secret), expiresAt });
    return { kind, secret, expiresAt };
  }

  /** Trades a one-time secret for a pane token; null if it is wrong, used or expired. */
  redeem(secret: string, clientName = 'task pane'): string | null {
    this.dropExpired();
    const key = normalizeSecret(secret);
    const index = this.pending.findIndex((p) => safeEqual(p.key, key));
    if (index < 0) {
      // Guessing: eight base32 characters are 40 bits, and a handful of tries is all anyone
      // gets before the codes on offer are withdrawn.
      if (this.pending.length > 0 && ++this.failures >= MAX_FAILED_REDEMPTIONS) {
        this.pending = [];
        this.failures = 0;
      }
      return null;
    }
    this.pending.splice(index, 1);
    const token = randomBytes(32).toString('base64url');
    this.clients.push({
      sha256: sha256(token),
      name: clientName.slice(0, 200) || 'task pane',
      createdAt: this.now(),
      lastSeenAt: this.now(),
    });
    this.save();
    return token;
  }

  /** Whether the token is the CLI's or a paired pane's. */
  verify(token: string): boolean {
    if (safeEqual(token, this.cliToken)) return true;
    const hash = sha256(token);
    const client = this.clients.find((c) => safeEqual(c.sha256, hash));
    if (!client) return false;
    client.lastSeenAt = this.now();
    return true;
  }

  /** Whether this token belongs to the CLI (the only one that may mint one-time secrets). */
  isCliToken(token: string): boolean {
    return safeEqual(token, this.cliToken);
  }

  list(): PairedClient[] {
    return this.clients.map(({ name, createdAt, lastSeenAt }) => ({ name, createdAt, lastSeenAt }));
  }

  /**
   * Forgets every paired pane; each must be paired again. Returns how many there were.
   * Listeners (`onRevokeAll`) drop the panes connected now, which are in already.
   */
  revokeAll(): number {
    const count = this.clients.length;
    this.clients = [];
    this.pending = [];
    this.save();
    for (const listener of this.revokeListeners) listener();
    return count;
  }

  /** Called after every `revokeAll`. */
  onRevokeAll(listener: () => void): void {
    this.revokeListeners.add(listener);
  }

  private readonly revokeListeners = new Set<() => void>();

  private dropExpired(): void {
    const now = this.now();
    this.pending = this.pending.filter((p) => p.expiresAt > now);
    if (this.pending.length === 0) this.failures = 0;
  }

  private save(): void {
    const tmp = `${this.clientsFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ clients: this.clients }, null, 2) + '\n', {
      mode: 0o600,
    });
    fs.renameSync(tmp, this.clientsFile);
  }
}

function loadOrCreateCliToken(file: string): string {
  const existing = (() => {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      return '';
    }
  })();
  if (existing.length >= 32) return existing;
  const token = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

function readClients(file: string): StoredClient[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as { clients?: unknown };
    if (!Array.isArray(parsed.clients)) return [];
    return parsed.clients.filter(
      (c): c is StoredClient =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as StoredClient).sha256 === 'string' &&
        typeof (c as StoredClient).name === 'string' &&
        typeof (c as StoredClient).createdAt === 'number',
    );
  } catch {
    // A damaged file pairs nobody: panes are asked to pair again, which is safe.
    return [];
  }
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Codes are typed by people: case, dashes and spaces do not count; O/I/L read as 0/1/1. */
function normalizeSecret(secret: string): string {
  const compact = secret.trim().replace(/[\s-]/g, '');
  if (compact.length !== CODE_LENGTH) return compact;
  return compact.toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
