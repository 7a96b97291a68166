import { html, type SafeHtml } from './html-page';
import { formatDuration, formatNumber } from './report-format';
import type { ReportTimelineEntry } from './report.types';

/**
 * Inline SVG charts for the HTML reports: plain markup, sized by viewBox, coloured by the page's
 * CSS classes (with fill attributes as a fallback when an SVG is shown on its own). Charts are
 * drawn from recorded values only and take no clock: a chart of a run in progress is given the
 * time to draw open bars up to.
 */

export type Scale = (value: number) => number;

export function linearScale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): Scale {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

const NICE_SECOND_STEPS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** Tick positions (seconds from 0) at a round step, at most `maxTicks` + 1 of them. */
export function timeTicks(totalSeconds: number, maxTicks = 6): number[] {
  if (!(totalSeconds > 0)) return [0];
  const step = NICE_SECOND_STEPS.find((s) => totalSeconds / s <= maxTicks) ?? Math.ceil(totalSeconds / maxTicks / 86400) * 86400;
  const ticks: number[] = [];
  for (let i = 0; i * step <= totalSeconds + 1e-9; i++) ticks.push(Number((i * step).toFixed(3)));
  return ticks;
}

/** Compact axis label: "0", "500ms", "30s", "1m30s", "2h", "1h15m". */
export function formatTickSeconds(seconds: number): string {
  if (seconds === 0) return '0';
  if (seconds < 1) return `${formatNumber(seconds * 1000)}ms`;
  if (seconds < 60) return `${formatNumber(seconds)}s`;
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds - m * 60);
    return s ? `${m}m${s}s` : `${m}m`;
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds - h * 3600) / 60);
  return m ? `${h}h${m}m` : `${h}h`;
}

/** Wraps a chart with its caption in the figure the page styles. */
export function chartFigure(svg: SafeHtml, caption?: string): SafeHtml {
  return html`<figure class="chart">${svg}${caption ? html`<figcaption>${caption}</figcaption>` : ''}</figure>`;
}

const FALLBACK_FILL: Record<string, string> = {
  succeeded: '#1a7f37',
  failed: '#cf222e',
  running: '#8250df',
  waiting: '#8250df',
  skipped: '#8c959f',
  planned: '#8c959f',
};

export type TimelineBarInput = Pick<ReportTimelineEntry, 'stepId' | 'name' | 'phase' | 'state' | 'startedAt' | 'endedAt'>;

export interface TimelineSvgOptions {
  /** Where open bars (steps still running or waiting) end: the report's generation time. */
  until?: string | null;
  width?: number;
}

/**
 * One horizontal bar per step across the run's wall time, in timeline order, so a reader sees
 * where the time went (a 20-minute restore wait next to a 4-second failover).
 */
export function timelineSvg(timeline: readonly TimelineBarInput[], options: TimelineSvgOptions = {}): SafeHtml {
  const until = parse(options.until ?? null);
  const rows = timeline.map((step) => {
    const start = parse(step.startedAt);
    const end = parse(step.endedAt);
    const open = start !== null && end === null;
    return { step, start, end: end ?? (open ? Math.max(until ?? start, start) : null), open };
  });
  const starts = rows.map((r) => r.start).filter((t): t is number => t !== null);
  const width = options.width ?? 760;
  const labelWidth = Math.min(220, Math.round(width * 0.3));
  const rowHeight = 22;
  const barHeight = 14;
  const top = 6;
  const axisHeight = 22;
  const height = top + Math.max(rows.length, 1) * rowHeight + axisHeight;

  if (starts.length === 0) {
    return html`<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${top + rowHeight + axisHeight}" role="img" aria-label="Step timeline: no step has started"><text x="${labelWidth}" y="${top + 15}">No step has started.</text></svg>`;
  }

  const t0 = Math.min(...starts);
  const t1 = Math.max(t0, ...rows.map((r) => r.end ?? r.start ?? t0));
  const totalSeconds = (t1 - t0) / 1000;
  const plotRight = width - 16;
  const x = linearScale([0, totalSeconds || 1], [labelWidth, plotRight]);
  const axisY = top + rows.length * rowHeight;

  const grid = timeTicks(totalSeconds || 1).map(
    (tick) =>
      html`<line class="grid" x1="${px(x(tick))}" x2="${px(x(tick))}" y1="${top}" y2="${axisY}" stroke="#d0d7de"/><text x="${px(x(tick))}" y="${axisY + 15}" text-anchor="middle">${formatTickSeconds(tick)}</text>`,
  );

  const bars = rows.map(({ step, start, end, open }, i) => {
    const y = top + i * rowHeight;
    const label = truncate(step.name, 30);
    const labelEl = html`<text class="label" x="${labelWidth - 8}" y="${y + rowHeight / 2 + 4}" text-anchor="end">${label}</text>`;
    if (start === null || end === null) {
      return html`<g>${labelEl}<text x="${labelWidth + 4}" y="${y + rowHeight / 2 + 4}">${step.state}</text></g>`;
    }
    const x0 = x((start - t0) / 1000);
    const w = Math.max(2, x((end - t0) / 1000) - x0);
    const seconds = (end - start) / 1000;
    const tip = `${step.name} (${step.stepId}) · ${step.phase} · ${step.state} · ${open ? `${formatDuration(seconds)} so far` : formatDuration(seconds)}`;
    const cls = ['bar', step.state, `phase-${step.phase}`, open ? 'open' : ''].filter(Boolean).join(' ');
    return html`<g><title>${tip}</title>${labelEl}<rect class="${cls}" x="${px(x0)}" y="${y + (rowHeight - barHeight) / 2}" width="${px(w)}" height="${barHeight}" rx="2" fill="${FALLBACK_FILL[step.state] ?? '#0969da'}"/></g>`;
  });

  return html`<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="Step timeline over ${formatDuration(totalSeconds)} of wall time">${grid}${bars}</svg>`;
}

