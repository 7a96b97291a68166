import type { PlannedCall } from '../aws/aws-call.types';
import type { CapacitySection } from '../capacity/capacity.types';
import type { Finding } from '../model/step-output.types';
import type { FleetSection } from '../model/fleet.types';

/**
 * What a run report is built from (the `runs` and `step_results` rows, as the caller read them)
 * and what it becomes. The report is stored with the run (`runs.report`) and served as JSON, so
 * `RunReport` stays plain JSON: strings, numbers, booleans, null, arrays and objects.
 */

/** ISO-8601 text; a `Date` (as `pg` returns timestamptz) is accepted and turned into ISO text. */
export type ReportTimestamp = string | Date | null;

export type RunState = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'aborted' | 'cancelled' | 'rejected';
export type RunOutcome = 'succeeded' | 'failed' | 'aborted' | 'cancelled' | 'rejected';
export type StepState = 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'planned';
export type StepPhase = 'main' | 'cleanup';

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set<RunState>(['succeeded', 'failed', 'aborted', 'cancelled', 'rejected']);

export interface ReportError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface ReportTrigger {
  kind: string;
  actor: string;
  [k: string]: unknown;
}

export interface ReportRunInput {
  id: string;
  runbookId: string;
  runbookTitle: string;
  state: RunState;
  outcome: RunOutcome | null;
  dryRun: boolean;
  reason: string | null;
  trigger: ReportTrigger;
  /** Already redacted by the caller (it knows the runbook's `writeOnly` properties). */
  parameters: Record<string, unknown>;
  error: ReportError | null;
  createdAt: ReportTimestamp;
  startedAt: ReportTimestamp;
  endedAt: ReportTimestamp;
}

export interface ReportStepInput {
  stepId: string;
  name?: string;
  uses: string;
  phase: StepPhase;
  position: number;
  mutates: boolean;
  state: StepState;
  attempts: number;
  startedAt: ReportTimestamp;
  endedAt: ReportTimestamp;
  /** May carry `findings`, `figures`, `resources` and (dry-run) `plannedCalls` arrays besides the step's own fields. */
  output: Record<string, unknown> | null;
  error: ReportError | null;
  /** The last `wait()` note, e.g. "restore 40% done". */
  note: string | null;
  /** The step type's `summarize(output)`, computed by the caller. */
  summary?: string | null;
}

export type FigureValue = string | number | boolean | null;

/**
 * DR drill evidence: each objective (RPO, RTO, failover switch time, retention, encryption,
 * cleanup) with its measured value, target and verdict, taken from the findings the drill's
 * child runs recorded, and the same objectives over the last drills. Stored in the drill step's
 * output under `drill`, so the report reads it like any other recorded fact (evaluated in
 * `drill-evidence.ts`).
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

/** A key number of the run (old writer, switch seconds, RTO), as a step reported it. */
export interface ReportFigure {
  id: string;
  label: string;
  value: FigureValue;
  unit?: string;
  stepId: string;
}

export interface ReportFinding extends Finding {
  stepId: string;
}

export interface ReportPlannedCall extends PlannedCall {
  stepId: string;
}

/**
 * A resource the run created and the last state a step recorded for it (steps' `resources`
 * output arrays, merged by type, region and identifier in step order): "what did this run leave
 * behind" answered from the record, not from AWS.
 */
export interface ReportResource {
  type: string;
  identifier: string;
  region: string | null;
  arn?: string;
  state: string;
  /** The step that created it, when a step said so. */
  createdByStepId?: string;
  /** The step whose record gave the final state. */
  stateStepId: string;
}

export interface ReportTimelineEntry {
  stepId: string;
  name: string;
  uses: string;
  phase: StepPhase;
  state: StepState;
  mutates: boolean;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  attempts: number;
  summary: string | null;
  /** The last wait note; says what an unfinished step is waiting for. */
  note: string | null;
  error: ReportError | null;
}

export interface RunReport {
  schemaVersion: 1;
  /** True once the run is in a terminal state; a non-final report is a snapshot of a run in progress. */
  final: boolean;
  run: {
    id: string;
    runbook: string;
    title: string;
    state: RunState;
    /** How the main phase ended; set before cleanup runs, so it can be known while the run is still running. */
    outcome: RunOutcome | null;
    dryRun: boolean;
    reason: string | null;
    trigger: ReportTrigger;
    actor: string;
    parameters: Record<string, unknown>;
    acceptedAt: string | null;
    startedAt: string | null;
    endedAt: string | null;
    durationSeconds: number | null;
    error: ReportError | null;
  };
  figures: ReportFigure[];
  findings: ReportFinding[];
  plannedCalls: ReportPlannedCall[];
  /** Absent from reports stored before resources were recorded. */
  resources?: ReportResource[];
  timeline: ReportTimelineEntry[];
  cleanup: { ran: number; failed: string[] };
  /** DR drill objectives and their trend, when a step recorded them (composite drills). */
  drill?: DrillEvidence;
  /** A capacity report's section (from a step output's `capacity`); absent for other runbooks. */
  capacity?: CapacitySection;
  /** A fleet run's targets, worst first, with outcomes and key figures (from the fleet step's `fleet`); absent for other runs. */
  fleet?: FleetSection;
  generatedAt: string;
}
