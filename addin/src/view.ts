/**
 * Renders the pane state into the DOM, without a framework. Elements are created once and
 * updated in place (one card per account, keyed by id; error lists rebuilt only when they
 * change), so a click never lands on a node a redraw just replaced and screen readers keep
 * their place. No inline styles anywhere: the agent's CSP allows only its own stylesheet;
 * the one dynamic length, a progress bar's fill, is set through the CSSOM.
 */
import type { FolderSummary, HistoryEntry } from '../../agent/src/protocol/index.js';
import { durationOf, historyChart, movedCount, rateChart } from './charts.js';
import {
  formatAgo,
  formatBytes,
  formatCount,
  formatDuration,
  formatTimeLeft,
  lastResultText,
  plural,
} from './format.js';
import { modeOfFlags, SYNC_MODES, type SyncModeId } from './sync-modes.js';
import {
  type AccountActivity,
  type AccountView,
  canSyncNow,
  type ConnectionState,
  downloadRate,
  type ErrorItem,
  eta,
  isSyncing,
  type ItemState,
  overallFraction,
  type PaneState,
} from './view-model.js';

export interface ViewActions {
  /** "Sync now" (full) or one of its menu's choices. */
  syncNow(mode: SyncModeId): void;
  cancel(syncId: string): void;
  /** Runs again what failed: the same account, with the same flags. */
  retrySync(error: ErrorItem): void;
  /** Reconnects to the agent now instead of after the backoff. */
  retry(): void;
  /** The user entered the code `storesync pair` showed. */
  pair(code: string): void;
}

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting to the agent…',
  connected: 'Connected',
  reconnecting: 'Connection lost — reconnecting…',
  'not-running': 'Agent not running',
  incompatible: 'Agent version mismatch',
};

const BADGE_TEXT: Record<AccountActivity, string> = {
  idle: 'Idle',
  syncing: 'Syncing',
  done: 'Up to date',
  error: 'Needs attention',
};

type Props = { className?: string; testId?: string; text?: string };

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.testId) node.dataset.testid = props.testId;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

