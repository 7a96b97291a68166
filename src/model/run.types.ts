import type { RunbookDefinition } from './runbook.types';

export const RUN_STATES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'aborted', 'cancelled', 'rejected'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** `rejected`: an approval the run needed was rejected or expired (see engine/approvals.service.ts). */
export type RunOutcome = 'succeeded' | 'failed' | 'aborted' | 'cancelled' | 'rejected';
export const ACTIVE_STATES: readonly RunState[] = ['queued', 'running', 'waiting'];

export function isTerminal(state: RunState): boolean {
  return !ACTIVE_STATES.includes(state);
}

export const TRIGGER_KINDS = ['rest', 'cli', 'alarm', 'schedule', 'parent'] as const;

export interface RunTrigger {
  /** `parent`: a child run started by a composite runbook's `runbook.run` step (`parentRunId`, `parentStepId`). */
  kind: (typeof TRIGGER_KINDS)[number];
  actor: string;
  [key: string]: unknown;
}

export interface RunError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface RunRecord {
  id: string;
  runbookId: string;
  runbookDigest: string;
  definition: RunbookDefinition;
  parameters: Record<string, unknown>;
  dryRun: boolean;
  reason: string | null;
  trigger: RunTrigger;
  actor: string;
  dedupeKey: string | null;
  requestHash: string | null;
  concurrencyKey: string | null;
  state: RunState;
  phase: 'main' | 'cleanup' | 'done';
  outcome: RunOutcome | null;
  error: RunError | null;
  cancelRequestedAt: Date | null;
  cancelRequestedBy: string | null;
  /** Set when the cancel came from stop-all ('STOPPED'), with the stop's reason: the run then ends STOPPED, naming both. */
  cancelCode?: string | null;
  cancelReason?: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  updatedAt: Date;
  timeoutAt: Date | null;
  expiresAt: Date;
  report: Record<string, unknown> | null;
  /** The composite run that started this one (trigger kind `parent`). */
  parentRunId?: string | null;
  /** Fencing token: moves on each time an executor takes the run. */
  epoch?: number;
  /** Executions that ended without progress; the dead letter's count. */
  failedExecutions?: number;
}

/** A child run as its parent counts it (RunsRepository.childStates). */
export interface ChildRunState {
  id: string;
  dedupeKey: string | null;
  state: RunState;
  phase: 'main' | 'cleanup' | 'done';
  error: RunError | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export type StepState = 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'planned';

export interface StepResultRecord {
  runId: string;
  stepId: string;
  phase: 'main' | 'cleanup';
  position: number;
  uses: string;
  mutates: boolean;
  state: StepState;
  attempts: number;
  startedAt: Date;
  endedAt: Date | null;
  input: Record<string, unknown> | null;
  output: Record<string, unknown> | null;
  error: RunError | null;
  memory: Record<string, unknown>;
  note: string | null;
}
