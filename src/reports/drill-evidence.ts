import { badge, dataTable, html, type PageSection, type SafeHtml } from './html-page';
import { formatNumber, formatTimestamp, formatValue } from './report-format';
import type { FigureValue, RunReport } from './report.types';
import { chartFigure, type LineSeries, lineChartSvg } from './svg-charts';

/**
 * DR drill evidence: each objective (RPO, RTO, failover switch time, retention, encryption,
 * cleanup) with its measured value, target and verdict, taken from the findings the drill's
 * child runs recorded, and the same objectives over the last drills. Stored in the drill step's
 * output under `drill`, so the report reads it like any other recorded fact.
 */
export type ObjectiveStatus = 'pass' | 'fail' | 'not-measured';

export interface DrillObjective {
  id: string;
  title: string;
  measured: FigureValue;
  target: string | number | null;
  unit?: string;
  /** How measured is held to target. */
  comparison: '<=' | '>=' | '=';
  status: ObjectiveStatus;
  /** The child run and finding it was read from. */
  source: { runId: string; runbookId: string; findingId: string } | null;
  detail?: string;
}

export interface DrillTrendEntry {
  runId: string;
  at: string;
  state: string;
  objectives: Record<string, { measured: number | null; target: number | null; status: ObjectiveStatus }>;
}

export interface DrillEvidence {
  objectives: DrillObjective[];
  /** Oldest first, this drill last. */
  trend: DrillTrendEntry[];
}

export interface DrillTargets {
  rpoTargetMinutes: number;
  rtoTargetMinutes: number;
  maxSwitchSeconds: number;
  retentionDays: number;
}

export interface ChildEvidence {
  runId: string;
  runbookId: string;
  state: string;
  report: Pick<RunReport, 'findings' | 'figures' | 'cleanup'> | null;
}

interface ObjectiveSpec {
  id: string;
  title: string;
  /** Which child runbooks record it, preferred first. */
  runbooks: RegExp[];
  /** Finding ids that carry it, most specific first. */
  findings: RegExp[];
  unit: string;
  comparison: '<=' | '>=' | '=';
  target: (t: DrillTargets) => number | string;
}

const OBJECTIVES: readonly ObjectiveSpec[] = [
  {
    id: 'rpo-newest-backup-age',
    title: 'RPO: age of the newest backup',
    runbooks: [/^backup-verification$/],
    unit: 'min',
    comparison: '<=',
    findings: [/^newest-backup-age$/, /^(newest|latest)-(snapshot|backup|recovery-point)(-age)?$/],
    target: (t) => t.rpoTargetMinutes,
  },
  {
    id: 'rpo-cross-region-copy-age',
    title: 'RPO: age of the cross-region copy',
    runbooks: [/^backup-verification$/],
    unit: 'min',
    comparison: '<=',
    findings: [/^dr-copy-age$/, /^(cross-region|dr)-copy(-age)?$/],
    target: (t) => t.rpoTargetMinutes,
  },
  {
    id: 'rto-restore-to-available',
    title: 'RTO: restore until available',
    runbooks: [/^point-in-time-restore$/, /^backup-verification$/],
    unit: 'min',
    comparison: '<=',
    findings: [/^rto$/],
    target: (t) => t.rtoTargetMinutes,
  },
  {
    id: 'failover-switch-time',
    title: 'Failover switch time',
    runbooks: [/^failover-test$/],
    unit: 's',
    comparison: '<=',
    findings: [/^switch-time$/],
    target: (t) => t.maxSwitchSeconds,
  },
  {
    id: 'retention',
    title: 'Backup retention',
    runbooks: [/^backup-verification$/],
    unit: 'days',
    comparison: '>=',
    findings: [/^backup-retention$/, /^retention(-days)?$/],
    target: (t) => t.retentionDays,
  },
  {
    id: 'encryption',
    title: 'Backups encrypted',
    runbooks: [/^backup-verification$/],
    unit: '',
    comparison: '=',
    findings: [/^backup-encrypted$/],
    target: () => 'encrypted',
  },
];

const UNIT_FACTORS: Record<string, Record<string, number>> = {
  min: { s: 1 / 60, sec: 1 / 60, seconds: 1 / 60, min: 1, minutes: 1, h: 60, hours: 60 },
  s: { ms: 1 / 1000, s: 1, sec: 1, seconds: 1, min: 60, minutes: 60 },
  days: { days: 1, d: 1 },
};

/** `measured` in `to` units when the finding's unit is known to convert; otherwise as recorded. */
function convert(measured: FigureValue | undefined, from: string | undefined, to: string): FigureValue {
  if (typeof measured !== 'number') return measured ?? null;
  const f = from ? UNIT_FACTORS[to]?.[from] : undefined;
  return f === undefined ? measured : Math.round(measured * f * 1000) / 1000;
}

function compare(measured: FigureValue, target: number | string, comparison: DrillObjective['comparison']): boolean {
  if (typeof measured === 'number' && typeof target === 'number')
    return comparison === '<=' ? measured <= target : comparison === '>=' ? measured >= target : measured === target;
  return false;
}

