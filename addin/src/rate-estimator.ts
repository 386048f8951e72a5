/**
 * Download rate and time left of a running sync, smoothed so that the numbers a user reads do
 * not jump with every batch. Pure: times come from the agent's events, never from a clock.
 *
 * The rate is an exponentially weighted moving average whose weight depends on the time
 * between samples (a time constant, not a sample count), because the agent coalesces progress
 * and samples arrive at irregular intervals. The time left comes from how fast the pass's
 * fraction grows, smoothed the same way, so it also holds when nothing is downloaded (a pass
 * that only checks flags).
 */

/** How fast old samples fade: after this long, a sample weighs 1/e of a fresh one. */
export const RATE_TIME_CONSTANT_MS = 5_000;
/** Samples closer together than this are merged into the next one: too short to measure. */
const MIN_SAMPLE_GAP_MS = 250;
/** Before this much of a run has elapsed, or this share done, no time left is guessed. */
const MIN_ELAPSED_FOR_ETA_MS = 2_000;
const MIN_FRACTION_FOR_ETA = 0.02;
/** Points kept for the rate chart of the running sync. */
export const RATE_SAMPLES_KEPT = 60;

export interface RateEstimate {
  startedAt: number;
  /** The last sample the averages include. */
  lastAt: number;
  lastBytes: number;
  lastFraction: number;
  /** Smoothed bytes per second; null until one interval was measured. */
  bytesPerSecond: number | null;
  /** Smoothed share of the pass done per second. */
  fractionPerSecond: number | null;
  /** The smoothed rate after each measured interval, oldest first, for a chart. */
  samples: number[];
}

export function startEstimate(startedAt: number): RateEstimate {
  return {
    startedAt,
    lastAt: startedAt,
    lastBytes: 0,
    lastFraction: 0,
    bytesPerSecond: null,
    fractionPerSecond: null,
    samples: [],
  };
}

/** Folds in one progress sample: cumulative bytes of the run and the pass's fraction, at `at`. */
export function updateEstimate(
  estimate: RateEstimate,
  at: number,
  bytes: number,
  fraction: number,
): RateEstimate {
  const dt = at - estimate.lastAt;
  if (dt < MIN_SAMPLE_GAP_MS) return estimate;
  const instantBytes = (Math.max(0, bytes - estimate.lastBytes) * 1000) / dt;
  const instantFraction = (Math.max(0, fraction - estimate.lastFraction) * 1000) / dt;
  const weight = 1 - Math.exp(-dt / RATE_TIME_CONSTANT_MS);
  const bytesPerSecond = smooth(estimate.bytesPerSecond, instantBytes, weight);
  return {
    ...estimate,
    lastAt: at,
    lastBytes: Math.max(bytes, estimate.lastBytes),
    lastFraction: Math.max(fraction, estimate.lastFraction),
    bytesPerSecond,
    fractionPerSecond: smooth(estimate.fractionPerSecond, instantFraction, weight),
    samples: [...estimate.samples, bytesPerSecond].slice(-RATE_SAMPLES_KEPT),
  };
}

/** The first interval is taken as it is; later ones blend in by their weight. */
function smooth(previous: number | null, instant: number, weight: number): number {
  return previous === null ? instant : previous + weight * (instant - previous);
}

/** Milliseconds left, or null while there is too little to go on. */
export function timeLeft(estimate: RateEstimate): number | null {
  const { fractionPerSecond, lastFraction } = estimate;
  if (estimate.lastAt - estimate.startedAt < MIN_ELAPSED_FOR_ETA_MS) return null;
  if (lastFraction < MIN_FRACTION_FOR_ETA || lastFraction >= 1) return null;
  if (!fractionPerSecond || fractionPerSecond <= 0) return null;
  return ((1 - lastFraction) / fractionPerSecond) * 1000;
}
