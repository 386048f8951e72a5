/**
 * Office.js integration. The same page is the Outlook task pane and a plain status page:
 * `Office.onReady` resolves outside Office too (with no host), and when office.js could not
 * load at all (`Office` undefined) the pane still works.
 */

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
