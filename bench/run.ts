/**
 * `npm run bench`: StoreSync, mbsync and OfflineIMAP against the same private Dovecot and the
 * same generated mail, interleaved round by round so drift on the machine hits every tool
 * alike, plus a raw FETCH of all bodies as the ceiling. Every figure is checked (message count
 * and wire bytes in the Maildir equal the server's; flagged counts after flag changes) or the
 * run fails. Options: `--help`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ensureDovecotInstalled,
  startPrivateDovecot,
  type PrivateDovecot,
} from '../agent/src/demo/private-dovecot.js';
import { measureAgent, type AgentFigures } from './agent-latency.js';
import { startByteProxy, type ByteProxy } from './byte-proxy.js';
import { connect, populate, type ImapLogin } from './corpus.js';
import {
  countLocal,
  countServer,
  median,
  RUN_LIMIT_MS,
  runTimed,
  toolEnvironment,
  type ServerCount,
} from './measure.js';
import { percentile, renderTables, type Sample } from './report.js';
import { makeScratch, defaultScratchKind, type Scratch, type ScratchKind } from './scratch.js';
import {
  ALL_TOOLS,
  PASSWORD_ENV,
  RAW_FETCH,
  STORESYNC_BIN,
  TOOL_PACKAGES,
  prepareTool,
  storesyncSummary,
  type PreparedTool,
  type ResidentProcess,
  type ToolName,
} from './tools.js';

const USAGE = `npm run bench -- [options]
  --count N        messages on the server (default 20000)
  --runs R         rounds of every measurement (default 3)
  --tools LIST     storesync,storesync-agent,mbsync,mbsync-nofsync,offlineimap (default all)
  --variants LIST  server capabilities for the resync figures: full,no-qresync,none
                   (default all three; "none" = neither CONDSTORE nor QRESYNC)
  --panes N        WebSocket panes attached to the agent (default 50; 0 skips the agent figures)
  --no-chromium    leave out the task pane in Chromium from the IDLE push figure
  --work DIR       Dovecot data (reused while --count and --seed match) and scratch space
                   (default: <tmp>/storesync-bench)
  --fs ext4|dir    scratch per tool and round: a fresh loop-mounted ext4 (root) or a directory
  --seed S         corpus seed (default 1)
  --profile DIR    run StoreSync under node --cpu-prof, profiles into DIR
  --run-minutes M  how long one run (a tool's sync) may take before it is stopped and the bench
                   fails (default 60; OfflineIMAP's initial sync of 100,000 needs ~90)
  --out FILE       results as JSON (default <work>/results-<count>.json); tables on stdout`;

const FLAG_CHANGES = 500;

interface Options {
  count: number;
  runs: number;
  tools: ToolName[];
  variants: Variant[];
  panes: number;
  chromium: boolean;
  work: string;
  fs: ScratchKind;
  seed: number;
  profile: string | null;
  out: string | null;
  /** One run's limit, in milliseconds. */
  runLimitMs: number;
}

