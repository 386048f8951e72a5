/**
 * Renders the pane state into the DOM. Elements are created once and updated in place (an
 * account card per account, keyed by id), so a click never lands on a node that a redraw just
 * replaced, and screen readers keep their place.
 */
import { formatAgo, formatBytes, formatCount, lastResultText } from './format.js';
import {
  type AccountView,
  type ConnectionState,
  downloadRate,
  isSyncing,
  overallFraction,
  type PaneState,
} from './view-model.js';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting to the StoreSync agent…',
  connected: 'Connected to the StoreSync agent',
  reconnecting: 'Connection lost — reconnecting…',
  'not-running': 'The StoreSync agent is not running',
  incompatible: 'This pane and the agent are different versions',
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; testId?: string; text?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.testId) node.dataset.testid = props.testId;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

interface CardElements {
  root: HTMLElement;
  status: HTMLElement;
  meta: HTMLElement;
  bar: HTMLElement;
  fill: HTMLElement;
  step: HTMLElement;
  detail: HTMLElement;
  result: HTMLElement;
  errors: HTMLElement;
}

export interface ViewActions {
  syncNow(): void;
}

export class PaneView {
  private readonly connection: HTMLElement;
  private readonly connectionText: HTMLElement;
  private readonly help: HTMLElement;
  private readonly syncButton: HTMLButtonElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly cards = new Map<string, CardElements>();
  private hostLabel = '';

  constructor(root: HTMLElement, actions: ViewActions) {
    this.connectionText = el('span', { className: 'connection-text' });
    this.connection = el(
      'div',
      { className: 'connection', testId: 'connection-state' },
      el('span', { className: 'dot' }),
      this.connectionText,
    );
    this.connection.setAttribute('role', 'status');
    this.syncButton = el('button', { className: 'primary', testId: 'sync-now', text: 'Sync now' });
    this.syncButton.type = 'button';
    this.syncButton.addEventListener('click', () => actions.syncNow());
    this.help = el('div', { className: 'help', testId: 'help' });
    this.list = el('section', { className: 'accounts' });
    this.list.setAttribute('aria-label', 'Accounts');
    this.empty = el('p', {
      className: 'empty',
      text: 'No accounts are configured. Add one to the agent’s config file and restart it.',
    });
    const header = el(
      'header',
      { className: 'top' },
      el('div', { className: 'brand' }, el('img', {}), el('h1', { text: 'StoreSync' })),
      this.syncButton,
    );
    const logo = header.querySelector('img')!;
    logo.src = 'assets/icon-32.png';
    logo.alt = '';
    logo.width = 20;
    logo.height = 20;
    root.replaceChildren(header, this.connection, this.help, this.list);
  }

  setHost(label: string): void {
    this.hostLabel = label;
  }

