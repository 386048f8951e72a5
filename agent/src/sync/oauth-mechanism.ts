/**
 * Steering imapflow's choice of OAuth2 mechanism. Given an access token, imapflow (2.x) uses
 * OAUTHBEARER when the server's CAPABILITY offers it, else XOAUTH2, and has no option to
 * choose: it decides from its `capabilities` map. So, when the config names a mechanism, the
 * other one is left out of that map as the server announces it (only before login matters:
 * AUTH= entries are pre-login capabilities). What the server offered is kept, to say so
 * when it offers nothing usable.
 */
import type { ImapFlow } from 'imapflow';
import type { OAuthMethod } from '../config/schema.js';

type Capabilities = ImapFlow['capabilities'];

/** The capability names imapflow reads for each mechanism (XOAUTH is XOAUTH2's old name). */
const CAPABILITIES_OF: Record<OAuthMethod, readonly string[]> = {
  OAUTHBEARER: ['AUTH=OAUTHBEARER'],
  XOAUTH2: ['AUTH=XOAUTH2', 'AUTH=XOAUTH'],
};

export interface OAuthOffer {
  /** Set when the server announced its mechanisms and none of those we may use is among them. */
  missing(): { wanted: string; offered: string[] } | null;
}

export function watchOAuthOffer(client: ImapFlow, method: OAuthMethod | null): OAuthOffer {
  const hidden = method
    ? (Object.keys(CAPABILITIES_OF) as OAuthMethod[])
        .filter((m) => m !== method)
        .flatMap((m) => CAPABILITIES_OF[m])
    : [];
  const usable = method ? CAPABILITIES_OF[method] : Object.values(CAPABILITIES_OF).flat();
  let offered: string[] | null = null;
  let current: Capabilities = client.capabilities;
  Object.defineProperty(client, 'capabilities', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (next: Capabilities) => {
      const mechanisms = [...next.keys()].filter((c) => c.toUpperCase().startsWith('AUTH='));
      if (mechanisms.length > 0) offered = mechanisms.map((c) => c.slice('AUTH='.length));
      for (const capability of hidden) next.delete(capability);
      current = next;
    },
  });
  return {
    missing: () => {
      if (!offered) return null; // never got that far (connection, TLS): not the reason
      const list = offered;
      if (usable.some((c) => list.includes(c.slice('AUTH='.length)))) return null;
      return { wanted: method ?? 'OAUTHBEARER or XOAUTH2', offered: list };
    },
  };
}