type Variant = 'full' | 'no-qresync' | 'none';
const CAPABILITIES: Record<Variant, { condstore?: boolean; qresync?: boolean }> = {
  full: {},
  'no-qresync': { qresync: false },
  none: { condstore: false },
};

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '20000' },
      runs: { type: 'string', default: '3' },
      tools: { type: 'string', default: ALL_TOOLS.join(',') },
      variants: { type: 'string', default: 'full,no-qresync,none' },
      panes: { type: 'string', default: '50' },
      'no-chromium': { type: 'boolean', default: false },
      work: { type: 'string', default: path.join(os.tmpdir(), 'storesync-bench') },
      fs: { type: 'string', default: defaultScratchKind() },
      seed: { type: 'string', default: '1' },
      profile: { type: 'string' },
      out: { type: 'string' },
      'run-minutes': { type: 'string', default: String(RUN_LIMIT_MS / 60_000) },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const int = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: must be an integer ≥ ${min}`);
    return n;
  };
  const list = <T extends string>(name: string, value: string, allowed: readonly T[]): T[] => {
    const items = value.split(',').filter(Boolean);
    const bad = items.find((i) => !allowed.includes(i as T));
    if (bad || items.length === 0) {
      throw new Error(`--${name}: "${bad ?? value}" is not one of ${allowed.join(', ')}`);
    }
    return items as T[];
  };
  if (values.fs !== 'ext4' && values.fs !== 'dir') throw new Error('--fs: must be ext4 or dir');
  if (values.fs === 'ext4' && process.getuid?.() !== 0) {
    throw new Error('--fs: ext4 mounts a loop image and needs root; use --fs dir');
  }
  return {
    count: int('count', values.count, 10),
    runs: int('runs', values.runs, 1),
    tools: list('tools', values.tools, ALL_TOOLS),
    variants: list('variants', values.variants, ['full', 'no-qresync', 'none'] as const),
    panes: int('panes', values.panes, 0),
    chromium: !values['no-chromium'],
    work: path.resolve(values.work),
    fs: values.fs,
    seed: int('seed', values.seed, 0),
    profile: values.profile ? path.resolve(values.profile) : null,
    out: values.out ? path.resolve(values.out) : null,
    runLimitMs: int('run-minutes', values['run-minutes'], 1) * 60_000,
  };
}

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Debian packages the run needs, installed as the tests install Dovecot (root only). */
export function ensurePackages(tools: ToolName[]): void {
  const needed: Array<[string, string]> = [['/usr/bin/time', 'time']];
  for (const tool of tools) {
    const from = TOOL_PACKAGES[tool];
    if (from) needed.push([`/usr/bin/${from.program}`, from.pkg]);
  }
  const missing = [...new Set(needed.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: run "sudo apt-get install -y ${missing.join(' ')}"`);
  }
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { env, stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-q', ...missing], { env, stdio: 'ignore' });
}

