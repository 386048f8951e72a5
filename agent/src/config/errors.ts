/** A config (or admin policy) that cannot be used; the message names the file and the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * What JSON.parse said, without the excerpt of the text that V8 quotes in some messages
 * ('Unexpected token ..., "…" is not valid JSON'): the text may hold a password command,
 * and this message goes to the log and the support bundle.
 */
export function jsonSyntaxProblem(err: unknown): string {
  const message = (err as Error).message;
  return /^(Unexpected token .*?), .* is not valid JSON$/s.exec(message)?.[1] ?? message;
}
