/**
 * What Outlook shows on the selected item about StoreSync: one notification under one key, so
 * each state replaces the last instead of piling up. Pure: the pane state in, the
 * notification out; `outlook.ts` hands it to `item.notificationMessages`.
 */
import { formatCount } from './format.js';
import { hasFailure, overallFraction, type PaneState } from './view-model.js';

/** The one key StoreSync uses (Outlook allows at most 32 characters). */
export const NOTIFICATION_KEY = 'storesync-status';
/** Outlook refuses longer messages. */
export const NOTIFICATION_MAX_CHARS = 150;
/** The manifest's 16 px icon, which an informational message must name. */
export const NOTIFICATION_ICON = 'Icon16';

export type ItemNotificationKind = 'progress' | 'error' | 'info';

export interface ItemNotification {
  kind: ItemNotificationKind;
  message: string;
}

/**
 * Progress while any account syncs (rounded to 10 %, so Outlook is not asked to redraw for
 * every message), an error when the last run of an account failed, "up to date" when the runs
 * this pane watched all ended well; nothing before the pane has seen anything happen.
 */
export function itemNotification(state: PaneState): ItemNotification | null {
  const syncing = state.accounts.filter((a) => a.activity === 'syncing');
  if (syncing.length > 0) {
    const fraction = syncing.reduce((sum, a) => sum + overallFraction(a), 0) / syncing.length;
    const percent = Math.floor(fraction * 10) * 10;
    const names = syncing.map((a) => a.id).join(', ');
    return { kind: 'progress', message: clip(`StoreSync is syncing ${names}: ${percent}% done`) };
  }
  const failed = state.accounts.find((a) => a.activity === 'error' && hasFailure(a.errors));
  const error = failed?.errors.find((e) => e.severity === 'error');
  if (failed && error) {
    const where = error.folder ? ` (${error.folder})` : '';
    return {
      kind: 'error',
      message: clip(`StoreSync: ${failed.id}${where}: ${error.message} ${error.hint}`),
    };
  }
  const watched = state.accounts.filter((a) => a.lastDone !== null);
  if (watched.length > 0 && watched.every((a) => a.activity === 'done')) {
    const downloaded = watched.reduce((n, a) => n + a.lastDone!.stats.downloaded, 0);
    return {
      kind: 'info',
      message: clip(
        `StoreSync: ${watched.map((a) => a.id).join(', ')} up to date` +
          (downloaded > 0 ? `, ${formatCount(downloaded)} new messages stored offline.` : '.'),
      ),
    };
  }
  return null;
}

/** Cuts at a word boundary with an ellipsis when the text is over Outlook's limit. */
export function clip(text: string, max = NOTIFICATION_MAX_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return (space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,.:;]+$/, '') + '…';
}