export async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (!existsSync(STORESYNC_BIN.replace(/bin[/\\]storesync\.js$/, 'dist/cli/cli.js'))) {
    throw new Error('the agent is not built: run "npm run build:agent" first');
  }
  await ensureDovecotInstalled(log);
  ensurePackages(opts.tools);
  await fs.mkdir(opts.work, { recursive: true });
  await fs.chmod(opts.work, 0o755); // Dovecot's own users must reach its directory below

  const dovecotDir = path.join(opts.work, `dovecot-${opts.count}-${opts.seed}`);
  const password = 'bench-' + Math.random().toString(36).slice(2);
  const corpusMarker = path.join(dovecotDir, 'corpus.json');
  const reuse = existsSync(corpusMarker);
  let dovecot = await startPrivateDovecot({ dir: dovecotDir, user: 'bench', password });
  const login = (): ImapLogin => ({
    host: dovecot.host,
    port: dovecot.port,
    user: dovecot.user,
    password,
  });
  const conf = () => path.join(dovecotDir, 'dovecot.conf');
  let proxy: ByteProxy | null = null;
  const scratches: Scratch[] = [];
  const residents: ResidentProcess[] = [];
  try {
    if (!reuse) {
      log(`populating ${opts.count} messages (seed ${opts.seed})`);
      await populate(login(), {
        count: opts.count,
        seed: opts.seed,
        onProgress: (n) => log(`  ${n} appended`),
      });
      await fs.writeFile(corpusMarker, JSON.stringify({ count: opts.count, seed: opts.seed }));
    } else {
      await removeBenchMail(login());
    }
    let server = await countServer(conf(), dovecot.user);
    log(`server: ${server.messages} messages, ${(server.bytes / 1e6).toFixed(1)} MB`);
    proxy = await startByteProxy(dovecot.port);
    const viaProxy = { ...login(), port: proxy.port };
    const storesyncArgs = opts.profile ? ['--cpu-prof', '--cpu-prof-dir', opts.profile] : [];
    const samples: Sample[] = [];

    // Warm-up, not recorded: the server's page cache and indexes, as on a server in use.
    // Straight to the server: a synchronous child would starve the proxy in this process.
    rawFetch(login(), 'BODY.PEEK[]', opts.runLimitMs);

    const measure = async (
      phase: Sample['phase'],
      variant: string,
      round: number,
      tool: PreparedTool,
    ): Promise<Sample> => {
      proxy!.reset();
      const args = tool.name.startsWith('storesync') ? [...storesyncArgs, ...tool.args] : tool.args;
      const residentBefore = tool.resident?.usage();
      const result = await runTimed(tool.command, args, {
        env: tool.env,
        timeoutMs: opts.runLimitMs,
      });
      if (result.timedOut) {
        throw new Error(
          stopped(`${phase} ${variant} round ${round}: ${tool.name}`, opts.runLimitMs),
        );
      }
      // The agent did the pass: its CPU counts with the command's, its memory is the tool's.
      if (tool.resident && residentBefore) {
        const after = tool.resident.usage();
        result.userS += after.userS - residentBefore.userS;
        result.sysS += after.sysS - residentBefore.sysS;
        result.maxRssKb = Math.max(result.maxRssKb, after.maxRssKb);
      }
      const why = tool.failure(result.code, result.output);
      if (why) throw new Error(`${phase} ${variant} round ${round}: ${tool.name}: ${why}`);
      const traffic = proxy!.counts();
      const local = await countLocal(tool.maildir);
      server = await countServer(conf(), dovecot.user);
      if (local.messages !== server.messages || local.wireBytes !== server.bytes) {
        throw new Error(
          `${phase} ${variant} round ${round}: ${tool.name} left ${local.messages} messages / ` +
            `${local.wireBytes} bytes; the server holds ${server.messages} / ${server.bytes}`,
        );
      }
      if (local.flagged !== server.flagged) {
        throw new Error(
          `${phase} ${variant} round ${round}: ${tool.name} has ${local.flagged} flagged; ` +
            `the server ${server.flagged}`,
        );
      }
      const sample: Sample = {
        phase,
        variant,
        tool: tool.name,
        round,
        wallS: result.wallS,
        userS: result.userS,
        sysS: result.sysS,
        maxRssKb: result.maxRssKb,
        downBytes: traffic.down,
        upBytes: traffic.up,
        messages: local.messages,
        ...(tool.name.startsWith('storesync')
          ? { passS: storesyncSummary(result.output)!.seconds }
          : {}),
      };
      samples.push(sample);
      log(
        `${phase} ${variant} r${round} ${tool.name}: ${result.wallS.toFixed(2)} s wall, ` +
          `${(result.userS + result.sysS).toFixed(2)} s CPU, ${(result.maxRssKb / 1024).toFixed(0)} MB, ` +
          `${traffic.down} B down`,
      );
      return sample;
    };
    const measureRaw = async (phase: Sample['phase'], variant: string, round: number) => {
      proxy!.reset();
      const items = phase === 'initial' ? 'BODY.PEEK[]' : '(UID FLAGS)';
      const result = await runTimed(process.execPath, rawArgs(viaProxy, items), {
        env: { [PASSWORD_ENV]: password },
        timeoutMs: opts.runLimitMs,
      });
      if (result.timedOut) {
        throw new Error(stopped(`${phase} ${variant} round ${round}: raw FETCH`, opts.runLimitMs));
      }
      if (result.code !== 0) throw new Error(`raw fetch failed: ${result.output}`);
      const got = JSON.parse(result.output.trim().split('\n').pop()!) as {
        messages: number;
        literalBytes: number;
      };
      if (
        got.messages !== server.messages ||
        (phase === 'initial' && got.literalBytes !== server.bytes)
      ) {
        throw new Error(
          `raw fetch got ${JSON.stringify(got)}; the server holds ${JSON.stringify(server)}`,
        );
      }
      const traffic = proxy!.counts();
      log(
        `${phase} ${variant} r${round} raw ${items}: ${result.wallS.toFixed(2)} s wall, ` +
          `${(result.userS + result.sysS).toFixed(2)} s CPU, ${traffic.down} B down`,
      );
      samples.push({
        phase,
        variant,
        tool: phase === 'initial' ? 'raw FETCH BODY[]' : 'raw FETCH (UID FLAGS)',
        round,
        wallS: result.wallS,
        userS: result.userS,
        sysS: result.sysS,
        maxRssKb: result.maxRssKb,
        downBytes: traffic.down,
        upBytes: traffic.up,
        messages: got.messages,
      });
    };

    // ---------------------------------------------------------------- initial full sync
    const kept = new Map<ToolName, PreparedTool>();
    for (let round = 1; round <= opts.runs; round++) {
      await measureRaw('initial', 'full', round);
      for (const name of opts.tools) {
        const scratch = await makeScratch(opts.work, `scratch-${name}`, opts.fs, {
          bytes: server.bytes,
          files: server.messages,
        });
        scratches.push(scratch);
        const tool = await prepareTool(name, scratch.dir, viaProxy);
        if (tool.resident) {
          await tool.resident.start();
          residents.push(tool.resident);
        }
        await measure('initial', 'full', round, tool);
        if (round === opts.runs) kept.set(name, tool);
        else {
          await tool.resident?.stop();
          await scratches.pop()!.remove();
        }
      }
    }

    // ---------------------------------------------------------------- resyncs per server kind
    for (const variant of opts.variants) {
      if (variant !== 'full') {
        await dovecot.stop();
        dovecot = await startPrivateDovecot({
          dir: dovecotDir,
          user: 'bench',
          password,
          capabilities: CAPABILITIES[variant],
        });
        proxy.retarget(dovecot.port);
        // Not recorded: the first pass after a server change may learn what it lost.
        for (const tool of kept.values()) await measure('no-change', `${variant}-warmup`, 0, tool);
        samples.splice(samples.length - kept.size, kept.size);
      }
      for (let round = 1; round <= opts.runs; round++) {
        await measureRaw('no-change', variant, round);
        for (const tool of kept.values()) await measure('no-change', variant, round, tool);
        await appendNewMessage(login(), `${variant}-${round}`);
        for (const tool of kept.values()) await measure('new-message', variant, round, tool);
        await toggleFlags(login(), FLAG_CHANGES, round);
        for (const tool of kept.values()) await measure('flags-500', variant, round, tool);
      }
    }

    // ---------------------------------------------------------------- inside the agent
    let agent: AgentFigures | null = null;
    const storesync = kept.get('storesync');
    if (opts.panes > 0 && storesync) {
      if (opts.variants.at(-1) !== 'full') {
        await dovecot.stop();
        dovecot = await startPrivateDovecot({ dir: dovecotDir, user: 'bench', password });
        proxy.retarget(dovecot.port);
      }
      const work = path.dirname(storesync.maildir);
      const agentConfig = path.join(work, 'agent.json');
      const config = JSON.parse(readFileSync(path.join(work, 'storesync.json'), 'utf8'));
      config.accounts[0].idleFolders = ['INBOX'];
      await fs.writeFile(agentConfig, JSON.stringify(config));
      log(`agent: ${opts.panes} panes, no-change passes and IDLE pushes`);
      agent = await measureAgent({
        config: agentConfig,
        dataDir: config.dataDir,
        inbox: path.join(storesync.maildir, 'INBOX'),
        server: login(),
        env: storesync.env,
        panes: opts.panes,
        passes: Math.max(5, opts.runs),
        pushes: Math.max(10, opts.runs),
        chromium: opts.chromium,
      });
    }

    const results = {
      count: opts.count,
      seed: opts.seed,
      runs: opts.runs,
      fs: opts.fs,
      server: { messages: server.messages, bytes: server.bytes },
      machine: machine(),
      samples,
      agent,
    };
    const out = opts.out ?? path.join(opts.work, `results-${opts.count}.json`);
    await fs.writeFile(out, JSON.stringify(results, null, 2));
    process.stdout.write(renderTables(samples) + '\n' + renderAgent(agent) + '\n');
    log(`results: ${out}`);
    return 0;
  } finally {
    for (const r of residents) await r.stop().catch(() => undefined);
    for (const s of scratches) await s.remove().catch(() => undefined);
    await proxy?.close();
    await dovecot.stop();
  }
}

