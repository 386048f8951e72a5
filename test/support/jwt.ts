/**
 * Access tokens as an OAuth2 provider would issue them, for a Dovecot started with `oauth2`:
 * HS256 JWTs (RFC 7519) signed with node:crypto, so the tests need no identity provider.
 */
import { createHmac } from 'node:crypto';

export interface TokenClaims {
  /** The mailbox user; Dovecot's oauth2 passdb reads the user name from this claim. */
  sub: string;
  iss: string;
  /** Seconds from now until the token expires; negative for one already expired. */
  expiresIn?: number;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export function mintToken(key: Buffer, claims: TokenClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = claims.expiresIn ?? 3600;
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({
      sub: claims.sub,
      iss: claims.iss,
      // An expired token was also issued before it expired, else it would be invalid twice over.
      iat: Math.min(now, now + expiresIn - 60),
      exp: now + expiresIn,
    }),
  );
  const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${base64url(signature)}`;
}
