/**
 * Config keys that were renamed keep working: the old name is read as the new one, with a
 * warning saying what to write instead. The schema is strict (an unknown key is an error), so
 * without this an upgrade would turn a working config into an invalid one.
 *
 * Paths are dotted; `[]` stands for every element of an array (`accounts[].imap.selfSigned`).
 * `from` and `to` must have the same number of `[]`: the element keeps its place.
 */
import { ConfigError } from './errors.js';

export interface RenamedKey {
  from: string;
  to: string;
  /** The StoreSync version that introduced the new name. */
  since: string;
}

/** Every rename so far, oldest first. Add one here when a key is renamed in schema.ts. */
export const RENAMED_KEYS: readonly RenamedKey[] = [];

/**
 * A copy of the parsed config file with old names moved to their new ones, and a warning for
 * each. Throws ConfigError when a file sets both names (which one is meant is unclear).
 */
export function applyRenamedKeys(
  json: unknown,
  renames: readonly RenamedKey[],
  where: string,
): { json: unknown; warnings: string[] } {
  if (renames.length === 0 || !isObject(json)) return { json, warnings: [] };
  const copy = structuredClone(json);
  const warnings: string[] = [];
  for (const rename of renames) {
    const from = parsePath(rename.from);
    const to = parsePath(rename.to);
    if (wildcards(from) !== wildcards(to)) {
      throw new Error(`rename ${rename.from} → ${rename.to}: both must have the same number of []`);
    }
    for (const found of expand(copy, from)) {
      const target = concrete(to, found.indices);
      const oldName = display(concrete(from, found.indices));
      const newName = display(target);
      if (lookup(copy, target) !== undefined) {
        throw new ConfigError(
          `${where}: ${oldName}: renamed to ${newName}, which is also set; remove ${oldName}`,
        );
      }
      delete found.parent[found.key];
      assign(copy, target, found.value);
      warnings.push(
        `${where}: ${oldName} is deprecated: it was renamed to ${newName} in StoreSync ${rename.since}; it still works, but write ${newName}`,
      );
    }
  }
  return { json: copy, warnings };
}

type Segment = string | '[]' | number;

function parsePath(text: string): Segment[] {
  return text.split('.').flatMap((part) => {
    const wildcard = part.endsWith('[]');
    const name = wildcard ? part.slice(0, -2) : part;
    return wildcard ? [name, '[]' as const] : [name];
  });
}

function wildcards(segments: Segment[]): number {
  return segments.filter((s) => s === '[]').length;
}

/** Every place the path exists in the value, with the array indices the `[]` stood for. */
function expand(
  root: unknown,
  segments: Segment[],
): Array<{ parent: Record<string, unknown>; key: string; value: unknown; indices: number[] }> {
  const results: Array<{
    parent: Record<string, unknown>;
    key: string;
    value: unknown;
    indices: number[];
  }> = [];
  const walk = (node: unknown, rest: Segment[], indices: number[]) => {
    const [head, ...tail] = rest;
    if (head === '[]') {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, tail, [...indices, i]));
      return;
    }
    if (!isObject(node) || typeof head !== 'string' || !(head in node)) return;
    if (tail.length === 0) results.push({ parent: node, key: head, value: node[head], indices });
    else walk(node[head], tail, indices);
  };
  walk(root, segments, []);
  return results;
}

function concrete(segments: Segment[], indices: number[]): Segment[] {
  let next = 0;
  return segments.map((s) => (s === '[]' ? indices[next++]! : s));
}

function lookup(root: unknown, segments: Segment[]): unknown {
  let node = root;
  for (const s of segments) {
    if (typeof s === 'number' ? !Array.isArray(node) : !isObject(node)) return undefined;
    node = (node as Record<string | number, unknown>)[s as string | number];
  }
  return node;
}

/** Sets the value, creating the objects on the way (never arrays: those already exist). */
function assign(root: Record<string, unknown>, segments: Segment[], value: unknown): void {
  let node: Record<string | number, unknown> = root;
  segments.slice(0, -1).forEach((s) => {
    const key = s as string | number;
    if (!isObject(node[key]) && !Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string | number, unknown>;
  });
  node[segments[segments.length - 1] as string | number] = value;
}

/** accounts[0].imap.host, as error messages name fields. */
function display(segments: Segment[]): string {
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : (i > 0 ? '.' : '') + s))
    .join('');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
