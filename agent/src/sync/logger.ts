/**
 * The logging the engine needs, satisfied by a pino logger. Kept as an interface so the
 * engine does not care where lines go (the agent's rotating file, a test's memory array).
 */
export interface SyncLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): SyncLogger;
}

/** Discards everything: for callers that do not keep logs. */
export const silentLogger: SyncLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
