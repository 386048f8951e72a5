/**
 * The three-way flag merge. The base is the flag set both sides had when they were last in
 * sync (kept in the state). Each side's change is its difference from the base, flag by flag;
 * each change is applied to the other side. Comparing the two sides directly could not tell
 * "added here" from "removed there". Flags a Maildir file name cannot carry (keywords) only
 * exist remotely and in the base, so the server's value is taken for them.
 */
import { imapFlagsOfLetters, maildirLetters } from './maildir/flags.js';

/** The flags a Maildir file name can carry. */
const LETTER_FLAGS = imapFlagsOfLetters('DFPRST');

export interface FlagMergeInput {
  base: readonly string[];
  /** The file's letters, as found on disk. */
  localLetters: string;
  remote: readonly string[];
  /** Directions allowed in this sync (MAPISIB download/upload contents). */
  applyToLocal: boolean;
  applyToRemote: boolean;
}

export interface FlagMergeResult {
  /** Letters the file should carry now (unchanged when it needs no rename). */
  localLetters: string;
  addRemote: string[];
  removeRemote: string[];
  /** The new common base: only what both sides now agree on moved. */
  base: string[];
}

export function mergeFlags(input: FlagMergeInput): FlagMergeResult {
  const base = new Set(input.base);
  const remote = new Set(input.remote);
  const local = new Set(imapFlagsOfLetters(input.localLetters));
  const nextLocal = new Set(local);
  const nextBase = new Set(base);
  const addRemote: string[] = [];
  const removeRemote: string[] = [];

  for (const flag of LETTER_FLAGS) {
    const b = base.has(flag);
    const r = remote.has(flag);
    const l = local.has(flag);
    if (r === l) {
      setIf(nextBase, flag, r); // both sides agree (changed alike, or unchanged)
    } else if (r !== b) {
      // The server changed it (if both had changed it they would agree): server → local.
      if (input.applyToLocal) {
        setIf(nextLocal, flag, r);
        setIf(nextBase, flag, r);
      }
    } else {
      // Only the local side changed it: local → server.
      if (input.applyToRemote) {
        (l ? addRemote : removeRemote).push(flag);
        setIf(nextBase, flag, l);
      }
    }
  }
  // Keywords: the server is the only place they live besides the base.
  for (const flag of new Set([...base, ...remote])) {
    if (LETTER_FLAGS.includes(flag)) continue;
    if (input.applyToLocal || remote.has(flag) === base.has(flag))
      setIf(nextBase, flag, remote.has(flag));
  }
  return {
    localLetters: sameLetters(local, nextLocal)
      ? input.localLetters
      : rewriteLetters(input.localLetters, nextLocal),
    addRemote,
    removeRemote,
    base: [...nextBase].sort(),
  };
}

/**
 * True when mergeFlags would change nothing: the server reports the base's flags (or no
 * change at all) and the file carries exactly the base's letters. The common case of every
 * full pass, decided without building sets, so that a folder of many thousands of messages
 * is walked in a few milliseconds.
 */
export function mergeChangesNothing(
  base: readonly string[],
  localLetters: string,
  remote: readonly string[] | undefined,
): boolean {
  return remoteChangesNothing(base, remote) && localLetters === lettersOf(base);
}

/**
 * mergeChangesNothing for a file known to carry exactly the base's letters: true when the
 * server reports the base's flags, or no change at all.
 */
export function remoteChangesNothing(
  base: readonly string[],
  remote: readonly string[] | undefined,
): boolean {
  return remote === undefined || sameFlagSet(remote, base);
}

/** Letters of the flags exactly as mergeFlags reads them (no case folding), per array. */
const lettersCache = new WeakMap<readonly string[], string>();
function lettersOf(flags: readonly string[]): string {
  let letters = lettersCache.get(flags);
  if (letters === undefined) {
    letters = LETTER_FLAGS.filter((flag) => flags.includes(flag))
      .map((flag) => maildirLetters([flag]))
      .sort()
      .join('');
    lettersCache.set(flags, letters);
  }
  return letters;
}

function sameFlagSet(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  for (const flag of a) if (!b.includes(flag)) return false;
  for (const flag of b) if (!a.includes(flag)) return false;
  return true;
}

function setIf(set: Set<string>, flag: string, on: boolean): void {
  if (on) set.add(flag);
  else set.delete(flag);
}

function sameLetters(a: Set<string>, b: Set<string>): boolean {
  return maildirLetters(a) === maildirLetters(b);
}

/** New letters for the six flags, keeping any other letters another program put there. */
function rewriteLetters(original: string, flags: Set<string>): string {
  const foreign = [...original].filter((ch) => !'DFPRST'.includes(ch));
  return [...maildirLetters(flags), ...foreign].sort().join('');
}
