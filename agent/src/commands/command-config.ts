/**
 * Config loading for `cert` and `doctor`. Unlike `sync`, these must work before the user has
 * written a config: with none, the defaults apply (so the default data dir).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFile, parseConfig, type AgentConfig } from '../config/load.js';

/** The same rule as cli.ts's defaultConfigFile (kept here to avoid an import cycle with cli). */
export function defaultConfigPath(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return path.join(
    xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config'),
    'storesync',
    'config.json',
  );
}

/** The named file, else the default file if it exists, else the built-in defaults. */
export function loadConfigOrDefaults(file: string | undefined): AgentConfig {
  if (file) return loadConfigFile(file);
  const chosen = defaultConfigPath();
  return existsSync(chosen) ? loadConfigFile(chosen) : parseConfig({}, null);
}