  render(state: PaneState, now: number): void {
    this.connection.dataset.state = state.connection;
    this.connectionText.textContent =
      CONNECTION_TEXT[state.connection] +
      (state.connection === 'connected' && state.agentVersion ? ` ${state.agentVersion}` : '') +
      (this.hostLabel ? ` · ${this.hostLabel}` : '');
    this.renderHelp(state);

    const syncing = isSyncing(state);
    this.syncButton.disabled =
      state.connection !== 'connected' || syncing || state.accounts.length === 0;
    this.syncButton.textContent = syncing ? 'Syncing…' : 'Sync now';

    const seen = new Set<string>();
    for (const account of state.accounts) {
      seen.add(account.id);
      let card = this.cards.get(account.id);
      if (!card) {
        card = this.createCard(account.id);
        this.cards.set(account.id, card);
      }
      this.list.append(card.root); // keeps the order of the snapshot
      this.updateCard(card, account, now);
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.root.remove();
        this.cards.delete(id);
      }
    }
    if (state.accounts.length === 0 && state.connection === 'connected')
      this.list.append(this.empty);
    else this.empty.remove();
  }

  private renderHelp(state: PaneState): void {
    if (state.connection === 'not-running') {
      this.help.replaceChildren(
        el('p', { text: 'Start it on this computer, then this pane connects by itself:' }),
        el('pre', { text: 'storesync start --config ~/.config/storesync/config.json' }),
        el('p', { text: 'or, to try it with generated mail:' }),
        el('pre', { text: 'npm run demo' }),
      );
      this.help.hidden = false;
    } else if (state.connection === 'incompatible') {
      this.help.replaceChildren(
        el('p', {
          text: `The agent speaks protocol version ${state.incompatibleVersion}. Reload this pane after updating StoreSync.`,
        }),
      );
      this.help.hidden = false;
    } else {
      this.help.hidden = true;
      this.help.replaceChildren();
    }
  }

  private createCard(id: string): CardElements {
    const status = el('span', { className: 'badge' });
    const meta = el('div', { className: 'meta' });
    const fill = el('div', { className: 'fill' });
    const bar = el('div', { className: 'bar', testId: 'progress' }, fill);
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-label', `Sync progress of ${id}`);
    const step = el('div', { className: 'step', testId: 'step-text' });
    step.setAttribute('aria-live', 'polite');
    const detail = el('div', { className: 'detail' });
    const result = el('div', { className: 'result', testId: 'last-result' });
    const errors = el('ul', { className: 'errors' });
    errors.setAttribute('aria-label', 'Errors');
    const root = el(
      'article',
      { className: 'card', testId: 'account-card' },
      el('div', { className: 'card-head' }, el('h2', { text: id }), status),
      meta,
      bar,
      step,
      detail,
      result,
      errors,
    );
    root.dataset.accountId = id;
    return { root, status, meta, bar, fill, step, detail, result, errors };
  }

  private updateCard(card: CardElements, account: AccountView, now: number): void {
    card.root.dataset.state = account.activity;
    card.status.textContent = {
      idle: 'Idle',
      syncing: 'Syncing',
      done: 'Up to date',
      error: 'Needs attention',
    }[account.activity];
    card.status.className = `badge ${account.activity}`;
    const last = account.lastSyncAt
      ? `last sync ${formatAgo(account.lastSyncAt, now)}`
      : 'never synced';
    card.meta.textContent = `${account.host} · ${formatCount(account.messageCount)} messages in ${formatCount(account.folderCount)} folders · ${last}`;

    const percent = Math.round(overallFraction(account) * 100);
    card.bar.setAttribute('aria-valuenow', String(percent));
    card.bar.hidden = account.activity === 'idle' && !account.lastDone;
    card.fill.style.width = `${percent}%`;

    const p = account.progress;
    if (account.activity === 'syncing' && p) {
      card.bar.setAttribute('aria-valuetext', `${percent}% — ${p.text}`);
      card.step.textContent = p.text;
      const rate = downloadRate(account, now);
      const parts = [];
      if (p.step === 'downloading')
        parts.push(`${formatCount(p.index)} of ${formatCount(p.indexMax)}`);
      if (p.bytes > 0) parts.push(formatBytes(p.bytes));
      if (rate) parts.push(`${formatBytes(rate)}/s`);
      card.detail.textContent = parts.join(' · ');
    } else {
      card.bar.removeAttribute('aria-valuetext');
      card.step.textContent = account.activity === 'syncing' ? 'Starting…' : '';
      card.detail.textContent = '';
    }
    card.result.textContent = account.lastDone
      ? lastResultText(account.lastDone.result, account.lastDone.stats, account.lastDone.durationMs)
      : '';

    card.errors.replaceChildren(
      ...account.errors.map((error) => {
        const where = error.folder ? `${error.folder}: ` : '';
        const copy = el('button', { className: 'link', text: 'Copy sync id' });
        copy.type = 'button';
        copy.title = error.syncId;
        copy.addEventListener('click', () => void navigator.clipboard?.writeText(error.syncId));
        return el(
          'li',
          { className: 'error', testId: 'error' },
          el(
            'div',
            { className: 'error-message' },
            el('strong', { text: error.code }),
            document.createTextNode(` ${where}${error.message}`),
          ),
          el('div', { className: 'error-hint', testId: 'error-hint', text: error.hint }),
          el(
            'div',
            { className: 'error-meta' },
            el('span', { text: `sync ${error.syncId.slice(0, 8)}` }),
            copy,
          ),
        );
      }),
    );
  }
}
