import type { DrillEvidence, DrillObjective, DrillTrendEntry, FigureValue, RunReport } from './report.types';

/**
 * DR drill evidence, evaluated: each objective (RPO, RTO, failover switch time, retention,
 * encryption, cleanup) held to the drill's targets, from the findings the drill's child runs
 * recorded (`evaluateObjectives`), and a drill's row of the trend. The shapes are the report's
 * (`report.types.ts`); `drill-evidence.renderer.ts` draws them.
 */
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
          id: spec.id,
          title: spec.title,
          measured,
          target,
          ...(spec.unit ? { unit: spec.unit } : {}),
          comparison: spec.comparison,
          status: passed ? 'pass' : 'fail',
          source: { runId: child.runId, runbookId: child.runbookId, findingId: f.id },
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
    runId,
    at,
    state,
    objectives: Object.fromEntries(
      objectives.map((o) => [
        o.id,
        {
          measured: typeof o.measured === 'number' ? o.measured : null,
          target: typeof o.target === 'number' ? o.target : null,
          status: o.status,
        },
      ]),
    ),
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
