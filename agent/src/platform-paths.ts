/**
 * Where the agent keeps its config and data by default, by each platform's convention:
 * Linux and other Unix-likes the XDG base directories ($XDG_CONFIG_HOME or ~/.config,
 * $XDG_DATA_HOME or ~/.local/share), macOS ~/Library/Application Support/StoreSync, Windows
 * %LOCALAPPDATA%\StoreSync (machine-local: a mail store must not roam with the profile).
 * Pure: the platform, environment and home directory are passed in, so every platform's
 * answer can be checked anywhere.
 */
import os from 'node:os';
import path from 'node:path';

export interface PlatformContext {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  home: string;
}

export function hostContext(): PlatformContext {
  return { platform: process.platform, env: process.env, home: os.homedir() };
}

export function defaultConfigFileFor(ctx: PlatformContext = hostContext()): string {
  const p = pathFor(ctx);
  if (ctx.platform === 'darwin' || ctx.platform === 'win32')
    return p.join(appHome(ctx), 'config.json');
  return p.join(xdg(ctx, 'XDG_CONFIG_HOME', '.config'), 'storesync', 'config.json');
}

export function defaultDataDirFor(ctx: PlatformContext = hostContext()): string {
  if (ctx.platform === 'darwin' || ctx.platform === 'win32') return appHome(ctx);
  return pathFor(ctx).join(xdg(ctx, 'XDG_DATA_HOME', '.local/share'), 'storesync');
}

/**
 * Files that only make the program faster and can be deleted at any time (the code cache,
 * code-cache.ts): $XDG_CACHE_HOME or ~/.cache, ~/Library/Caches, %LOCALAPPDATA%.
 */
export function defaultCacheDirFor(ctx: PlatformContext = hostContext()): string {
  const p = pathFor(ctx);
  if (ctx.platform === 'darwin') return p.join(ctx.home, 'Library', 'Caches', 'StoreSync');
  if (ctx.platform === 'win32') return p.join(appHome(ctx), 'Cache');
  return p.join(xdg(ctx, 'XDG_CACHE_HOME', '.cache'), 'storesync');
}

function appHome(ctx: PlatformContext): string {
  const p = pathFor(ctx);
  if (ctx.platform === 'darwin')
    return p.join(ctx.home, 'Library', 'Application Support', 'StoreSync');
  const local = ctx.env.LOCALAPPDATA;
  return p.join(
    local && p.isAbsolute(local) ? local : p.join(ctx.home, 'AppData', 'Local'),
    'StoreSync',
  );
}

/** An XDG variable counts only when absolute, as the specification says. */
function xdg(ctx: PlatformContext, variable: string, fallback: string): string {
  const value = ctx.env[variable];
  return value && path.posix.isAbsolute(value) ? value : path.posix.join(ctx.home, fallback);
}

function pathFor(ctx: PlatformContext): path.PlatformPath {
  return ctx.platform === 'win32' ? path.win32 : path.posix;
}

/** Points at another policy file (tests, or an admin trying a policy out); empty: none. */
export const POLICY_FILE_ENV = 'STORESYNC_POLICY_FILE';

/** Where the policy lives on this kind of machine (before STORESYNC_POLICY_FILE). */
export function defaultPolicyFile(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (platform === 'win32') {
    const programData = env.ProgramData || env.PROGRAMDATA || 'C:\\ProgramData';
    return path.win32.join(programData, 'StoreSync', 'policy.json');
  }
  if (platform === 'darwin') return '/Library/Application Support/StoreSync/policy.json';
  return '/etc/storesync/policy.json';
}

export function policyFile(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[POLICY_FILE_ENV];
  return override ? path.resolve(override) : defaultPolicyFile(process.platform, env);
}
