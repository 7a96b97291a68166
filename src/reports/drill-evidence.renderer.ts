import { badge, dataTable, html, type PageSection, type SafeHtml } from './html-page';
import { formatNumber, formatTimestamp, formatValue } from './report-format';
import type { DrillEvidence, DrillObjective, DrillTrendEntry, ObjectiveStatus } from './report.types';
import { chartFigure, type LineSeries, lineChartSvg } from './svg-charts';

/** DR drill evidence (the objectives and their trend) as Markdown blocks and HTML sections of the run report. */
const STATUS_LABEL: Record<ObjectiveStatus, string> = { pass: '✅ pass', fail: '❌ fail', 'not-measured': '⚠️ not measured' };
const COMPARISON_SIGN = { '<=': '≤ ', '>=': '≥ ', '=': '' } as const;
const target = (o: DrillObjective) =>
  o.target === null ? '—' : `${COMPARISON_SIGN[o.comparison]}${formatValue(o.target, typeof o.target === 'number' ? o.unit : undefined)}`;

export function drillMarkdown(drill: DrillEvidence, cell: (text: string) => string): string[] {
  const blocks = [
    '## DR objectives',
    table(
      ['Result', 'Objective', 'Measured', 'Target', 'Source'],
      drill.objectives.map((o) => [
        STATUS_LABEL[o.status],
        cell(o.title),
        cell(formatValue(o.measured, o.unit)),
        cell(target(o)),
        o.source ? `\`${o.source.runbookId}\` run \`${o.source.runId}\`` : cell(o.detail ?? '—'),
      ]),
    ),
  ];
  if (drill.trend.length > 0) {
    const ids = drill.objectives.map((o) => o.id);
    blocks.push(`## Trend (last ${drill.trend.length} drill${drill.trend.length === 1 ? '' : 's'})`);
    blocks.push(
      table(
        ['Drill', ...drill.objectives.map((o) => cell(o.title))],
        drill.trend.map((t) => [`${formatTimestamp(t.at)} (${t.state})`, ...ids.map((id) => trendCell(t.objectives[id]))]),
      ),
    );
  }
  return blocks;
}

function trendCell(v: DrillTrendEntry['objectives'][string] | undefined): string {
  if (!v) return '—';
  const mark = v.status === 'pass' ? '✅' : v.status === 'fail' ? '❌' : '⚠️';
  return v.measured === null ? mark : `${mark} ${formatNumber(v.measured)}`;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function drillHtmlSections(drill: DrillEvidence): PageSection[] {
  const sections: PageSection[] = [
    {
      id: 'objectives',
      title: `DR objectives — ${drill.objectives.filter((o) => o.status === 'pass').length} of ${drill.objectives.length} met`,
      body: dataTable(
        ['Result', 'Objective', { label: 'Measured', numeric: true }, { label: 'Target', numeric: true }, 'Source'],
        drill.objectives.map((o) => [
          badge(o.status === 'pass' ? 'ok' : o.status === 'fail' ? 'bad' : 'warn', STATUS_LABEL[o.status]),
          html`${o.title}${o.detail ? html`<span class="sub">${o.detail}</span>` : ''}`,
          formatValue(o.measured, o.unit),
          target(o),
          o.source ? html`<code>${o.source.runbookId}</code> <a href="/v1/runs/${o.source.runId}/report?format=html">${o.source.runId}</a>` : '—',
        ]),
      ),
    },
  ];
  if (drill.trend.length > 0) {
    const ids = drill.objectives.map((o) => o.id);
    sections.push({
      id: 'trend',
      title: `Trend — last ${drill.trend.length} drill${drill.trend.length === 1 ? '' : 's'}`,
      body: html`${chartFigure(trendChartSvg(drill), 'Each measured objective as a share of its target (100% = at the target; lower is better, except retention)')}${dataTable(
        ['Drill', ...drill.objectives.map((o) => o.title)],
        drill.trend.map((t) => [
          html`<a href="/v1/runs/${t.runId}/report?format=html">${formatTimestamp(t.at)}</a> ${t.state}`,
          ...ids.map((id) => trendCell(t.objectives[id])),
        ]),
      )}`,
    });
  }
  return sections;
}

/** One line per numeric objective, as measured/target in percent, with the 100% (at target) line. */
export function trendChartSvg(drill: DrillEvidence): SafeHtml {
  const series: LineSeries[] = drill.objectives
    .map((o) => ({
      label: o.id,
      points: drill.trend.flatMap((t) => {
        const v = t.objectives[o.id];
        return v && v.measured !== null && v.target ? [{ t: Date.parse(t.at), v: Math.round((v.measured / v.target) * 1000) / 10 }] : [];
      }),
    }))
    .filter((s) => s.points.length > 0);
  return lineChartSvg({
    title: `DR objectives over the last ${drill.trend.length} drill(s), as a share of their targets`,
    series,
    thresholds: [{ value: 100, label: 'target' }],
    unit: '%',
  });
}
