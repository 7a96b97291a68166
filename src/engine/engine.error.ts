import { CodedError } from '../common/coded-error';

export type EngineErrorCode =
  | 'RUN_NOT_FOUND'
  | 'CONCURRENCY_CONFLICT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'RUN_NOT_CANCELLABLE'
  /** Everything is stopped (stop-all): a new run is refused, and a run stopped by it ends with this code. */
  | 'STOPPED'
  /** stop-all while already stopped, or resume-all while not stopped: nothing changed. */
  | 'STOP_SWITCH_UNCHANGED'
  | 'STEP_INPUT_INVALID'
  | 'STEP_TIMEOUT'
  | 'STEP_CRASHED'
  | 'RUN_TIMEOUT'
  | 'STOP_CONDITION'
  | 'STOP_CONDITION_CHECK_FAILED'
  | 'CANCELLED'
  | 'CLEANUP_FAILED'
  | 'FINDINGS_FAILED'
  | 'PRECONDITION_FAILED'
  | 'RESTORE_FAILED'
  /** A failover's writer had not switched by its target plus the margin: waiting out the step timeout would say no more. */
  | 'SWITCH_TARGET_MISSED'
  | 'PREFLIGHT_FAILED'
  | 'CHILD_RUN_FAILED'
  /** A newer executor took the run (fencing epoch moved on): this one stops and records nothing. */
  | 'LEASE_LOST'
  /** The run's executions failed too often (RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS): it ends instead of looping. */
  | 'RUN_DEAD_LETTERED'
  /** PostgreSQL refused a record for longer than the recording retries last (retryable: the run resumes). */
  | 'RECORDING_FAILED';

export class EngineError extends CodedError<EngineErrorCode> {
  readonly area = 'engine';
}
