/**
 * How `storesync sync` shows a run. On a terminal: one live line per account, redrawn at most
 * ten times a second, with the folders being worked on (n/m messages), the rate, and the
 * folders already done summarised. Elsewhere (a pipe, a log file, CI): plain lines at each
 * milestone, never a cursor movement, so the output stays readable once captured.
 */
import type { ProgressEvent, SyncEvent } from '../protocol/index.js';

const REDRAW_INTERVAL_MS = 100;
/** Finished folders named on the live line; the rest are counted. */
const NAMED_DONE_FOLDERS = 3;

interface FolderProgress {
  path: string;
  index: number;
  max: number;
  downloaded: number;
  /** Order of the last event about it: the least recently active goes first when retired. */
  touched: number;
}

interface AccountProgress {
  id: string;
  firstAt: number;
  lastAt: number;
  bytes: number;
  messages: number;
  folderCount: number;
  status: string;
  active: Map<string, FolderProgress>;
  done: FolderProgress[];
  finished: boolean;
}

export interface ProgressDisplayOptions {
  /** IMAP connections per account: as many folders can be in progress at once. */
  connections?: ReadonlyMap<string, number>;
}

export class ProgressDisplay {
  private readonly accounts = new Map<string, AccountProgress>();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | null = null;
  private clock = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
    private readonly options: ProgressDisplayOptions = {},
  ) {}

  handle(event: SyncEvent): void {
    switch (event.type) {
      case 'progress':
        this.progress(event);
        break;
      case 'error': {
        const where = [event.accountId, event.folder].filter(Boolean).join(' / ');
        this.printAbove(
          `✖ ${where ? where + ': ' : ''}${event.code}: ${event.message}\n  ${event.hint}`,
        );
        break;
      }
      case 'done':
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.redraw();
        break;
      case 'syncStarted':
        break;
    }
  }

  /** The account's line as the live display shows it (exported for tests). */
  lineOf(accountId: string): string | undefined {
    const account = this.accounts.get(accountId);
    return account && describe(account);
  }

  private progress(event: ProgressEvent): void {
    const account = this.account(event);
    account.lastAt = event.at;
    account.bytes = event.bytes;
    switch (event.step) {
      case 'checking-folder': {
        account.folderCount = event.indexMax;
        this.retireFor(account);
        account.active.set(event.folder ?? '', {
          path: event.folder ?? '',
          index: 0,
          max: 0,
          downloaded: 0,
          touched: ++this.clock,
        });
        this.plain(account, `${event.text} (${event.index + 1}/${event.indexMax})`);
        break;
      }
      case 'downloading': {
        const folder = this.folder(account, event.folder ?? '');
        folder.index = event.index;
        folder.max = event.indexMax;
        folder.downloaded += 1;
        folder.touched = ++this.clock;
        account.messages += 1;
        if (event.index === event.indexMax) this.plain(account, event.text);
        break;
      }
      case 'finishing':
        account.done.push(...account.active.values());
        account.active.clear();
        account.finished = true;
        this.plain(account, `${event.text}, ${totals(account)}`);
        break;
      default:
        account.status = event.text;
        this.plain(account, event.text);
    }
    this.schedule();
  }

  private account(event: ProgressEvent): AccountProgress {
    let account = this.accounts.get(event.accountId);
    if (!account) {
      account = {
        id: event.accountId,
        firstAt: event.at,
        lastAt: event.at,
        bytes: 0,
        messages: 0,
        folderCount: 0,
        status: '',
        active: new Map(),
        done: [],
        finished: false,
      };
      this.accounts.set(event.accountId, account);
    }
    return account;
  }

  private folder(account: AccountProgress, path: string): FolderProgress {
    let folder = account.active.get(path);
    if (!folder) {
      folder = { path, index: 0, max: 0, downloaded: 0, touched: ++this.clock };
      account.active.set(path, folder);
    }
    return folder;
  }

  /**
   * A connection starting a folder has finished its previous one, but events do not say which
   * connection that was: retire the least recently active folder with no download left.
   */
  private retireFor(account: AccountProgress): void {
    const slots = this.options.connections?.get(account.id) ?? 1;
    while (account.active.size >= Math.max(1, slots)) {
      const candidates = [...account.active.values()].sort((a, b) => a.touched - b.touched);
      const idle = candidates.find((f) => f.index >= f.max) ?? candidates[0]!;
      account.active.delete(idle.path);
      account.done.push(idle);
    }
  }

  private plain(account: AccountProgress, text: string): void {
    if (!this.live) this.out.write(`${account.id}: ${text}\n`);
  }

  private schedule(): void {
    if (!this.live || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.redraw();
    }, REDRAW_INTERVAL_MS);
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }

  private redraw(): void {
    if (!this.live) return;
    this.clear();
    const columns = this.out.columns || 100;
    for (const account of this.accounts.values())
      this.out.write(describe(account).slice(0, columns - 1) + '\n');
    this.drawnLines = this.accounts.size;
  }

  /** Errors go to stderr, above the live lines, and stay in the scrollback. */
  private printAbove(text: string): void {
    this.clear();
    process.stderr.write(text + '\n');
    this.redraw();
  }
}

function describe(account: AccountProgress): string {
  if (account.finished) {
    return `✔ ${account.id}: ${account.done.length} folders, ${totals(account)}${doneList(account)}`;
  }
  const parts: string[] = [];
  if (account.active.size > 0) {
    parts.push(
      [...account.active.values()]
        .map((f) => (f.max > 0 ? `${f.path} ${f.index}/${f.max}` : `${f.path} checking`))
        .join(', '),
    );
    parts.push(`folder ${account.done.length + account.active.size}/${account.folderCount}`);
  } else if (account.status) {
    parts.push(account.status);
  }
  const rate = rateOf(account);
  if (rate) parts.push(rate);
  return `⟳ ${account.id}: ${parts.join(' · ')}${doneList(account)}`;
}

function doneList(account: AccountProgress): string {
  if (account.done.length === 0) return '';
  const named = account.done
    .slice(-NAMED_DONE_FOLDERS)
    .map((f) => (f.downloaded > 0 ? `${f.path} (+${f.downloaded})` : f.path));
  const more = account.done.length - named.length;
  return ` · done: ${named.join(', ')}${more > 0 ? ` +${more} more` : ''}`;
}

function totals(account: AccountProgress): string {
  const seconds = Math.max(0, (account.lastAt - account.firstAt) / 1000);
  return `${account.messages} downloaded, ${megabytes(account.bytes)} in ${seconds.toFixed(1)} s`;
}

function rateOf(account: AccountProgress): string {
  const seconds = (account.lastAt - account.firstAt) / 1000;
  if (account.messages === 0 || seconds <= 0) return '';
  return `${Math.round(account.messages / seconds)} msg/s, ${megabytes(account.bytes / seconds)}/s`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}
