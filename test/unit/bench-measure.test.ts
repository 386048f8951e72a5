/**
 * The bench's timed runs (bench/measure.ts): GNU time around each tool, and a limit past
 * which the run is stopped, the tool with it, and reported as such rather than as figures.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { runTimed } from '../../bench/measure.js';
import { ensurePackages } from '../../bench/run.js';

/** Whether a process runs whose command line is exactly `command`. */
function running(command: string): boolean {
  try {
    execFileSync('pgrep', ['-x', '-f', command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('bench: timed runs', function () {
  this.timeout(120_000);

  // GNU time, installed as a bench run installs it (root), or a clear error saying how.
  before(() => ensurePackages([]));

  it('gives a run within its limit its exit code and figures', async () => {
    const result = await runTimed('sh', ['-c', 'echo out; exit 3'], { timeoutMs: 60_000 });
    assert.equal(result.timedOut, false);
    assert.equal(result.code, 3);
    assert.match(result.output, /^out$/m);
    assert.doesNotMatch(result.output, /BENCH_TIME/);
    assert.ok(result.maxRssKb > 0);
  });

  it("runs a tool in a service's environment and its own variables, not the bench's", async () => {
    const probe = 'STORESYNC_BENCH_PROBE';
    process.env[probe] = 'from the bench';
    try {
      const result = await runTimed('sh', ['-c', `echo "[$${probe}] [$OWN] [$HOME] [$PATH]"`], {
        env: { OWN: 'own value' },
        timeoutMs: 60_000,
      });
      assert.equal(result.code, 0);
      assert.equal(
        result.output.trim(),
        `[] [own value] [${process.env.HOME}] [${process.env.PATH}]`,
      );
    } finally {
      delete process.env[probe];
    }
  });

  it('stops a run over its limit, the tool with it, and says so', async () => {
    // A duration no other process uses, to find this one by its command line.
    const seconds = `${40 + Math.floor(Math.random() * 1000)}.5`;
    const result = await runTimed('sleep', [seconds], { timeoutMs: 300 });
    assert.equal(result.timedOut, true);
    assert.ok(result.wallS < 20, `stopped after ${result.wallS} s`);
    assert.equal(running(`sleep ${seconds}`), false, 'the tool was left running');
  });
});