function rawArgs(server: ImapLogin, items: string): string[] {
  return [
    RAW_FETCH,
    '--host',
    server.host,
    '--port',
    String(server.port),
    '--user',
    server.user,
    '--items',
    items,
  ];
}

function rawFetch(server: ImapLogin, items: string, timeoutMs: number): void {
  execFileSync(process.execPath, rawArgs(server, items), {
    env: toolEnvironment({ [PASSWORD_ENV]: server.password }),
    stdio: 'ignore',
    timeout: timeoutMs,
  });
}

/** Why the bench stops when a run went over its limit. */
function stopped(what: string, limitMs: number): string {
  return `${what} was stopped after ${limitMs / 60_000} minutes (raise --run-minutes to give it longer)`;
}

/** Messages an earlier run added (new-message rounds, IDLE pushes), so each run starts alike. */
async function removeBenchMail(server: ImapLogin): Promise<void> {
  const client = await connect(server);
  try {
    await client.mailboxOpen('INBOX');
    const uids = await client.search({ header: { 'x-bench': 'new-mail' } }, { uid: true });
    if (uids && uids.length > 0) await client.messageDelete(uids, { uid: true });
  } finally {
    await client.logout();
  }
}

async function appendNewMessage(server: ImapLogin, label: string): Promise<void> {
  const client = await connect(server);
  try {
    const raw = Buffer.from(
      `From: Bench <bench@example.org>\r\nTo: bench@example.org\r\nSubject: new mail ${label}\r\n` +
        `Message-ID: <new-${label}-${Date.now()}@bench.invalid>\r\nX-Bench: new-mail\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\n\r\nOne new message (${label}).\r\n`,
    );
    await client.append('INBOX', raw, []);
  } finally {
    await client.logout();
  }
}

