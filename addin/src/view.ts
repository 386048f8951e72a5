/**
 * Renders the pane state into the DOM, without a framework. Elements are created once and
 * updated in place (one card per account, keyed by id; error lists rebuilt only when they
 * change), so a click never lands on a node a redraw just replaced and screen readers keep
 * their place. No inline styles anywhere: the agent's CSP allows only its own stylesheet;
 * the one dynamic length, a progress bar's fill, is set through the CSSOM.
 */
import { formatAgo, formatBytes, formatCount, lastResultText, plural } from './format.js';
import {
  type AccountActivity,
  type AccountView,
  canSyncNow,
  type ConnectionState,
  downloadRate,
  type ErrorItem,
  isSyncing,
  overallFraction,
  type PaneState,
} from './view-model.js';

export interface ViewActions {
  syncNow(): void;
  cancel(syncId: string): void;
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
  cancel: HTMLButtonElement;
  result: HTMLElement;
  errors: HTMLElement;
  shownErrors: ErrorItem[] | null;
}

export class PaneView {
  private readonly statusLine: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly syncButton: HTMLButtonElement;
  private readonly syncLabel: HTMLElement;
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
    this.syncButton = button('', 'primary', () => this.actions.syncNow(), 'sync-now');
    this.syncButton.append(glyph(SYNC_GLYPH), this.syncLabel);

    const header = el(
      'header',
      { className: 'top' },
      el('div', { className: 'top-row' }, logo, el('h1', { text: 'StoreSync' }), this.syncButton),
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
      'No accounts are configured yet. Add one to ',
      el('code', { text: '~/.config/storesync/config.json' }),
      ' and restart the agent.',
    );
    root.replaceChildren(header, this.notice, this.help, this.runErrors, this.list);
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
        ? `The agent is stopping (${state.notice.message}); the pane reconnects when it is back.`
        : `The agent did not accept that: ${state.notice.message}`;

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
      this.updateCard(card, account, now, state.connection === 'connected');
    }
    for (const [id, card] of this.cards) {
      if (seen.has(id)) continue;
      card.root.remove();
      this.cards.delete(id);
    }
    if (state.accounts.length === 0 && state.connection === 'connected') {
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
    const detail = el('div', { className: 'detail' });
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
    );
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
      cancel,
      result,
      errors,
      shownErrors: null,
    };
  }

  private updateCard(card: CardElements, a: AccountView, now: number, connected: boolean): void {
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
      const rate = downloadRate(a, now);
      if (rate) parts.push(`${formatBytes(rate)}/s`);
      setParts(card.detail, parts);
    } else {
      card.step.textContent = '';
      card.bar.removeAttribute('aria-valuetext');
      setParts(card.detail, []);
    }
    card.cancel.hidden = !syncing || !a.syncId || !connected;
    card.cancel.dataset.syncId = a.syncId ?? '';

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
    const item = el(
      'li',
      { className: 'error-item', testId: 'error' },
      title,
      el('div', { className: 'error-message', text: error.message }),
      el('div', { className: 'error-hint', testId: 'error-hint', text: error.hint }),
      el('div', { className: 'error-meta' }, el('span', { text: 'Sync ' }), syncId, copy),
    );
    item.dataset.code = error.code;
    item.dataset.syncId = error.syncId;
    return item;
  }
}
