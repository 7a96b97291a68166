import { redact } from '../common/redact';
import { readCapacitySection } from './capacity-section';
import { readFleetSection } from './fleet-section';
import type {
  DrillEvidence,
  FigureValue,
  ReportError,
  ReportFigure,
  ReportFinding,
  ReportPlannedCall,
  ReportResource,
  ReportRunInput,
  ReportStepInput,
  ReportTimelineEntry,
  ReportTimestamp,
  RunReport,
} from './report.types';
import { TERMINAL_RUN_STATES } from './report.types';
import { readDrillEvidence } from './drill-evidence';

/**
 * Builds a run's report from what the run recorded, and nothing else: no AWS call, no clock but
 * `now` (the report's own time stamp). Step outputs are stored JSON that a step of any version may
 * have written, so every field read from them is checked; an entry that does not have the shape
 * is left out rather than allowed to break the report of a run that is still going.
 */
export function buildRunReport(run: ReportRunInput, steps: readonly ReportStepInput[], now: Date): RunReport {
  const ordered = [...steps].sort(stepOrder);
  const figures: ReportFigure[] = [];
  const findings: ReportFinding[] = [];
  const plannedCalls: ReportPlannedCall[] = [];
  let drill: DrillEvidence | null = null;
  const resources = new Map<string, ReportResource>();
  let capacity: RunReport['capacity'];
  let fleet: RunReport['fleet'];

  for (const step of ordered) {
    const output = isRecord(step.output) ? step.output : null;
    if (!output) continue;
    drill = readDrillEvidence(output.drill) ?? drill;
    figures.push(...readFigures(output.figures, step.stepId));
    findings.push(...readFindings(output.findings, step.stepId));
    if (run.dryRun || step.state === 'planned') plannedCalls.push(...readPlannedCalls(output.plannedCalls, step.stepId));
    mergeResources(resources, output.resources, step.stepId);
    capacity = readCapacitySection(output.capacity) ?? capacity;
    fleet = readFleetSection(output.fleet) ?? fleet;
  }

  const timeline = ordered.map(toTimelineEntry);
  const cleanupSteps = timeline.filter((s) => s.phase === 'cleanup');
  const startedAt = iso(run.startedAt);
  const endedAt = iso(run.endedAt);

  return {
    schemaVersion: 1,
    final: TERMINAL_RUN_STATES.has(run.state),
    run: {
      id: run.id,
      runbook: run.runbookId,
      title: run.runbookTitle,
      state: run.state,
      outcome: run.outcome ?? null,
      dryRun: run.dryRun,
      reason: run.reason ?? null,
      // The caller redacts by the runbook's schema; this second pass by key name is cheap insurance
      // that a report, which is shared widely, never carries a secret.
      trigger: redact(run.trigger),
      actor: run.trigger?.actor ?? 'unknown',
      parameters: redact(run.parameters ?? {}),
      acceptedAt: iso(run.createdAt),
      startedAt,
      endedAt,
      durationSeconds: secondsBetween(startedAt, endedAt),
      error: readError(run.error),
    },
    figures,
    findings,
    plannedCalls,
    resources: [...resources.values()],
    timeline,
    cleanup: {
      ran: cleanupSteps.filter((s) => s.state === 'succeeded' || s.state === 'failed').length,
      failed: cleanupSteps.filter((s) => s.state === 'failed').map((s) => s.stepId),
    },
    ...(drill ? { drill } : {}),
    ...(capacity ? { capacity } : {}),
    ...(fleet ? { fleet } : {}),
    generatedAt: now.toISOString(),
  };
}

const PHASE_ORDER = { main: 0, cleanup: 1 } as const;

function stepOrder(a: ReportStepInput, b: ReportStepInput): number {
  return (PHASE_ORDER[a.phase] ?? 2) - (PHASE_ORDER[b.phase] ?? 2) || a.position - b.position || (a.stepId < b.stepId ? -1 : a.stepId > b.stepId ? 1 : 0);
}

