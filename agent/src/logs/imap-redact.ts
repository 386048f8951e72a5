/**
 * Masks credentials in IMAP protocol lines before they reach a log. imapflow already hides
 * the values it knows are secret; this is the second line of defence, and the one that holds
 * if a line ever comes from somewhere else (another library, a raw socket trace, a future
 * mechanism). Over-redacting a line costs a support engineer a little context; leaking a
 * password costs the user their account, so every rule here errs on the side of masking.
 */

export const MASK = '[redacted]';

/** Per connection: the tag of a LOGIN/AUTHENTICATE still waiting for its tagged answer. */
export interface ImapRedactionState {
  secretTag: string | null;
}

export const INITIAL_REDACTION_STATE: ImapRedactionState = Object.freeze({ secretTag: null });

const LOGIN = /^(\S+)\s+LOGIN(?:\s|$)/i;
const AUTHENTICATE = /^(\S+)\s+AUTHENTICATE(?:\s+([A-Za-z0-9_-]+))?(\s+\S.*)?\s*$/i;
const AUTHENTICATE_ANY = /^(\S+)\s+AUTHENTICATE(?:\s|$)/i;
/**
 * A client line that is one base64 token is a SASL response (PLAIN, LOGIN, XOAUTH2,
 * OAUTHBEARER all send one): no IMAP command looks like that (commands start with a tag and
 * a space; "DONE" ending an IDLE is shorter than eight characters).
 */
const BARE_BASE64 = /^[A-Za-z0-9+/]{8,}={0,2}$/;
/**
 * An OAuth bearer token spelled out (a decoded XOAUTH2/OAUTHBEARER payload, an HTTP header).
 * The token ends at the payload's ^A separator, so that control character is in the class.
 */
// eslint-disable-next-line no-control-regex
const BEARER = /(Bearer\s+)[^\s\x01"']+/gi;

/**
 * Redacts one line. Pure: the caller keeps `state` per IMAP connection and passes back the
 * state returned, so continuation lines after AUTHENTICATE (and LOGIN arguments sent as
 * literals) are masked until the server answers the command's tag.
 */
export function redactImapLine(
  direction: 'C' | 'S',
  line: string,
  state: ImapRedactionState = INITIAL_REDACTION_STATE,
): { line: string; state: ImapRedactionState } {
  if (direction === 'S') {
    const done =
      state.secretTag !== null &&
      new RegExp(`^${escapeRegExp(state.secretTag)}\\s+(OK|NO|BAD)\\b`, 'i').test(line);
    return {
      line: line.replace(BEARER, `$1${MASK}`),
      state: done ? INITIAL_REDACTION_STATE : state,
    };
  }
  // Inside an authentication exchange every client line is part of the secret.
  if (state.secretTag !== null) return { line: MASK, state };

  const login = LOGIN.exec(line);
  if (login) {
    // User and password alike: quoted, atom or literal, parsing them to keep the user name
    // would be one more place for an escaping mistake to leak the password.
    return { line: `${login[1]} LOGIN ${MASK}`, state: { secretTag: login[1]! } };
  }
  const auth = AUTHENTICATE.exec(line);
  if (auth) {
    const mechanism = auth[2] ? ` ${auth[2]}` : '';
    const initialResponse = auth[3] ? ` ${MASK}` : '';
    return {
      line: `${auth[1]} AUTHENTICATE${mechanism}${initialResponse}`,
      state: { secretTag: auth[1]! },
    };
  }
  const oddAuth = AUTHENTICATE_ANY.exec(line);
  if (oddAuth) {
    return { line: `${oddAuth[1]} AUTHENTICATE ${MASK}`, state: { secretTag: oddAuth[1]! } };
  }
  if (BARE_BASE64.test(line.trim())) return { line: MASK, state };
  return { line: line.replace(BEARER, `$1${MASK}`), state };
}

/** Most connections waiting for an authentication answer that are remembered at once. */
const MAX_TRACKED_CONNECTIONS = 256;

/**
 * Keeps a redaction state per connection id. Only connections in the middle of
 * authenticating are remembered, so a long-running agent does not accumulate entries.
 */
export class ImapRedactor {
  private readonly states = new Map<string, ImapRedactionState>();

  redact(direction: 'C' | 'S', line: string, connection = ''): string {
    const result = redactImapLine(direction, line, this.states.get(connection));
    this.states.delete(connection);
    if (result.state.secretTag !== null) {
      this.states.set(connection, result.state);
      // A connection dropped mid-authentication never gets its answer: forget the oldest.
      if (this.states.size > MAX_TRACKED_CONNECTIONS) {
        this.states.delete(this.states.keys().next().value!);
      }
    }
    return result.line;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
