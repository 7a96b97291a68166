import type { AuditService } from '../audit/audit.service';
import type { AuditEventInput } from '../audit/audit.types';
import type { Clock } from '../common/clock';
import type { FaultInjector } from '../faults/fault-injector';
import { redactValues } from '../common/redact';
import type { RunError, StepResultRecord } from '../model/run.types';
import type { StepDefinition } from '../model/runbook.types';
import type { Queryable } from '../persistence/database';
import type { RunsRepository } from '../persistence/runs.repository';
import { isRejection } from './approval.error';
import type { RunExecution } from './run-execution';
import { redactorFor, RunRedactor, storedStep } from './run-redactor';

/** Where a step stands in its run, as the executor walks it. */
export interface StepPlace {
  def: StepDefinition;
  position: number;
  phase: 'main' | 'cleanup';
  /** A failure of this main step ends the main phase (its onFailure is `fail`), in the same transaction. */
  endsMain?: boolean;
}

export type StepRun = { kind: 'done' } | { kind: 'wait'; afterMs: number } | { kind: 'failed'; error: RunError };

/** What a step attempt writes with. */
export interface StepAttemptDeps {
  runs: RunsRepository;
  audit: AuditService;
  clock: Clock;
  faults: FaultInjector;
}

/**
 * One look at one step: its row as this look holds it, and the records it writes under the
 * execution's lease. The 'step.started' audit record goes with the step's first record (for a
 * read-only step, that is its end: one commit per step).
 */
export class StepAttempt {
  /** The step's row as recorded so far (or about to be). */
  current: StepResultRecord;
  /** What the step handed to `wait()` or `checkpoint()`, the engine's `$` keys included. */
  memory: Record<string, unknown>;
  /** The 'step.started' audit record not yet written (null once written, or for a step never started). */
  private pendingStart: AuditEventInput | null = null;
  readonly redactor: RunRedactor;

  constructor(
    private readonly x: RunExecution,
    private readonly place: StepPlace,
    readonly existing: StepResultRecord | undefined,
    private readonly mutates: boolean,
    startedAt: Date,
    private readonly deps: StepAttemptDeps,
  ) {
    const { def, phase, position } = place;
    this.current = existing ?? {
      runId: x.run.id,
      stepId: def.id,
      phase,
      position,
      uses: def.uses,
      mutates,
      state: 'running',
      attempts: 0,
      startedAt,
      endedAt: null,
      input: null,
      output: null,
      error: null,
      memory: {},
      note: null,
    };
    this.memory = this.current.memory ?? {};
    this.redactor = redactorFor(x.run);
  }

  /** The first row this look writes: `pendingStart` for a step starting now, then the running state. */
  async begin(input: Record<string, unknown>): Promise<number> {
    const { run } = this.x;
    const { def, phase } = this.place;
    const attempt = this.current.attempts + 1;
    if (!this.existing) {
      this.pendingStart = {
        kind: 'step.started',
        runId: run.id,
        actor: run.actor,
        data: this.redactor.apply({ stepId: def.id, uses: def.uses, phase, mutates: this.mutates, startedAt: this.current.startedAt.toISOString(), input }),
      };
    }
    const running: Partial<StepResultRecord> = { state: 'running', attempts: attempt, input, note: null };
    if (this.mutates || this.existing) {
      // Recorded before the step runs: a mutating step's start (and attempt count) must survive a crash mid-call.
      await this.record(running);
    } else {
      // A read-only step that dies mid-run is simply run again, so its start is written with its
      // outcome, in one transaction: the engine's per-step cost is one commit.
      this.current = { ...this.current, ...running };
    }
    return attempt;
  }

  /** Writes the step's record under the lease, with the pending start record and `also` in the same transaction. */
  async record(patch: Partial<StepResultRecord>, endEvent?: AuditEventInput, also?: (tx: Queryable) => Promise<void>): Promise<void> {
    const row = { ...this.current, ...patch };
    const events = [...(this.pendingStart ? [this.pendingStart] : []), ...(endEvent ? [endEvent] : [])];
    const stored = storedStep(row, this.redactor);
    if (also) {
      await this.x.record(async (tx) => {
        await this.deps.runs.upsertStep(stored, tx);
        if (events.length > 0) await this.deps.audit.appendMany(events, tx);
        await also(tx);
      });
    } else {
      // A read-only step's records need not wait for the WAL flush: if PostgreSQL itself crashed
      // before flushing, the step would just run again, and the next durable commit (a mutating
      // step, the run's end) flushes them first anyway, so the audit chain keeps no gap.
      await this.x.write({ steps: [stored], events, durable: this.mutates });
    }
    this.current = row;
    this.pendingStart = null;
    this.x.steps.set(this.place.def.id, this.current);
  }

  /**
   * The step's final record and its audit record commit together: neither exists without the other.
   * A failed main step also ends the main phase in that transaction: a run never goes on past it.
   */
  async end(patch: Partial<StepResultRecord>): Promise<void> {
    const { run } = this.x;
    const { def, phase } = this.place;
    const ended = this.deps.clock.now();
    const next = { ...this.current, ...patch, endedAt: ended };
    const failedMain = next.state === 'failed' && phase === 'main' && next.error;
    await this.record(
      { ...patch, endedAt: ended },
      {
        kind: 'step.ended',
        runId: run.id,
        actor: run.actor,
        data: this.redactor.apply({
          stepId: def.id,
          uses: def.uses,
          phase,
          state: next.state,
          attempts: next.attempts,
          durationMs: ended.getTime() - next.startedAt.getTime(),
          error: next.error,
          note: next.note,
        }),
      },
      failedMain ? (tx) => this.endMainOnFailure(tx, redactValues(next.error!, this.redactor.values)) : undefined,
    );
    this.deps.faults.at(`step:${def.id}:after`);
  }

  async fail(error: RunError, patch: Partial<StepResultRecord> = {}): Promise<StepRun> {
    await this.end({ ...patch, state: 'failed', error });
    return { kind: 'failed', error };
  }

  // A rejected or expired approval (core.approve) ends the run `rejected`, not `failed`: nothing broke.
  // Per-step onFailure (src/runbooks/on-failure.ts): `continue` and `step:<id>` go on; `fail` ends the phase.
  private async endMainOnFailure(tx: Queryable, error: RunError): Promise<void> {
    if (this.place.endsMain) await this.x.endMain(isRejection(error.code) ? 'rejected' : 'failed', error, tx);
  }
}
