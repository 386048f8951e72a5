/**
 * Sleep is told by the wall clock running ahead of the monotonic one, which stands still
 * while the machine sleeps; a busy loop or an NTP step is not taken for it.
 */
import assert from 'node:assert/strict';
import { SleepGauge } from '../../agent/src/sync/wake-detector.js';

describe('the sleep gauge', () => {
  let wall = 1_800_000_000_000;
  let monotonic = 5_000;
  const gauge = () => new SleepGauge({ wall: () => wall, monotonic: () => monotonic });
  const pass = (wallMs: number, monotonicMs: number) => {
    wall += wallMs;
    monotonic += monotonicMs;
  };

  it('reads nothing while both clocks run together, however long', () => {
    const g = gauge();
    pass(10_000, 10_000);
    assert.equal(g.check(), 0);
    pass(3_600_000, 3_600_000); // a busy event loop: both clocks ran
    assert.equal(g.check(), 0);
  });

  it('reads the time the monotonic clock stood still as sleep, once', () => {
    const g = gauge();
    pass(10_000, 10_000);
    g.check();
    pass(2 * 3_600_000 + 10_000, 10_000);
    assert.equal(g.check(), 2 * 3_600_000);
    pass(10_000, 10_000);
    assert.equal(g.check(), 0, 'the same sleep is not read again');
  });

  it('takes a small step of the wall clock for an adjustment, not sleep', () => {
    const g = gauge();
    pass(10_000 + 5_000, 10_000);
    assert.equal(g.check(), 0);
    pass(10_000 - 20_000, 10_000); // set back
    assert.equal(g.check(), 0);
  });
});
