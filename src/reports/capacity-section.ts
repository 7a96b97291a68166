import { formatUsd } from '../capacity/capacity-model';
import type { CapacityChart, CapacitySection, ResourceAnalysis, ResourceStatus } from '../capacity/capacity.types';
import { badge, dataTable, figureCards, html, keyValueList, paragraph, type PageSection, type SafeHtml } from './html-page';
import { formatNumber, formatTimestamp, mdText, type Tone } from './report-format';
import { chartFigure, lineChartSvg } from './svg-charts';

/**
 * The capacity report's part of the shared report page: counts, the summary table (days to
 * threshold first), a chart per resource at risk or over-provisioned (the metric over the
 * lookback, its threshold and the dashed forecast), what the report cost, and the notes. The
 * shared renderers call in here when a report carries a `capacity` section.
 */

/** The section from a stored step output; undefined unless it has the shape this code writes. */
export function readCapacitySection(value: unknown): CapacitySection | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Partial<CapacitySection>;
  const ok =
    typeof v.region === 'string' &&
    Array.isArray(v.resources) &&
    Array.isArray(v.findings) &&
    Array.isArray(v.charts) &&
    v.window !== undefined &&
    v.counts !== undefined &&
    v.cost !== undefined &&
    v.awsCalls !== undefined;
  return ok ? (value as CapacitySection) : undefined;
}

const STATUS: Record<ResourceStatus, { tone: Tone; text: string }> = {
  // Words, not emoji: a print or a headless browser without an emoji font shows empty boxes.
  'at-risk': { tone: 'bad', text: 'at risk' },
  'over-provisioned': { tone: 'info', text: 'over-provisioned' },
  'insufficient-data': { tone: 'warn', text: 'insufficient data' },
  ok: { tone: 'ok', text: 'ok' },
};

function days(d: number | null): string {
  if (d === null) return '—';
  return d === 0 ? 'now' : `${formatNumber(d)} d`;
}

function figure(v: number | null, unit: string): string {
  if (v === null) return '—';
  return unit === '%' ? `${formatNumber(v)}%` : `${formatNumber(v)} ${unit}`;
}

/** The metric that decided the row, or the first judged one. */
function keyMetric(r: ResourceAnalysis) {
  return r.metrics.find((m) => m.metric === r.metric) ?? r.metrics.find((m) => m.threshold !== null) ?? r.metrics[0];
}

function callsLine(cap: CapacitySection): string {
  const entries = Object.entries(cap.awsCalls).sort(([a], [b]) => a.localeCompare(b));
  const total = entries.reduce((s, [, n]) => s + n, 0);
  return `${total} request(s): ${entries.map(([op, n]) => `${op} ×${n}`).join(', ') || 'none'}`;
}

function costLine(cap: CapacitySection): string {
  const c = cap.cost;
  return `${formatUsd(c.usd)} — ${c.metricsRequested} metric(s) requested in ${c.getMetricDataCalls} GetMetricData call(s); ${c.assumption}.`;
}

// ---- HTML ----

export function capacityHtmlSections(cap: CapacitySection): PageSection[] {
  const sections: PageSection[] = [
    {
      id: 'capacity',
      title: 'Capacity',
      body: html`${figureCards([
        { label: 'Resources', value: String(cap.counts.resources) },
        { label: 'At risk', value: String(cap.counts.atRisk) },
        { label: 'Over-provisioned', value: String(cap.counts.overProvisioned) },
        { label: 'Insufficient data', value: String(cap.counts.insufficientData) },
        { label: 'CloudWatch cost', value: formatUsd(cap.cost.usd), hint: `${cap.cost.metricsRequested} metrics, ${cap.cost.getMetricDataCalls} call(s)` },
      ])}${keyValueList([
        ['Region', html`<code>${cap.region}</code>`],
        [
          'Window',
          `${formatTimestamp(cap.window.start)} → ${formatTimestamp(cap.window.end)} (${cap.window.lookbackDays} days, ${cap.window.periodSeconds} s periods)`,
        ],
        ['Forecast', `${cap.window.forecastDays} days`],
        [
          'Thresholds',
          `CPU ${cap.thresholds.cpuPercent}%, memory ${cap.thresholds.memoryPercent}%, free storage ${cap.thresholds.freeStoragePercent}%, connections ${cap.thresholds.connectionsPercent}% of max`,
        ],
        ['AWS calls', callsLine(cap)],
        ['Cost', costLine(cap)],
      ])}`,
    },
    {
      id: 'capacity-summary',
      title: 'Summary — soonest to run out first',
      body: cap.resources.length === 0 ? paragraph('No resource was found in scope.', 'muted') : summaryTable(cap.resources),
    },
  ];
  if (cap.charts.length > 0) {
    sections.push({ id: 'capacity-charts', title: 'Charts — at risk and over-provisioned', body: html`${chartsHtml(cap)}` });
  }
  if (cap.notes.length > 0)
    sections.push({ id: 'capacity-notes', title: 'How to read this', body: html`<ul>${cap.notes.map((n) => html`<li>${n}</li>`)}</ul>` });
  return sections;
}

