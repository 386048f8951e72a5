/**
 * The benchmark stays runnable: `bench/run.ts` on 200 messages, StoreSync only (the one-shot
 * command, and the same command with the agent running), one round, one server kind and a
 * few panes. It fails by itself when a count or byte total disagrees
 * with the server; here we also check that it measured what it says. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

describe('bench smoke run (200 messages, StoreSync alone and through its agent)', function () {
  let work: string;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-bench-smoke-'));
  });

  after(async () => {
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('syncs, resyncs and measures the agent, with every figure verified', async () => {
    const out = path.join(work, 'results.json');
    const args = [
      '--import',
      'tsx',
      path.resolve('bench', 'run.ts'),
      ...['--count', '200', '--runs', '1', '--tools', 'storesync,storesync-agent'],
      ...['--variants', 'full'],
      ...['--panes', '3', '--fs', 'dir', '--work', work, '--out', out],
    ];
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /\| storesync \|/);

    const results = JSON.parse(await fs.readFile(out, 'utf8'));
    assert.equal(results.count, 200);
    const phases = results.samples.map(
      (s: { phase: string; tool: string }) => `${s.phase}:${s.tool}`,
    );
    for (const phase of ['initial', 'no-change', 'new-message', 'flags-500']) {
      assert.ok(phases.includes(`${phase}:storesync`), `${phase} measured`);
      // The same command with the agent running for its dataDir: the agent's pass.
      assert.ok(phases.includes(`${phase}:storesync-agent`), `${phase} measured through the agent`);
    }
    // The agent downloaded every message through the proxy, for the command that asked.
    const throughAgent = results.samples.find(
      (s: { phase: string; tool: string }) => s.phase === 'initial' && s.tool === 'storesync-agent',
    );
    assert.ok(throughAgent.downBytes >= results.server.bytes - 2000, 'the agent did the pass');
    // Each StoreSync sample has the pass as the engine timed it, within the command's time.
    for (const sample of results.samples.filter((s: { tool: string }) =>
      s.tool.startsWith('storesync'),
    ))
      assert.ok(sample.passS > 0 && sample.passS <= sample.wallS, JSON.stringify(sample));
    const initial = results.samples.find(
      (s: { phase: string; tool: string }) => s.phase === 'initial' && s.tool === 'storesync',
    );
    // Counted by the proxy: every message byte came down the wire (the server has gained one
    // small new-message since, hence the margin).
    assert.ok(initial.downBytes >= results.server.bytes - 2000, 'bytes counted by the proxy');
    assert.ok(initial.maxRssKb > 0 && initial.userS + initial.sysS > 0, 'CPU and RSS taken');
    assert.equal(results.agent.panes, 3);
    assert.ok(results.agent.idleToFileMs.length >= 1, 'IDLE push measured');
    assert.equal(
      results.agent.idleToChromiumMs.length,
      results.agent.idleToFileMs.length,
      'every push seen in the task pane in Chromium',
    );
    assert.ok(results.agent.eventLatencyMs.length >= 3, 'events reached every pane');
  });
});
