/**
 * Office.js integration. The same page is the Outlook task pane and a plain status page:
 * `Office.onReady` resolves outside Office too (with no host), and when office.js could not
 * load at all (`Office` undefined) the pane still works.
 */
import { type ItemNotification, NOTIFICATION_ICON, NOTIFICATION_KEY } from './item-notification.js';

export interface HostInfo {
  inOutlook: boolean;
  /** "Outlook on the web", "Outlook for Windows", …; empty outside Outlook. */
  label: string;
}

const PLAIN: HostInfo = { inOutlook: false, label: '' };
/** Outside any Office host onReady can take a moment; never hold the pane back for it. */
const ON_READY_TIMEOUT_MS = 3000;

export function detectHost(): Promise<HostInfo> {
  if (typeof Office === 'undefined' || typeof Office.onReady !== 'function') {
    return Promise.resolve(PLAIN);
  }
  return new Promise((resolve) => {
    const fallback = setTimeout(() => resolve(PLAIN), ON_READY_TIMEOUT_MS);
    const done = (host: HostInfo) => {
      clearTimeout(fallback);
      resolve(host);
    };
    try {
      void Office.onReady((info) => {
        done(
          info.host === Office.HostType.Outlook
            ? { inOutlook: true, label: outlookLabel(info.platform) }
            : PLAIN,
        );
      }).catch(() => done(PLAIN));
    } catch {
      done(PLAIN);
    }
  });
}

function outlookLabel(platform: Office.PlatformType | null | undefined): string {
  const P = Office.PlatformType;
  if (!P) return 'Outlook';
  switch (platform) {
    case P.OfficeOnline:
      return 'Outlook on the web';
    case P.PC:
      return 'Outlook for Windows';
    case P.Mac:
      return 'Outlook for Mac';
    case P.iOS:
      return 'Outlook for iOS';
    case P.Android:
      return 'Outlook for Android';
    default:
      return 'Outlook';
  }
}

/** The selected message as the pane needs it. */
export interface SelectedItem {
  /** Null while composing: a draft has no Message-ID yet. */
  internetMessageId: string | null;
  subject: string;
}

/** The part of an Outlook item the pane uses (Mailbox 1.3 notificationMessages, 1.1 read). */
interface ItemLike {
  internetMessageId?: unknown;
  subject?: unknown;
  notificationMessages?: {
    replaceAsync(
      key: string,
      details: Office.NotificationMessageDetails,
      callback?: (result: Office.AsyncResult<void>) => void,
    ): void;
  };
}

function currentItem(): ItemLike | null {
  return (Office.context?.mailbox?.item as ItemLike | null | undefined) ?? null;
}

function describe(item: ItemLike | null): SelectedItem | null {
  if (!item) return null;
  return {
    internetMessageId:
      typeof item.internetMessageId === 'string' && item.internetMessageId !== ''
        ? item.internetMessageId
        : null,
    // In compose, subject is an object with getAsync; only a read item's string is shown.
    subject: typeof item.subject === 'string' ? item.subject : '',
  };
}

/**
 * The selected item inside Outlook: which one it is (following ItemChanged, as a pinned pane
 * stays open while the user moves between messages) and the StoreSync notification on it.
 */
export class OutlookItem {
  /** The notification on the current item, so an unchanged one is not sent again. */
  private shown: string | null = null;
  private wanted: ItemNotification | null = null;

  /** Calls `onItem` with the selected item now and after every change of selection. */
  watch(onItem: (item: SelectedItem | null) => void): void {
    onItem(describe(currentItem()));
    const mailbox = Office.context?.mailbox;
    if (!mailbox || typeof mailbox.addHandlerAsync !== 'function') return;
    mailbox.addHandlerAsync(Office.EventType.ItemChanged, () => {
      // A new item carries none of our notifications: show the current one on it.
      this.shown = null;
      onItem(describe(currentItem()));
      this.apply();
    });
  }

  /** Shows `notification` on the selected item, replacing the last one (null: keep it). */
  show(notification: ItemNotification | null): void {
    this.wanted = notification;
    this.apply();
  }

  private apply(): void {
    const notification = this.wanted;
    const messages = currentItem()?.notificationMessages;
    if (!notification || !messages) return;
    const signature = `${notification.kind}\n${notification.message}`;
    if (signature === this.shown) return;
    this.shown = signature;
    messages.replaceAsync(NOTIFICATION_KEY, notificationDetails(notification), (result) => {
      if (result.status === Office.AsyncResultStatus.Failed) {
        console.warn('StoreSync: Outlook refused the notification:', result.error?.message);
        if (this.shown === signature) this.shown = null;
      }
    });
  }
}

function notificationDetails(n: ItemNotification): Office.NotificationMessageDetails {
  const types = Office.MailboxEnums.ItemNotificationMessageType;
  switch (n.kind) {
    case 'progress':
      return { type: types.ProgressIndicator, message: n.message };
    case 'error':
      return { type: types.ErrorMessage, message: n.message };
    case 'info':
      return {
        type: types.InformationalMessage,
        message: n.message,
        icon: NOTIFICATION_ICON,
        persistent: false,
      };
  }
}
