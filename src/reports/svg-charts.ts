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
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
  10800, 21600, 43200, 86400,
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
    (tick) => html`<line class="grid" x1="${px(x(tick))}" x2="${px(x(tick))}" y1="${top}" y2="${axisY}" stroke="#d0d7de"/><text x="${px(x(tick))}" y="${axisY + 15}" text-anchor="middle">${formatTickSeconds(tick)}</text>`,
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