/** Toggles \Flagged on `n` INBOX messages, a different slice each round. */
async function toggleFlags(server: ImapLogin, n: number, round: number): Promise<void> {
  const client = await connect(server);
  try {
    await client.mailboxOpen('INBOX');
    const all: Array<{ uid: number; flagged: boolean }> = [];
    for await (const m of client.fetch('1:*', { uid: true, flags: true }, { uid: true })) {
      all.push({ uid: m.uid, flagged: m.flags?.has('\\Flagged') ?? false });
    }
    const start = (round * n) % Math.max(all.length, 1);
    const chosen = [...all.slice(start), ...all.slice(0, start)].slice(0, n);
    const add = chosen.filter((m) => !m.flagged).map((m) => m.uid);
    const remove = chosen.filter((m) => m.flagged).map((m) => m.uid);
    if (add.length) await client.messageFlagsAdd(add, ['\\Flagged'], { uid: true });
    if (remove.length) await client.messageFlagsRemove(remove, ['\\Flagged'], { uid: true });
  } finally {
    await client.logout();
  }
}

function renderAgent(agent: AgentFigures | null): string {
  if (!agent) return '';
  const p = (values: number[]) =>
    `p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (n=${values.length})`;
  return [
    `#### inside the agent (${agent.panes} panes)`,
    '',
    `- no-change pass (done.finishedAt − startedAt): median ${median(agent.noChangePassMs)} ms, all ${agent.noChangePassMs.join(', ')} ms`,
    `- IDLE push, APPEND → file in Maildir: ${p(agent.idleToFileMs)}`,
    `- IDLE push, APPEND → done event at the last of ${agent.panes} panes: ${p(agent.idleToPaneMs)}`,
    ...(agent.idleToChromiumMs.length > 0
      ? [
          `- IDLE push, APPEND → shown in the task pane's history in Chromium: ${p(agent.idleToChromiumMs)}`,
        ]
      : []),
    `- agent → pane, syncStarted/error/done: ${p(agent.eventLatencyMs)}`,
    `- agent → pane, progress (coalesced to ≤ 10/s): ${p(agent.progressLatencyMs)}`,
    `- agent max RSS: ${(agent.agentMaxRssKb / 1024).toFixed(0)} MB`,
    '',
  ].join('\n');
}

function machine(): Record<string, string> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .trim()
        .split('\n')[0]!;
    } catch {
      return 'not installed';
    }
  };
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: String(os.cpus().length),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    kernel: os.release(),
    node: process.version,
    dovecot: version('dovecot', ['--version']),
    mbsync: version('mbsync', ['--version']),
    offlineimap: version('offlineimap', ['--version']),
  };
}

export type { ServerCount, PrivateDovecot };

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
