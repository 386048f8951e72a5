/**
 * The pane's two small inline SVG charts: the last syncs (duration as bars, messages moved as
 * a line) and the download rate of the running sync. Colours come from classes in
 * taskpane.css (the CSP allows no inline styles); each chart has a text alternative.
 */
import type { HistoryEntry } from '../../agent/src/protocol/index.js';
import { formatBytes, formatDuration } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 64;
/** Room above the tallest bar for the line's markers. */
const PAD = 4;

function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function chartRoot(label: string, className: string): SVGSVGElement {
  const svg = svgEl('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': label,
    class: className,
  });
  const title = svgEl('title', {});
  title.textContent = label;
  svg.append(title);
  return svg;
}

export function movedCount(entry: HistoryEntry): number {
  return entry.stats ? entry.stats.downloaded + entry.stats.uploaded : 0;
}

export function durationOf(entry: HistoryEntry): number {
  return entry.finishedAt === null ? 0 : Math.max(0, entry.finishedAt - entry.startedAt);
}

/** Bars: each finished run's duration, oldest on the left; line: messages it moved. */
export function historyChart(history: readonly HistoryEntry[]): SVGSVGElement {
  const runs = history.filter((h) => h.finishedAt !== null).reverse();
  const longest = Math.max(1, ...runs.map(durationOf));
  const most = Math.max(1, ...runs.map(movedCount));
  const label =
    runs.length === 0
      ? 'No finished syncs yet'
      : `Last ${runs.length} syncs: longest ${formatDuration(longest)}, ` +
        `at most ${most} messages moved in one`;
  const svg = chartRoot(label, 'chart history-chart');
  if (runs.length === 0) return svg;
  const slot = WIDTH / runs.length;
  const barWidth = Math.max(2, Math.min(24, slot * 0.6));
  const usable = HEIGHT - PAD * 2;
  const points: string[] = [];
  runs.forEach((run, i) => {
    const x = i * slot + (slot - barWidth) / 2;
    const h = Math.max(2, (durationOf(run) / longest) * usable);
    svg.append(
      svgEl('rect', {
        x: x.toFixed(1),
        y: (HEIGHT - h).toFixed(1),
        width: barWidth.toFixed(1),
        height: h.toFixed(1),
        rx: 1.5,
        class: `bar-${run.result ?? 'running'}`,
      }),
    );
    const cy = HEIGHT - PAD - (movedCount(run) / most) * usable;
    points.push(`${(i * slot + slot / 2).toFixed(1)},${cy.toFixed(1)}`);
  });
  if (points.length > 1) svg.append(svgEl('polyline', { points: points.join(' '), class: 'line' }));
  return svg;
}

/** The smoothed download rate of the running sync, oldest sample on the left. */
export function rateChart(samples: readonly number[]): SVGSVGElement {
  const top = Math.max(1, ...samples);
  const latest = samples.at(-1) ?? 0;
  const svg = chartRoot(
    `Download rate: now ${formatBytes(latest)}/s, peak ${formatBytes(top)}/s`,
    'chart rate-chart',
  );
  if (samples.length < 2) return svg;
  const step = WIDTH / (samples.length - 1);
  const coords = samples.map(
    (v, i) => `${(i * step).toFixed(1)},${(HEIGHT - 1 - (v / top) * (HEIGHT - PAD)).toFixed(1)}`,
  );
  svg.append(
    svgEl('polygon', {
      points: `0,${HEIGHT} ${coords.join(' ')} ${WIDTH},${HEIGHT}`,
      class: 'area',
    }),
    svgEl('polyline', { points: coords.join(' '), class: 'line' }),
  );
  return svg;
}
