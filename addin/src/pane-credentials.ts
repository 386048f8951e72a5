/**
 * What the pane keeps to prove it is paired: the token the agent gave in exchange for a
 * one-time code. Kept in localStorage, which is per origin (and, inside Outlook on the web,
 * per embedding site), so a pane in a new place pairs once more.
 */
const TOKEN_KEY = 'storesync.token';

export interface PaneCredentials {
  token(): string | null;
  remember(token: string): void;
  forget(): void;
  /** A one-time secret from a `storesync open` link, once; null when the page had none. */
  takeLinkSecret(): string | null;
}

export function browserCredentials(): PaneCredentials {
  let linkSecret = readLinkSecret();
  return {
    token: () => safeStorage()?.getItem(TOKEN_KEY) ?? null,
    remember: (token) => safeStorage()?.setItem(TOKEN_KEY, token),
    forget: () => safeStorage()?.removeItem(TOKEN_KEY),
    takeLinkSecret: () => {
      const secret = linkSecret;
      linkSecret = null;
      return secret;
    },
  };
}

/** Reads `#pair=…` and takes it out of the address bar and history at once. */
function readLinkSecret(): string | null {
  const match = /(?:^#|&)pair=([A-Za-z0-9_-]{8,200})/.exec(location.hash);
  if (!match) return null;
  // Office.js sets history.replaceState to null on the page; the prototype's is intact.
  try {
    History.prototype.replaceState.call(history, null, '', location.pathname + location.search);
  } catch {
    location.hash = '';
  }
  return match[1]!;
}

/** Storage can be switched off (privacy settings, some embedded hosts): then nothing is kept. */
function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