function summaryTable(resources: readonly ResourceAnalysis[]): SafeHtml {
  return dataTable(
    [
      'Resource',
      'Size',
      'Status',
      'Metric',
      { label: 'p50', numeric: true },
      { label: 'p95', numeric: true },
      { label: 'Max', numeric: true },
      { label: 'Trend/day', numeric: true },
      { label: 'Threshold', numeric: true },
      { label: 'Days to threshold', numeric: true },
      'Detail',
    ],
    resources.map((r) => {
      const m = keyMetric(r);
      return [
        html`<code>${r.id}</code><span class="sub">${r.kind}</span>`,
        r.size ?? '—',
        badge(STATUS[r.status].tone, STATUS[r.status].text),
        m?.label ?? '—',
        figure(m?.p50 ?? null, m?.unit ?? ''),
        figure(m?.p95 ?? null, m?.unit ?? ''),
        figure(m?.max ?? null, m?.unit ?? ''),
        m?.slopePerDay === null || m?.slopePerDay === undefined ? '—' : `${m.slopePerDay > 0 ? '+' : ''}${figure(m.slopePerDay, m.unit)}`,
        figure(m?.threshold ?? null, m?.unit ?? ''),
        days(r.daysToThreshold),
        html`${r.detail}${r.suggestion ? html`<span class="sub">Suggest: ${r.suggestion}</span>` : ''}`,
      ];
    }),
    'capacity-summary',
  );
}

function chartsHtml(cap: CapacitySection): SafeHtml[] {
  return cap.charts.map((c) => chartFigure(chartSvg(c), chartCaption(cap, c)));
}

/** One capacity chart, drawn with the shared line chart. */
export function chartSvg(c: CapacityChart): SafeHtml {
  return lineChartSvg({
    title: c.title,
    unit: c.unit,
    series: [
      { label: 'measured', points: c.points, className: 'measured' },
      ...(c.forecast.length ? [{ label: 'trend forecast', points: c.forecast, dashed: true, className: 'forecast' }] : []),
    ],
    thresholds: c.threshold === null ? [] : [{ value: c.threshold, label: c.thresholdLabel ?? `threshold ${c.threshold}` }],
    ...(c.unit === '%' ? { yMin: 0, yMax: 100 } : {}),
  });
}

function chartCaption(cap: CapacitySection, c: CapacityChart): string {
  const r = cap.resources.find((x) => x.id === c.resourceId);
  const status = r ? STATUS[r.status].text : '';
  return `${c.title}${status ? ` (${status})` : ''}: ${r?.metrics.find((m) => m.metric === c.metric)?.reason ?? ''}${r?.suggestion ? `. Suggest: ${r.suggestion}` : ''}`;
}

// ---- Markdown ----

export function capacityMarkdownBlocks(cap: CapacitySection): string[] {
  const blocks = [
    '## Capacity',
    [
      `- **Region:** ${mdText(cap.region)}`,
      `- **Window:** ${formatTimestamp(cap.window.start)} → ${formatTimestamp(cap.window.end)} (${cap.window.lookbackDays} days, ${cap.window.periodSeconds} s periods); forecast ${cap.window.forecastDays} days`,
      `- **Resources:** ${cap.counts.resources} — ${cap.counts.atRisk} at risk, ${cap.counts.overProvisioned} over-provisioned, ${cap.counts.insufficientData} insufficient data, ${cap.counts.ok} ok`,
      `- **AWS calls:** ${mdText(callsLine(cap))}`,
      `- **Cost:** ${mdText(costLine(cap))}`,
    ].join('\n'),
    '### Summary — soonest to run out first',
  ];
  if (cap.resources.length === 0) blocks.push('No resource was found in scope.');
  else {
    blocks.push(
      mdTable(
        ['Resource', 'Size', 'Status', 'Metric', 'p50', 'p95', 'Max', 'Threshold', 'Days to threshold', 'Detail'],
        cap.resources.map((r) => {
          const m = keyMetric(r);
          return [
            r.id,
            r.size ?? '—',
            STATUS[r.status].text,
            m?.label ?? '—',
            figure(m?.p50 ?? null, m?.unit ?? ''),
            figure(m?.p95 ?? null, m?.unit ?? ''),
            figure(m?.max ?? null, m?.unit ?? ''),
            figure(m?.threshold ?? null, m?.unit ?? ''),
            days(r.daysToThreshold),
            r.suggestion ? `${r.detail}\nSuggest: ${r.suggestion}` : r.detail,
          ];
        }),
      ),
    );
  }
  if (cap.charts.length) blocks.push(`_${cap.charts.length} chart(s) of the resources at risk or over-provisioned are in the HTML report._`);
  if (cap.notes.length) blocks.push('### How to read this', cap.notes.map((n) => `- ${mdText(n)}`).join('\n'));
  return blocks;
}

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => (c === '' ? ' ' : mdText(c))).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}
