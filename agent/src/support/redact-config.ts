/**
 * Secrets out of what goes into a support bundle. The config keeps its shape, so support can
 * see how an account logs in (`"password": {"env": "[removed]"}`: from an environment
 * variable) without learning where the secret is (a variable name, a file path or a command
 * line can itself give it away, `echo hunter2` being the classic).
 */

export const REMOVED = '[removed]';

/**
 * Keys whose value is a secret or says where one is, matched loosely: the config sent to
 * support is often one that failed to load, and a misspelt key ("pasword", "passwd",
 * "Password ", "access_token") holds the secret all the same. No key the config knows
 * otherwise matches.
 */
const SECRET_KEY = /pass|pasw|word|pwd|secret|token|credential|authori[sz]ation|api.?key/i;

/** A copy of the config with every secret (or secret source) replaced by "[removed]". */
export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) ? removeSecret(inner) : redactConfig(inner),
    ]),
  );
}

/** {"env": "X"} → {"env": "[removed]"}: the kind of source stays, what it names goes. */
function removeSecret(value: unknown): unknown {
  if (!isPlainObject(value)) return REMOVED;
  return Object.fromEntries(Object.keys(value).map((kind) => [kind, REMOVED]));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The ways a known secret can appear in a log: as written, JSON-escaped, URL-encoded, and the
 * base64 payloads of AUTHENTICATE PLAIN (with and without an authorization identity) and of a
 * bare base64 response.
 */
export function secretForms(user: string, secret: string): string[] {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const forms = [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    b64(secret),
    b64(`\0${user}\0${secret}`),
    b64(`${user}\0${user}\0${secret}`),
  ];
  // Short strings would match by accident all over a log (and are not worth hiding).
  return [...new Set(forms)].filter((form) => form.length >= 4);
}

/** Replaces every occurrence of every form, longest first (a form may contain another). */
export function scrubSecrets(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.split(form).join('[redacted]');
  }
  return out;
}
