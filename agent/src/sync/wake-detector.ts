/**
 * Noticing that the machine slept. A laptop closed with the agent running wakes with IMAP
 * connections that look open but are dead: the router or the server forgot them, and no
 * reset ever comes. Left alone, an IDLE watch hears nothing until its socket times out
 * (minutes) and the next run waits as long on a kept session. The wall clock runs on while
 * the machine sleeps; the monotonic clock (performance.now) does not, on Linux and macOS:
 * a gap between the two that grew between two ticks is time spent asleep. A wall clock set
 * forward looks the same, and costs only new connections.
 */

/** How often the clocks are compared. */
const TICK_MS = 10_000;
/** A gap below this is a busy event loop or a clock adjusted by NTP, not sleep. */
const SLEPT_AT_LEAST_MS = 30_000;

export interface Clocks {
  wall(): number;
  monotonic(): number;
}

const systemClocks: Clocks = { wall: () => Date.now(), monotonic: () => performance.now() };

/** Compares the two clocks at each `check`; says how long the machine slept since the last. */
export class SleepGauge {
  private gap: number;

  constructor(private readonly clocks: Clocks = systemClocks) {
    this.gap = clocks.wall() - clocks.monotonic();
  }

  /** Milliseconds asleep since the last check (at least SLEPT_AT_LEAST_MS), or 0. */
  check(): number {
    const gap = this.clocks.wall() - this.clocks.monotonic();
    const grown = gap - this.gap;
    this.gap = gap;
    return grown >= SLEPT_AT_LEAST_MS ? grown : 0;
  }
}

/** Calls `onWake` with the time slept, each time the machine wakes; returns a stop function. */
export function watchForWake(onWake: (sleptMs: number) => void, clocks?: Clocks): () => void {
  const gauge = new SleepGauge(clocks);
  const timer = setInterval(() => {
    const slept = gauge.check();
    if (slept > 0) onWake(slept);
  }, TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