function toTimelineEntry(step: ReportStepInput): ReportTimelineEntry {
  const startedAt = iso(step.startedAt);
  const endedAt = iso(step.endedAt);
  return {
    stepId: step.stepId,
    name: step.name || step.stepId,
    uses: step.uses,
    phase: step.phase,
    state: step.state,
    mutates: step.mutates,
    startedAt,
    endedAt,
    durationSeconds: secondsBetween(startedAt, endedAt),
    attempts: step.attempts ?? 0,
    summary: step.summary ?? null,
    note: step.note ?? null,
    error: readError(step.error),
  };
}

function readFigures(value: unknown, stepId: string): ReportFigure[] {
  if (!Array.isArray(value)) return [];
  const out: ReportFigure[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.id !== 'string' || !('value' in item)) continue;
    const figure: ReportFigure = {
      id: item.id,
      label: typeof item.label === 'string' ? item.label : item.id,
      value: scalar(item.value),
      stepId,
    };
    if (typeof item.unit === 'string' && item.unit) figure.unit = item.unit;
    out.push(figure);
  }
  return out;
}

function readFindings(value: unknown, stepId: string): ReportFinding[] {
  if (!Array.isArray(value)) return [];
  const out: ReportFinding[] = [];
  for (const item of value) {
    // A finding without a verdict says nothing; reporting it as passed or failed would be a guess.
    if (!isRecord(item) || typeof item.passed !== 'boolean') continue;
    const id = typeof item.id === 'string' ? item.id : typeof item.title === 'string' ? item.title : null;
    if (id === null) continue;
    const finding: ReportFinding = {
      id,
      title: typeof item.title === 'string' ? item.title : id,
      passed: item.passed,
      stepId,
    };
    if ('measured' in item && item.measured !== undefined) finding.measured = scalar(item.measured);
    if (typeof item.target === 'string' || typeof item.target === 'number') finding.target = item.target;
    else if (item.target === null) finding.target = null;
    if (typeof item.unit === 'string' && item.unit) finding.unit = item.unit;
    if (typeof item.detail === 'string' && item.detail) finding.detail = item.detail;
    out.push(finding);
  }
  return out;
}

/** Later records of the same resource update its state; the first says who created it. */
function mergeResources(into: Map<string, ReportResource>, value: unknown, stepId: string): void {
  if (!Array.isArray(value)) return;
  for (const item of value) {
    if (!isRecord(item) || typeof item.type !== 'string' || typeof item.identifier !== 'string' || typeof item.state !== 'string') continue;
    const region = typeof item.region === 'string' && item.region ? item.region : null;
    const key = `${item.type}\u0000${region ?? ''}\u0000${item.identifier}`;
    const known = into.get(key);
    const next: ReportResource = known
      ? { ...known, state: item.state, stateStepId: stepId }
      : { type: item.type, identifier: item.identifier, region, state: item.state, stateStepId: stepId };
    if (typeof item.arn === 'string' && item.arn) next.arn = item.arn;
    if (!next.createdByStepId && typeof item.createdByStepId === 'string' && item.createdByStepId) next.createdByStepId = item.createdByStepId;
    into.set(key, next);
  }
}

function readPlannedCalls(value: unknown, stepId: string): ReportPlannedCall[] {
  if (!Array.isArray(value)) return [];
  const out: ReportPlannedCall[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.service !== 'string' || typeof item.operation !== 'string') continue;
    // Planned inputs are real request bodies (a restore's MasterUserPassword, say): redact them.
    const call: ReportPlannedCall = {
      service: item.service,
      operation: item.operation,
      input: redact(isRecord(item.input) ? item.input : {}),
      stepId,
    };
    if (typeof item.region === 'string' && item.region) call.region = item.region;
    out.push(call);
  }
  return out;
}

function readError(value: unknown): ReportError | null {
  if (!isRecord(value)) return null;
  const error: ReportError = {
    code: typeof value.code === 'string' ? value.code : 'UNKNOWN',
    message: typeof value.message === 'string' ? value.message : '',
  };
  if (isRecord(value.details) && Object.keys(value.details).length > 0) error.details = redact(value.details);
  return error;
}

function scalar(value: unknown): FigureValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  return JSON.stringify(value) ?? null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function iso(value: ReportTimestamp | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Seconds with millisecond precision (3 decimals); null unless both ends are known. */
function secondsBetween(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.round(ms) / 1000 : null;
}
