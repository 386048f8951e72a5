/**
 * Office.js integration. The same page is the Outlook task pane and a plain status page:
 * `Office.onReady` resolves outside Office too (with no host), and if office.js could not load
 * at all the pane still works.
 */

export interface HostInfo {
  inOutlook: boolean;
  label: string;
}

export function detectHost(): Promise<HostInfo> {
  const plain: HostInfo = { inOutlook: false, label: '' };
  if (typeof Office === 'undefined' || typeof Office.onReady !== 'function')
    return Promise.resolve(plain);
  return new Promise((resolve) => {
    // Outside any Office host, onReady can take a moment; never hold the pane back for it.
    const fallback = setTimeout(() => resolve(plain), 3000);
    Office.onReady((info) => {
      clearTimeout(fallback);
      resolve(
        info.host === Office.HostType.Outlook ? { inOutlook: true, label: 'in Outlook' } : plain,
      );
    }).catch(() => resolve(plain));
  });
}
