/** The results file → the markdown tables of BENCHMARKS.md (median of the runs, min–max). */
import { median } from './measure.js';

export interface Sample {
  phase: 'initial' | 'no-change' | 'new-message' | 'flags-500';
  variant: string;
  tool: string;
  round: number;
  wallS: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
  downBytes: number;
  upBytes: number;
  messages: number;
  /**
   * StoreSync: the pass itself, as the engine timed it (the summary's `seconds`, from the
   * run's start to its done): without Node's start-up, the loading of the CLI and the exit.
   * Through the agent that is the pass a pane's "Sync now" gets.
   */
  passS?: number;
}

const fmt = (n: number, digits: number) => n.toFixed(digits);

function stat(values: number[], digits: number): string {
  if (values.length === 0) return '–';
  const m = median(values);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.length > 1
    ? `${fmt(m, digits)} (${fmt(lo, digits)}–${fmt(hi, digits)})`
    : fmt(m, digits);
}

function bytes(values: number[]): string {
  const m = median(values);
  if (m >= 1e6) return `${(m / 1e6).toFixed(1)} MB`;
  if (m >= 1e3) return `${(m / 1e3).toFixed(1)} kB`;
  return `${m} B`;
}

/** One table per phase and variant; ratios against mbsync and the raw FETCH ceiling. */
export function renderTables(samples: Sample[]): string {
  const out: string[] = [];
  const keys = [...new Set(samples.map((s) => `${s.phase}|${s.variant}`))];
  for (const key of keys) {
    const [phase, variant] = key.split('|') as [string, string];
    const rows = samples.filter((s) => s.phase === phase && s.variant === variant);
    const tools = [...new Set(rows.map((s) => s.tool))];
    const wall = (tool: string) => median(rows.filter((s) => s.tool === tool).map((s) => s.wallS));
    const base = tools.includes('mbsync') ? wall('mbsync') : null;
    const raw = tools.find((t) => t.startsWith('raw'));
    const ceiling = raw ? wall(raw) : null;
    out.push(
      `#### ${phase} (server: ${variant})`,
      '',
      '| tool | wall s | pass s | CPU s (user+sys) | max RSS MB | downloaded | uploaded | × mbsync wall | × raw wall |',
      '| ---- | ------ | ------ | ---------------- | ---------- | ---------- | -------- | ------------- | ---------- |',
    );
    for (const tool of tools) {
      const mine = rows.filter((s) => s.tool === tool);
      const w = wall(tool);
      const passes = mine.flatMap((s) => (s.passS === undefined ? [] : [s.passS]));
      out.push(
        `| ${tool} | ${stat(
          mine.map((s) => s.wallS),
          2,
        )} | ${stat(passes, 3)} | ${stat(
          mine.map((s) => s.userS + s.sysS),
          2,
        )} | ${stat(
          mine.map((s) => s.maxRssKb / 1024),
          0,
        )} | ${bytes(mine.map((s) => s.downBytes))} | ${bytes(mine.map((s) => s.upBytes))} | ${
          base ? (w / base).toFixed(2) : '–'
        } | ${ceiling && !tool.startsWith('raw') ? (w / ceiling).toFixed(2) : '–'} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
