/**
 * Config loading for `logs` and `support-bundle`. Both are what a user reaches for when
 * something is wrong, quite possibly the config itself: an invalid config is reported, not
 * fatal, and the data directory is still found when the file names one.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  defaultDataDir,
  jsonSyntaxProblem,
  parseConfig,
  type AgentConfig,
} from '../config/load.js';
import { defaultConfigFileFor } from '../platform-paths.js';

export interface DiagnosticsConfig {
  /** The config file read, or null when there is none (defaults apply). */
  file: string | null;
  /** The file's JSON as written, or null when there is no file or it is not JSON. */
  raw: unknown;
  /** The validated config, or null when it is invalid. */
  config: AgentConfig | null;
  dataDir: string;
  /** Why the config could not be used, for the user and the bundle. */
  problem: string | null;
}

/** The same rule as cli.ts's defaultConfigFile (not imported: cli.ts imports this module). */
function defaultConfigFile(): string {
  return defaultConfigFileFor();
}

/** Throws ConfigError only when a file was named and cannot be read. */
export function loadConfigForDiagnostics(file: string | undefined): DiagnosticsConfig {
  const chosen = path.resolve(file ?? defaultConfigFile());
  if (!file && !existsSync(chosen)) {
    return { file: null, raw: null, config: null, dataDir: defaultDataDir(), problem: null };
  }
  let text: string;
  try {
    text = readFileSync(chosen, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${chosen}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return {
      file: chosen,
      raw: null,
      config: null,
      dataDir: defaultDataDir(),
      problem: `${chosen}: not valid JSON (${jsonSyntaxProblem(err)})`,
    };
  }
  try {
    const config = parseConfig(raw, chosen);
    return { file: chosen, raw, config, dataDir: config.dataDir, problem: null };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      file: chosen,
      raw,
      config: null,
      dataDir: dataDirOf(raw, chosen),
      problem: err.message,
    };
  }
}

/** The data directory an invalid config names, resolved as parseConfig would. */
function dataDirOf(raw: unknown, file: string): string {
  const named = raw && typeof raw === 'object' ? (raw as { dataDir?: unknown }).dataDir : undefined;
  if (typeof named !== 'string' || named === '') return defaultDataDir();
  const expanded =
    named === '~' || named.startsWith('~/') ? path.join(os.homedir(), named.slice(1)) : named;
  return path.resolve(path.dirname(file), expanded);
}