function button(text: string, className: string, onClick: () => void, testId?: string) {
  const b = el('button', { className, testId, text });
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A 16×16 glyph from one path, coloured by `currentColor`. */
function glyph(d: string, className = 'glyph'): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', className);
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

const SYNC_GLYPH =
  'M8 2.5a5.5 5.5 0 0 1 4.9 3H11a.5.5 0 0 0 0 1h3a.5.5 0 0 0 .5-.5V3a.5.5 0 0 0-1 0v1.6A6.5 6.5 0 0 0 1.6 7a.5.5 0 0 0 1 .1A5.5 5.5 0 0 1 8 2.5Zm5.9 6.4a.5.5 0 0 0-.5.4 5.5 5.5 0 0 1-10.3 1.2H5a.5.5 0 0 0 0-1H2a.5.5 0 0 0-.5.5v3a.5.5 0 0 0 1 0v-1.6A6.5 6.5 0 0 0 14.4 9.5a.5.5 0 0 0-.5-.6Z';
const CHEVRON_GLYPH =
  'M3.65 5.65a.5.5 0 0 1 .7 0L8 9.29l3.65-3.64a.5.5 0 0 1 .7.7l-4 4a.5.5 0 0 1-.7 0l-4-4a.5.5 0 0 1 0-.7Z';
const PLUG_GLYPH =
  'M6 1.5a.5.5 0 0 0-1 0V4H4a.5.5 0 0 0-.5.5V7a4.5 4.5 0 0 0 4 4.47V14.5a.5.5 0 0 0 1 0v-3.03A4.5 4.5 0 0 0 12.5 7V4.5A.5.5 0 0 0 12 4h-1V1.5a.5.5 0 0 0-1 0V4H6V1.5ZM4.5 5h7v2a3.5 3.5 0 0 1-7 0V5Z';

const SEP = ' · ';

/**
 * Writes "a · b · c" as one span per part, so a line breaks between parts, never inside one
 * ("4.1 MB" stays whole); textContent reads exactly as the joined string.
 */
function setParts(node: HTMLElement, parts: string[]): void {
  const text = parts.join(SEP);
  if (node.textContent === text) return;
  node.replaceChildren(
    ...parts.flatMap((part, i) => {
      const span = el('span', { className: parts.length > 1 ? 'part' : '', text: part });
      return i === 0 ? [span] : [SEP, span];
    }),
  );
}

interface CardElements {
  root: HTMLElement;
  avatar: HTMLElement;
  badge: HTMLElement;
  host: HTMLElement;
  meta: HTMLElement;
  progressBox: HTMLElement;
  bar: HTMLElement;
  fill: HTMLElement;
  step: HTMLElement;
  detail: HTMLElement;
  rate: HTMLElement;
  shownRate: readonly number[] | null;
  cancel: HTMLButtonElement;
  result: HTMLElement;
  errors: HTMLElement;
  shownErrors: ErrorItem[] | null;
  folders: HTMLDetailsElement;
  foldersSummary: HTMLElement;
  folderList: HTMLElement;
  shownFolders: string | null;
}

/** Who asked for a run, where it was not the user in a pane ("Sync now"). */
const TRIGGER_NOTE: Partial<Record<string, string>> = {
  schedule: ' (scheduled)',
  cli: ' (command line)',
};

const RESULT_LABEL: Record<string, string> = {
  ok: 'Done',
  error: 'Errors',
  cancelled: 'Cancelled',
  running: 'Running',
};

export class PaneView {
  private readonly statusLine: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly syncButton: HTMLButtonElement;
  private readonly syncLabel: HTMLElement;
  private readonly menuButton: HTMLButtonElement;
  private readonly menu: HTMLElement;
  private readonly itemBox: HTMLElement;
  private shownItem: ItemState | null = null;
  private readonly historyBox: HTMLElement;
  private readonly historyBody: HTMLElement;
  private shownHistory: { entries: HistoryEntry[]; minute: number } | null = null;
  private readonly notice: HTMLElement;
  private readonly help: HTMLElement;
  private readonly runErrors: HTMLElement;
  private shownRunErrors: ErrorItem[] | null = null;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly cards = new Map<string, CardElements>();
  private helpFor: ConnectionState | 'unpaired' | null = null;
  private readonly pairingForm: HTMLFormElement;
  private readonly pairingInput: HTMLInputElement;
  private readonly pairingError: HTMLElement;
  private hostLabel = '';

  constructor(
    root: HTMLElement,
    private readonly actions: ViewActions,
  ) {
    const logo = el('img', { className: 'logo' });
    logo.src = 'assets/icon.svg';
    logo.alt = '';
    logo.width = 24;
    logo.height = 24;

    this.statusText = el('span', { className: 'status-text' });
    this.statusLine = el(
      'div',
      { className: 'status', testId: 'connection-state' },
      el('span', { className: 'dot' }),
      this.statusText,
    );
    this.statusLine.setAttribute('role', 'status');

    this.syncLabel = el('span', { text: 'Sync now' });
    this.syncButton = button(
      '',
      'primary split-main',
      () => this.actions.syncNow('full'),
      'sync-now',
    );
    this.syncButton.append(glyph(SYNC_GLYPH), this.syncLabel);
    this.menuButton = button('', 'primary split-toggle', () => this.toggleMenu(), 'sync-menu');
    this.menuButton.append(glyph(CHEVRON_GLYPH));
    this.menuButton.setAttribute('aria-label', 'More ways to sync');
    this.menuButton.setAttribute('aria-haspopup', 'menu');
    this.menuButton.setAttribute('aria-expanded', 'false');
    this.menu = this.createMenu();
    const split = el('div', { className: 'split' }, this.syncButton, this.menuButton, this.menu);
    this.menuButton.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown' && !this.syncButton.disabled) {
        event.preventDefault();
        this.openMenu();
      }
    });
    document.addEventListener('click', (event) => {
      if (!this.menu.hidden && !split.contains(event.target as Node)) this.closeMenu(false);
    });

    const header = el(
      'header',
      { className: 'top' },
      el('div', { className: 'top-row' }, logo, el('h1', { text: 'StoreSync' }), split),
      this.statusLine,
    );

    this.notice = el('div', { className: 'notice', testId: 'notice' });
    this.notice.setAttribute('role', 'alert');
    this.notice.hidden = true;
    this.help = el('section', { className: 'help', testId: 'help' });
    this.help.hidden = true;
    this.pairingInput = el('input', { className: 'pairing-code', testId: 'pairing-code' });
    this.pairingInput.autocomplete = 'one-time-code';
    this.pairingInput.spellcheck = false;
    this.pairingInput.placeholder = 'ABCD-1234';
    this.pairingInput.maxLength = 20;
    this.pairingInput.setAttribute('aria-label', 'Pairing code');
    this.pairingForm = el(
      'form',
      { className: 'pairing' },
      this.pairingInput,
      button('Pair', 'primary', () => undefined, 'pair'),
    );
    (this.pairingForm.lastElementChild as HTMLButtonElement).type = 'submit';
    this.pairingForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const code = this.pairingInput.value.trim();
      if (code) this.actions.pair(code);
    });
    this.pairingError = el('p', { className: 'pairing-error', testId: 'pairing-error' });
    this.pairingError.setAttribute('role', 'alert');
    this.pairingError.hidden = true;
    this.runErrors = el('ul', { className: 'errors run-errors' });
    this.runErrors.setAttribute('aria-label', 'Problems with a sync run');
    this.list = el('section', { className: 'accounts' });
    this.list.setAttribute('aria-label', 'Accounts');
    this.empty = el(
      'p',
      { className: 'empty' },
      'No accounts are configured yet. Add one to the agent’s config file (',
      el('code', { text: 'storesync config show' }),
      ' names it) and restart the agent.',
    );
    this.itemBox = el('section', { className: 'item', testId: 'item' });
    this.itemBox.setAttribute('aria-label', 'The selected message');
    this.itemBox.setAttribute('aria-live', 'polite');
    this.itemBox.hidden = true;
    this.historyBody = el('div', { className: 'history-body' });
    const historyToggle = el('summary', {}, el('h2', { text: 'Recent syncs' }));
    this.historyBox = el(
      'details',
      { className: 'history', testId: 'history' },
      historyToggle,
      this.historyBody,
    );
    (this.historyBox as HTMLDetailsElement).open = true;
    this.historyBox.hidden = true;
    root.replaceChildren(
      header,
      this.notice,
      this.help,
      this.itemBox,
      this.runErrors,
      this.list,
      this.historyBox,
    );
  }

  private createMenu(): HTMLElement {
    const menu = el('div', { className: 'menu', testId: 'sync-menu-list' });
    menu.setAttribute('role', 'menu');
    menu.setAttribute('aria-label', 'Sync now');
    menu.hidden = true;
    for (const mode of SYNC_MODES) {
      const item = button('', 'menu-item', () => {
        this.closeMenu(true);
        this.actions.syncNow(mode.id);
      });
      item.dataset.mode = mode.id;
      item.setAttribute('role', 'menuitem');
      item.tabIndex = -1;
      item.append(
        el('span', { className: 'menu-label', text: mode.label }),
        el('span', { className: 'menu-description', text: mode.description }),
      );
      menu.append(item);
    }
    menu.addEventListener('keydown', (event) => {
      const items = [...menu.querySelectorAll<HTMLButtonElement>('[role="menuitem"]')];
      const at = items.indexOf(document.activeElement as HTMLButtonElement);
      const move: Record<string, number> = {
        ArrowDown: at + 1,
        ArrowUp: at - 1,
        Home: 0,
        End: items.length - 1,
      };
      if (event.key in move) {
        event.preventDefault();
        items[(move[event.key]! + items.length) % items.length]!.focus();
      } else if (event.key === 'Escape' || event.key === 'Tab') {
        if (event.key === 'Escape') event.preventDefault();
        this.closeMenu(event.key === 'Escape');
      }
    });
    return menu;
  }

  private toggleMenu(): void {
    if (this.menu.hidden) this.openMenu();
    else this.closeMenu(true);
  }

  private openMenu(): void {
    this.menu.hidden = false;
    this.menuButton.setAttribute('aria-expanded', 'true');
    this.menu.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
  }

  private closeMenu(refocus: boolean): void {
    this.menu.hidden = true;
    this.menuButton.setAttribute('aria-expanded', 'false');
    if (refocus) this.menuButton.focus();
  }

  /** "Outlook on the web" and the like, shown next to the connection state. */
  setHost(label: string): void {
    this.hostLabel = label;
  }

  render(state: PaneState, now: number): void {
    this.renderHeader(state);
    this.renderHelp(state);

    this.notice.hidden = state.notice === null;
    this.notice.textContent = !state.notice
      ? ''
      : state.notice.code === 'AGENT_STOPPING'
        ? `${sentence(state.notice.message)}; the pane reconnects when it is back.`
        : state.notice.code === 'SIGN_IN_DEFERRED'
          ? state.notice.message
          : `The agent did not accept that: ${state.notice.message}`;

    this.renderItem(state.item, now);
    this.renderHistory(state, now);

    if (this.shownRunErrors !== state.runErrors) {
      this.shownRunErrors = state.runErrors;
      this.runErrors.replaceChildren(...state.runErrors.map((e) => this.errorItem(e)));
    }

    const offline = state.connection === 'not-running' || state.connection === 'incompatible';
    this.list.classList.toggle('stale', offline || state.connection === 'reconnecting');
    const seen = new Set<string>();
    let previous: Element | null = null;
    for (const account of state.accounts) {
      seen.add(account.id);
      let card = this.cards.get(account.id);
      if (!card) {
        card = this.createCard(account.id);
        this.cards.set(account.id, card);
      }
      // Keep the snapshot's order, moving a card only when it is out of place (moving a
      // node would take the keyboard focus away from a button inside it).
      const expected: Element | null = previous
        ? previous.nextElementSibling
        : this.list.firstElementChild;
      if (expected !== card.root) this.list.insertBefore(card.root, expected);
      previous = card.root;
      this.updateCard(card, account, now, state);
    }
    for (const [id, card] of this.cards) {
      if (seen.has(id)) continue;
      card.root.remove();
      this.cards.delete(id);
    }
    // Only a paired pane is told the accounts: an unpaired one knows nothing of them.
    if (
      state.accounts.length === 0 &&
      state.connection === 'connected' &&
      state.pairing === 'paired'
    ) {
      if (!this.empty.isConnected) this.list.append(this.empty);
    } else this.empty.remove();
  }

  private renderHeader(state: PaneState): void {
    this.statusLine.dataset.state = state.connection;
    const parts = [CONNECTION_TEXT[state.connection]];
    if (state.connection === 'connected' && state.agentVersion)
      parts.push(`agent ${state.agentVersion}`);
    if (this.hostLabel) parts.push(this.hostLabel);
    this.statusText.textContent = parts.join(' · ');

    const syncing = isSyncing(state);
    const starting = state.pendingSync !== null;
    this.syncButton.disabled = !canSyncNow(state);
    this.menuButton.disabled = this.syncButton.disabled;
    if (this.menuButton.disabled && !this.menu.hidden) this.closeMenu(false);
    this.syncButton.classList.toggle('busy', syncing || starting);
    this.syncLabel.textContent = starting ? 'Starting…' : syncing ? 'Syncing…' : 'Sync now';
    this.syncButton.title =
      state.connection !== 'connected'
        ? 'Available when the agent is connected'
        : syncing
          ? 'A sync is running'
          : 'Sync every account now, both ways';
  }

  private renderHelp(state: PaneState): void {
    const which =
      state.connection === 'not-running' || state.connection === 'incompatible'
        ? state.connection
        : state.connection === 'connected' && state.pairing === 'unpaired'
          ? 'unpaired'
          : null;
    this.pairingError.textContent = state.pairingError ?? '';
    this.pairingError.hidden = state.pairingError === null;
    if (which === this.helpFor) return;
    this.helpFor = which;
    this.help.hidden = which === null;
    if (which === 'not-running') {
      this.help.replaceChildren(
        el('div', { className: 'help-icon' }, glyph(PLUG_GLYPH, 'glyph large')),
        el('h2', { text: 'StoreSync isn’t running' }),
        el('p', {
          text: 'This pane shows the StoreSync agent on this computer. Start it in a terminal:',
        }),
        el('pre', {}, el('code', { text: 'storesync start' })),
        el('p', { text: 'Or, to try it with generated mail, from the StoreSync folder:' }),
        el('pre', {}, el('code', { text: 'npm run demo' })),
        el('p', {
          className: 'muted',
          text: 'The pane keeps trying and connects by itself once the agent is up.',
        }),
        button('Try again', 'secondary', () => this.actions.retry(), 'retry'),
      );
    } else if (which === 'unpaired') {
      this.pairingInput.value = '';
      this.help.replaceChildren(
        el('h2', { text: 'Pair this pane with StoreSync' }),
        el('p', {
          text: 'So that only you can control your mail sync, the agent asks for a one-time code. In a terminal on this computer, run:',
        }),
        el('pre', {}, el('code', { text: 'storesync pair' })),
        el('p', { text: 'and enter the code it shows:' }),
        this.pairingForm,
        this.pairingError,
      );
      this.pairingInput.focus();
    } else if (which === 'incompatible') {
      this.help.replaceChildren(
        el('h2', { text: 'Update needed' }),
        el('p', {
          text:
            `The agent (${state.agentVersion ?? 'unknown version'}) speaks protocol version ` +
            `${state.incompatibleVersion}, which this pane does not. Reload the pane; if that ` +
            'does not help, update StoreSync and restart the agent.',
        }),
        button('Reload', 'secondary', () => location.reload()),
      );
    } else {
      this.help.replaceChildren();
    }
  }

  private createCard(id: string): CardElements {
    const avatar = el('span', { className: 'avatar', text: id.slice(0, 1).toUpperCase() });
    avatar.setAttribute('aria-hidden', 'true');
    const badge = el('span', { className: 'badge' });
    const host = el('div', { className: 'host' });
    const meta = el('div', { className: 'meta' });
    const fill = el('div', { className: 'fill' });
    const bar = el('div', { className: 'bar', testId: 'progress' }, fill);
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', '0');
    bar.setAttribute('aria-label', `Sync progress of ${id}`);
    const step = el('div', { className: 'step', testId: 'step-text' });
    const detail = el('div', { className: 'detail', testId: 'progress-detail' });
    const rate = el('div', { className: 'rate', testId: 'rate-chart' });
    const cancel = button(
      'Cancel',
      'link',
      () => {
        const syncId = cancel.dataset.syncId;
        if (syncId) this.actions.cancel(syncId);
      },
      'cancel',
    );
    const progressBox = el(
      'div',
      { className: 'progress' },
      bar,
      el('div', { className: 'progress-text' }, el('div', {}, step, detail), cancel),
      rate,
    );
    const foldersSummary = el('summary', { text: 'Folders' });
    const folderList = el('ul', { className: 'folder-list' });
    const folders = el(
      'details',
      { className: 'folders', testId: 'folders' },
      foldersSummary,
      folderList,
    ) as HTMLDetailsElement;
    const result = el('div', { className: 'result', testId: 'last-result' });
    result.setAttribute('aria-live', 'polite');
    const errors = el('ul', { className: 'errors' });
    errors.setAttribute('aria-label', `Errors for ${id}`);
    const root = el(
      'article',
      { className: 'card', testId: 'account-card' },
      el(
        'div',
        { className: 'card-head' },
        avatar,
        el('div', { className: 'names' }, el('h2', { text: id }), host),
        badge,
      ),
      meta,
      progressBox,
      result,
      errors,
      folders,
    );
    root.dataset.accountId = id;
    root.setAttribute('aria-label', `Account ${id}`);
    return {
      root,
      avatar,
      badge,
      host,
      meta,
      progressBox,
      bar,
      fill,
      step,
      detail,
      rate,
      shownRate: null,
      cancel,
      result,
      errors,
      shownErrors: null,
      folders,
      foldersSummary,
      folderList,
      shownFolders: null,
    };
  }

  private updateCard(card: CardElements, a: AccountView, now: number, state: PaneState): void {
    const connected = state.connection === 'connected';
    card.root.dataset.state = a.activity;
    card.badge.textContent = BADGE_TEXT[a.activity];
    card.badge.dataset.state = a.activity;
    card.host.textContent = a.host;
    const last = a.lastSyncAt ? `synced ${formatAgo(a.lastSyncAt, now)}` : 'never synced';
    setParts(card.meta, [plural(a.messageCount, 'message'), plural(a.folderCount, 'folder'), last]);

    const syncing = a.activity === 'syncing';
    const percent = Math.round(overallFraction(a) * 100);
    card.progressBox.hidden = !syncing && a.activity !== 'done';
    card.bar.setAttribute('aria-valuenow', String(percent));
    card.fill.style.width = `${percent}%`;
    const p = a.progress;
    // Before the first folder there is nothing to measure: the bar says "working" instead.
    card.bar.classList.toggle('indeterminate', syncing && percent === 0);

    if (syncing) {
      const text = p?.text ?? 'Starting…';
      card.step.textContent = text;
      card.bar.setAttribute('aria-valuetext', `${percent}%: ${text}`);
      const parts: string[] = [];
      if (p && p.indexMax > 0 && (p.step === 'downloading' || p.step === 'checking-folder')) {
        parts.push(
          p.step === 'downloading'
            ? `${formatCount(p.index)} of ${formatCount(p.indexMax)}`
            : `folder ${formatCount(p.index + 1)} of ${formatCount(p.indexMax)}`,
        );
      }
      if (p && p.bytes > 0) parts.push(formatBytes(p.bytes));
      const rate = downloadRate(a);
      if (rate) parts.push(`${formatBytes(rate)}/s`);
      const left = eta(a);
      if (left !== null) parts.push(formatTimeLeft(left));
      setParts(card.detail, parts);
    } else {
      card.step.textContent = '';
      card.bar.removeAttribute('aria-valuetext');
      setParts(card.detail, []);
    }
    const samples = syncing ? (a.estimate?.samples ?? []) : [];
    if (card.shownRate !== samples) {
      card.shownRate = samples;
      card.rate.hidden = samples.length < 2;
      card.rate.replaceChildren(...(samples.length < 2 ? [] : [rateChart(samples)]));
    }
    card.cancel.hidden = !syncing || !a.syncId || !connected;
    card.cancel.dataset.syncId = a.syncId ?? '';
    const cancelling = a.syncId !== null && state.pendingCancel === a.syncId;
    card.cancel.disabled = cancelling;
    card.cancel.textContent = cancelling ? 'Cancelling…' : 'Cancel';
    this.updateFolders(card, a.folders, now);

    setParts(
      card.result,
      a.lastDone
        ? lastResultText(a.lastDone.result, a.lastDone.stats, a.lastDone.durationMs).split(SEP)
        : a.lastResult === 'error' && !syncing && a.errors.length === 0
          ? ['The last sync ended with errors. Sync again to see them here.']
          : a.lastResult === 'cancelled' && !syncing
            ? ['The last sync was cancelled.']
            : [],
    );
    card.result.dataset.result = a.lastDone?.result ?? a.lastResult ?? '';

    if (card.shownErrors !== a.errors) {
      card.shownErrors = a.errors;
      card.errors.replaceChildren(...a.errors.map((e) => this.errorItem(e)));
    }
  }

  private updateFolders(card: CardElements, folders: FolderSummary[], now: number): void {
    card.folders.hidden = folders.length === 0;
    // Rebuilt when the counts change, or once a minute for the "ago" texts.
    const key = JSON.stringify(folders) + Math.floor(now / 60_000);
    if (card.shownFolders === key) return;
    card.shownFolders = key;
    const stored = folders.reduce((n, f) => n + f.messageCount, 0);
    card.foldersSummary.textContent = `${plural(folders.length, 'folder')} · ${plural(stored, 'message')}`;
    card.folderList.replaceChildren(
      ...folders.map((f) => {
        const counts = [plural(f.messageCount, 'message')];
        if (f.partialCount > 0) counts.push(`${formatCount(f.partialCount)} headers only`);
        const row = el(
          'li',
          { className: 'folder', testId: 'folder' },
          el('span', { className: 'folder-name', text: f.path }),
          el('span', { className: 'folder-count', text: counts.join(', ') }),
          el('span', {
            className: 'folder-when',
            text: f.lastSyncAt ? formatAgo(f.lastSyncAt, now) : 'never synced',
          }),
        );
        row.dataset.folder = f.path;
        return row;
      }),
    );
  }

  private renderItem(item: ItemState, now: number): void {
    // Outside Outlook, or with nothing selected, there is nothing to say about a message.
    this.itemBox.hidden = item.status === 'none';
    if (this.shownItem === item) return;
    this.shownItem = item;
    this.itemBox.dataset.status = item.status;
    const heading = el('h2', { text: item.subject || 'This message' });
    let body: HTMLElement;
    switch (item.status) {
      case 'none':
        this.itemBox.replaceChildren();
        return;
      case 'pending':
        body = el('p', { text: 'Checking whether it is stored offline…' });
        break;
      case 'failed':
        body = el('p', { text: 'Could not ask the agent whether it is stored offline.' });
        break;
      case 'not-found':
        body = el('p', {
          text: 'Not stored offline yet: it is in no folder StoreSync has synced.',
        });
        break;
      case 'found':
        body = el(
          'ul',
          { className: 'locations' },
          ...item.locations.map((l) =>
            el(
              'li',
              { testId: 'item-location' },
              el('strong', { text: `${l.accountId} › ${l.folder}` }),
              ` · ${formatBytes(l.size)}${l.partial ? ' · headers only' : ''} · ` +
                (l.syncedAt ? `synced ${formatAgo(l.syncedAt, now)}` : 'not synced yet'),
            ),
          ),
        );
        break;
    }
    const verdict = el('div', {
      className: 'item-verdict',
      testId: 'item-status',
      text:
        item.status === 'found'
          ? 'Stored offline'
          : item.status === 'not-found'
            ? 'Not stored offline'
            : item.status === 'pending'
              ? 'Checking…'
              : 'Unknown',
    });
    verdict.dataset.status = item.status;
    this.itemBox.replaceChildren(el('div', { className: 'item-head' }, heading, verdict), body);
  }

  private renderHistory(state: PaneState, now: number): void {
    const entries = state.history;
    this.historyBox.hidden = entries.length === 0;
    const minute = Math.floor(now / 60_000);
    if (this.shownHistory?.entries === entries && this.shownHistory.minute === minute) return;
    this.shownHistory = { entries, minute };
    const legend = el(
      'div',
      { className: 'legend' },
      el('span', { className: 'key key-bar', text: 'duration' }),
      el('span', { className: 'key key-line', text: 'messages moved' }),
    );
    legend.setAttribute('aria-hidden', 'true');
    const list = el('ol', { className: 'history-list' });
    list.setAttribute('aria-label', 'The last syncs, newest first');
    for (const entry of entries) {
      const result = entry.result ?? 'running';
      const mode = modeOfFlags(entry.flags)?.label ?? 'Custom sync';
      const counts = entry.stats
        ? [
            `${formatCount(entry.stats.downloaded)} down`,
            `${formatCount(entry.stats.uploaded)} up`,
            ...(entry.stats.foldersFailed > 0 ? [`${entry.stats.foldersFailed} failed`] : []),
          ]
        : [];
      const row = el(
        'li',
        { className: 'history-row', testId: 'history-entry' },
        el('span', { className: 'result-dot' }),
        el(
          'div',
          { className: 'history-text' },
          el('div', {
            className: 'history-title',
            text: `${RESULT_LABEL[result]} · ${mode}${TRIGGER_NOTE[entry.trigger] ?? ''}`,
          }),
          el('div', {
            className: 'history-meta',
            text: [
              formatAgo(entry.startedAt, now),
              ...(entry.finishedAt !== null ? [formatDuration(durationOf(entry))] : []),
              ...counts,
            ].join(' · '),
          }),
        ),
      );
      row.dataset.result = result;
      row.dataset.syncId = entry.syncId;
      row.title = `${entry.syncId}: ${movedCount(entry)} messages moved`;
      list.append(row);
    }
    this.historyBody.replaceChildren(historyChart(entries), legend, list);
  }

  private errorItem(error: ErrorItem): HTMLElement {
    // The short form reads like a commit hash; Copy and the tooltip give the whole id.
    const short = error.syncId.length > 8 ? `${error.syncId.slice(0, 8)}…` : error.syncId;
    const syncId = el('code', { className: 'sync-id', text: short });
    syncId.title = error.syncId;
    const copy = button('Copy', 'link', () => {
      const done = () => {
        copy.textContent = 'Copied';
        setTimeout(() => (copy.textContent = 'Copy'), 1500);
      };
      const selectIt = () => {
        // Clipboard access may be denied inside Outlook's frame: select it for Ctrl+C.
        syncId.textContent = error.syncId;
        const range = document.createRange();
        range.selectNodeContents(syncId);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
      };
      if (navigator.clipboard) navigator.clipboard.writeText(error.syncId).then(done, selectIt);
      else selectIt();
    });
    copy.setAttribute('aria-label', 'Copy the sync id');
    const title = el(
      'div',
      { className: 'error-title' },
      el('span', { className: 'code', text: error.code }),
    );
    if (error.folder) title.append(el('span', { className: 'folder', text: error.folder }));
    const meta = el(
      'div',
      { className: 'error-meta' },
      el('span', { text: 'Sync ' }),
      syncId,
      copy,
    );
    if (error.retryable && error.severity === 'error') {
      const retry = button(
        'Retry',
        'secondary small',
        () => this.actions.retrySync(error),
        'retry-sync',
      );
      retry.setAttribute('aria-label', `Retry: ${error.message}`);
      meta.append(retry);
    }
    const item = el(
      'li',
      { className: `error-item severity-${error.severity}`, testId: 'error' },
      title,
      el('div', { className: 'error-message', text: error.message }),
      el('div', { className: 'error-hint', testId: 'error-hint', text: error.hint }),
      meta,
    );
    item.dataset.severity = error.severity;
    item.dataset.code = error.code;
    item.dataset.syncId = error.syncId;
    return item;
  }
}

/** The agent's words as the start of a sentence ("the agent is stopping" → "The agent …"). */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