function parse(value: string | null): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function px(value: number): number {
  return Math.round(value * 10) / 10;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---- Line chart: a metric over time, with threshold lines and a dashed forecast ----

export interface ChartPoint {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

export interface LineSeries {
  label: string;
  points: readonly ChartPoint[];
  /** Drawn dashed: a forecast or any projected (not measured) line. */
  dashed?: boolean;
  /** Extra CSS class on the path (`line-<class>`), e.g. to colour one series differently. */
  className?: string;
}

export interface ThresholdLine {
  value: number;
  label: string;
}

export interface LineChartOptions {
  /** What the chart shows, for screen readers and the SVG's <title>. */
  title: string;
  series: readonly LineSeries[];
  /** Horizontal lines across the plot, each labelled at its right end. */
  thresholds?: readonly ThresholdLine[];
  /** Unit of the values: "%" is written after the number, anything else after a space. */
  unit?: string;
  width?: number;
  height?: number;
  /** Fix the value axis; by default it spans the data, the thresholds and zero. */
  yMin?: number;
  yMax?: number;
}

const LINE_COLOURS = ['#0969da', '#8250df', '#1a7f37', '#9a6700'];

/**
 * A time-series line chart as inline SVG: one path per series (dashed ones for forecasts),
 * threshold lines with labels, a date axis and a value axis with round ticks and the unit.
 * Points need not be evenly spaced; gaps longer than three times the series' usual spacing break
 * the line, so missing data is seen as missing rather than drawn as a straight line across.
 * Used by the capacity report (metric, threshold, forecast) and the DR drill trend (RTO over months).
 */
export function lineChartSvg(options: LineChartOptions): SafeHtml {
  const width = options.width ?? 760;
  const height = options.height ?? 240;
  const margin = { top: 12, right: 110, bottom: 26, left: 56 };
  const all = options.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  const thresholds = (options.thresholds ?? []).filter((t) => Number.isFinite(t.value));
  const unit = options.unit ?? '';
  const fmt = (v: number) => (unit === '%' ? `${formatNumber(v)}%` : unit ? `${formatNumber(v)} ${unit}` : formatNumber(v));
  if (all.length === 0) {
    return html`<svg class="chart line-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${options.title}: no data"><title>${options.title}</title><text x="${margin.left}" y="${height / 2}">No data points.</text></svg>`;
  }
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(t0 + 1, ...all.map((p) => p.t));
  const values = [...all.map((p) => p.v), ...thresholds.map((t) => t.value)];
  const [y0, y1, yStep] = niceRange(options.yMin ?? Math.min(0, ...values), options.yMax ?? Math.max(...values));
  const x = linearScale([t0, t1], [margin.left, width - margin.right]);
  const y = linearScale([y0, y1], [height - margin.bottom, margin.top]);

  const yTicks: number[] = [];
  for (let v = y0; v <= y1 + yStep / 1e6; v += yStep) yTicks.push(Number(v.toPrecision(12)));
  const yAxis = yTicks.map(
    (v) =>
      html`<line class="grid" x1="${margin.left}" x2="${width - margin.right}" y1="${px(y(v))}" y2="${px(y(v))}" stroke="#d0d7de"/><text x="${margin.left - 6}" y="${px(y(v)) + 4}" text-anchor="end">${fmt(v)}</text>`,
  );
  const xAxis = dateTicks(t0, t1).map(
    (t) =>
      html`<line class="grid" x1="${px(x(t))}" x2="${px(x(t))}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="#d0d7de" stroke-opacity="0.5"/><text x="${px(x(t))}" y="${height - margin.bottom + 16}" text-anchor="middle">${formatDateTick(t, t1 - t0)}</text>`,
  );
  const lines = options.series.map((s, i) => {
    const colour = LINE_COLOURS[i % LINE_COLOURS.length];
    const d = pathFor(s.points, x, y);
    if (!d) return html``;
    const cls = ['line', s.dashed ? 'dashed' : '', s.className ? `line-${s.className}` : ''].filter(Boolean).join(' ');
    return html`<path class="${cls}" d="${d}" fill="none" stroke="${colour}" stroke-width="${s.dashed ? 1.5 : 1.8}"${s.dashed ? html` stroke-dasharray="6 4"` : ''}><title>${s.label}</title></path>`;
  });
  const limits = thresholds.map(
    (t) =>
      html`<g class="threshold"><line x1="${margin.left}" x2="${width - margin.right}" y1="${px(y(t.value))}" y2="${px(y(t.value))}" stroke="#cf222e" stroke-width="1.5"/><text class="label threshold-label" x="${width - margin.right + 4}" y="${px(y(t.value)) + 4}" fill="#cf222e">${t.label}</text></g>`,
  );
  const legend = options.series.map(
    (s, i) =>
      html`<text class="label" x="${width - margin.right + 4}" y="${margin.top + 12 + i * 14}" fill="${LINE_COLOURS[i % LINE_COLOURS.length]}">${s.dashed ? '┄ ' : '— '}${truncate(s.label, 16)}</text>`,
  );
  return html`<svg class="chart line-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" role="img" aria-label="${options.title}"><title>${options.title}</title>${yAxis}${xAxis}${limits}${lines}${legend}</svg>`;
}

/** Path data with a break wherever a gap is more than three times the median spacing. */
function pathFor(points: readonly ChartPoint[], x: Scale, y: Scale): string {
  const pts = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  if (pts.length === 0) return '';
  const gaps = pts
    .slice(1)
    .map((p, i) => p.t - pts[i].t)
    .sort((a, b) => a - b);
  const usual = gaps.length ? gaps[Math.floor(gaps.length / 2)] : 0;
  let d = '';
  pts.forEach((p, i) => {
    const move = i === 0 || (usual > 0 && p.t - pts[i - 1].t > usual * 3);
    d += `${move ? 'M' : 'L'}${px(x(p.t))},${px(y(p.v))}`;
  });
  // A single point (or an isolated one after a gap) still shows: a zero-length segment with round caps is invisible, so draw a dot-sized step.
  if (pts.length === 1) d += `h2`;
  return d;
}

/** A round axis range covering [lo, hi] and its tick step (1, 2 or 5 × 10ⁿ, about 5 ticks). */
export function niceRange(lo: number, hi: number): [number, number, number] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step];
}

const HOUR_MS = 3_600_000;
const DATE_STEPS = [
  HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
  24 * HOUR_MS,
  2 * 24 * HOUR_MS,
  7 * 24 * HOUR_MS,
  14 * 24 * HOUR_MS,
  30 * 24 * HOUR_MS,
  91 * 24 * HOUR_MS,
];

/** Tick instants at midnight/hour boundaries (UTC), about 6 across the span. */
export function dateTicks(t0: number, t1: number, maxTicks = 7): number[] {
  const span = t1 - t0;
  const step = DATE_STEPS.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / (365 * 24 * HOUR_MS)) * 365 * 24 * HOUR_MS;
  const first = Math.ceil(t0 / step) * step;
  const ticks: number[] = [];
  for (let t = first; t <= t1; t += step) ticks.push(t);
  return ticks;
}

function formatDateTick(t: number, span: number): string {
  const iso = new Date(t).toISOString();
  if (span <= 2 * 24 * HOUR_MS) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  if (span > 400 * 24 * HOUR_MS) return iso.slice(0, 7);
  return iso.slice(5, 10);
}