export function evaluateObjectives(children: readonly ChildEvidence[], targets: DrillTargets): DrillObjective[] {
  const objectives: DrillObjective[] = OBJECTIVES.map((spec) => {
    const target = spec.target(targets);
    const candidates = spec.runbooks.flatMap((re) => children.filter((c) => re.test(c.runbookId)));
    for (const child of candidates) {
      const findings = child.report?.findings ?? [];
      for (const pattern of spec.findings) {
        const f = findings.find((x) => pattern.test(x.id));
        if (!f) continue;
        const measured = convert(f.measured, f.unit, spec.unit);
        // A verdict-only finding (encryption: true/false, or a measured value in a unit that does
        // not convert) keeps the child's verdict; a number is held to the drill's own target.
        const passed = typeof measured === 'number' && typeof target === 'number' ? compare(measured, target, spec.comparison) : f.passed;
        return {
          id: spec.id, title: spec.title, measured, target, ...(spec.unit ? { unit: spec.unit } : {}), comparison: spec.comparison,
          status: passed ? 'pass' : 'fail', source: { runId: child.runId, runbookId: child.runbookId, findingId: f.id },
          ...(f.detail ? { detail: f.detail } : {}),
        } satisfies DrillObjective;
      }
    }
    const ran = candidates;
    return {
      id: spec.id,
      title: spec.title,
      measured: null,
      target,
      ...(spec.unit ? { unit: spec.unit } : {}),
      comparison: spec.comparison,
      status: 'not-measured',
      source: null,
      detail:
        ran.length === 0
          ? 'the child run that measures it did not run'
          : `child run ${ran.map((c) => `${c.runId} (${c.state})`).join(', ')} recorded no such finding`,
    } satisfies DrillObjective;
  });
  // Cleanup complete: every child that ran cleaned up (its cleanup steps all succeeded).
  const withReports = children.filter((c) => c.report);
  const failedCleanup = withReports.flatMap((c) => (c.report!.cleanup.failed ?? []).map((s) => `${c.runbookId}/${s}`));
  objectives.push({
    id: 'cleanup-complete',
    title: 'Cleanup complete (drill resources removed)',
    measured: failedCleanup.length === 0 ? 'complete' : `failed: ${failedCleanup.join(', ')}`,
    target: 'complete',
    comparison: '=',
    status: withReports.length === 0 ? 'not-measured' : failedCleanup.length === 0 ? 'pass' : 'fail',
    source: null,
    detail: `${withReports.length} child run(s) checked`,
  });
  return objectives;
}

export function trendEntry(runId: string, at: string, state: string, objectives: readonly DrillObjective[]): DrillTrendEntry {
  return {
    runId, at, state,
    objectives: Object.fromEntries(objectives.map((o) => [o.id, {
      measured: typeof o.measured === 'number' ? o.measured : null,
      target: typeof o.target === 'number' ? o.target : null,
      status: o.status,
    }])),
  };
}

/** Reads `drill` from a step output, checking its shape (stored JSON of any version). */
export function readDrillEvidence(value: unknown): DrillEvidence | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Partial<DrillEvidence>;
  if (!Array.isArray(v.objectives) || !Array.isArray(v.trend)) return null;
  return {
    objectives: v.objectives.filter((o) => o && typeof o.id === 'string' && typeof o.status === 'string'),
    trend: v.trend.filter((t) => t && typeof t.runId === 'string'),
  };
}

const STATUS_LABEL: Record<ObjectiveStatus, string> = { pass: '✅ pass', fail: '❌ fail', 'not-measured': '⚠️ not measured' };
const COMPARISON_SIGN = { '<=': '≤ ', '>=': '≥ ', '=': '' } as const;
const target = (o: DrillObjective) =>
  o.target === null ? '—' : `${COMPARISON_SIGN[o.comparison]}${formatValue(o.target, typeof o.target === 'number' ? o.unit : undefined)}`;

export function drillMarkdown(drill: DrillEvidence, cell: (text: string) => string): string[] {
  const blocks = [
    '## DR objectives',
    table(['Result', 'Objective', 'Measured', 'Target', 'Source'], drill.objectives.map((o) => [
      STATUS_LABEL[o.status], cell(o.title), cell(formatValue(o.measured, o.unit)), cell(target(o)),
      o.source ? `\`${o.source.runbookId}\` run \`${o.source.runId}\`` : cell(o.detail ?? '—'),
    ])),
  ];
  if (drill.trend.length > 0) {
    const ids = drill.objectives.map((o) => o.id);
    blocks.push(`## Trend (last ${drill.trend.length} drill${drill.trend.length === 1 ? '' : 's'})`);
    blocks.push(table(['Drill', ...drill.objectives.map((o) => cell(o.title))], drill.trend.map((t) => [
      `${formatTimestamp(t.at)} (${t.state})`,
      ...ids.map((id) => trendCell(t.objectives[id])),
    ])));
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
  const sections: PageSection[] = [{
    id: 'objectives',
    title: `DR objectives — ${drill.objectives.filter((o) => o.status === 'pass').length} of ${drill.objectives.length} met`,
    body: dataTable(['Result', 'Objective', { label: 'Measured', numeric: true }, { label: 'Target', numeric: true }, 'Source'],
      drill.objectives.map((o) => [
        badge(o.status === 'pass' ? 'ok' : o.status === 'fail' ? 'bad' : 'warn', STATUS_LABEL[o.status]),
        html`${o.title}${o.detail ? html`<span class="sub">${o.detail}</span>` : ''}`,
        formatValue(o.measured, o.unit),
        target(o),
        o.source ? html`<code>${o.source.runbookId}</code> <a href="/v1/runs/${o.source.runId}/report?format=html">${o.source.runId}</a>` : '—',
      ])),
  }];
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
