import type { Provider } from '@nestjs/common';
import { RunsRepository } from '../persistence/runs.repository';
import type { ChildRunState, RunRecord } from '../model/run.types';

/**
 * What a step may know of runs other than through its own context: the records of the runs it
 * started and of earlier runs of its runbook. Read-only, so no step can write a run behind the
 * executor's lease.
 */
export abstract class RunReader {
  abstract get(runId: string): Promise<RunRecord | null>;
  /** Runs this run started (composite runbooks), oldest first. */
  abstract children(parentRunId: string): Promise<RunRecord[]>;
  /** The same runs, lean (no definition, parameters or report): a fleet reads them on every look. */
  abstract childStates(parentRunId: string): Promise<ChildRunState[]>;
  /** When the run's cancel was requested, if it was. */
  abstract cancelRequest(runId: string): Promise<{ at: Date; by: string | null } | null>;
  /** The run ids among these whose run has not ended (or is unknown here); the janitor leaves their resources alone. */
  abstract notEnded(runIds: readonly string[]): Promise<Set<string>>;
  /** The newest ended, non-dry runs of a runbook that have a stored report, newest first. */
  abstract endedWithReports(runbookId: string, limit: number): Promise<RunRecord[]>;
}

export const runReaderProvider: Provider = {
  provide: RunReader,
  inject: [RunsRepository],
  useFactory: (runs: RunsRepository): RunReader => runs,
};
