/**
 * Ending a command with everything it started. A secret command is a shell line, and a
 * pipeline (`gpg -d pw.gpg | head -1`) or a list (`unlock; secret-tool lookup …`) runs under
 * a shell that is not the process waiting: killing the shell alone leaves that process
 * behind, holding its pipe, and an agent that tries again for months would gather one per
 * attempt. The command keeps the terminal it was started from (no new session), so one that
 * asks on /dev/tty still can.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Kills `root` and every process descended from it, the descendants found first. */
export async function killTree(root: number): Promise<void> {
  let pids: number[] = [];
  try {
    pids = descendants(root, await parentsOfAll());
  } catch {
    // No way to list processes: at least the shell goes.
  }
  for (const pid of [root, ...pids]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

function descendants(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/** Every process's parent: from /proc where there is one (no `ps` in slim containers). */
async function parentsOfAll(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  if (process.platform === 'linux') {
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      // "pid (comm) state ppid …": the name may hold spaces and parentheses, so from the last ")".
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid) parents.set(Number(name), ppid);
    }
    return parents;
  }
  const listing = await new Promise<string>((resolve, reject) =>
    execFile('ps', ['-A', '-o', 'pid=', '-o', 'ppid='], (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  for (const line of listing.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (pid && ppid) parents.set(pid, ppid);
  }
  return parents;
}
