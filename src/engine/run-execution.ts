import type { CallFence } from '../aws/call-fence';
import type { Clock } from '../common/clock';
import type { RunOutcome, RunError, RunRecord, StepResultRecord } from '../model/run.types';
import type { Queryable } from '../persistence/database';
import type { ExecutorWrite } from '../persistence/executor-writes.repository';
import type { RunsRepository } from '../persistence/runs.repository';

/**
 * One executor's hold on one run. `epoch` is the fencing token it took; `deadlineMs` is when the
 * lease runs out by this process's clock (renewed by every record and by a timer), with a margin
 * so the database's lease ends after this process has stopped believing in it.
 */
export class Lease {
  lost = false;
  deadlineMs: number;
  timer?: NodeJS.Timeout;

  constructor(
    readonly runId: string,
    readonly epoch: number,
    deadlineMs: number,
  ) {
    this.deadlineMs = deadlineMs;
  }
}

/** What an execution asks of the lease it holds (RunLeaseService): fenced records and the lease's end. */
export interface LeaseKeeper {
  record<T>(lease: Lease, fn: (tx: Queryable) => Promise<T>): Promise<T>;
  write(lease: Lease, w: Omit<ExecutorWrite, 'runId' | 'epoch'>): Promise<void>;
  fenceFor(lease: Lease): CallFence;
  assertHeld(lease: Lease, byClock?: boolean): void;
  release(lease: Lease, q?: Queryable): Promise<void>;
  stop(lease: Lease): void;
}

/**
 * One execution of one run: the run and its step rows as this executor holds them, and the
 * lease it holds them under. Everything the execution writes goes through it, fenced by the
 * lease; what it writes, the in-memory run and steps follow, so what comes next (the next step,
 * cleanup, the finisher) needs no re-read.
 */
export class RunExecution {
  /** The step rows by step id, as recorded (or about to be: a read-only step's start goes with its end). */
  readonly steps: Map<string, StepResultRecord>;

  constructor(
    /** The run as taken; replaced as the execution goes (marked running, its secrets opened, read again). */
    public run: RunRecord,
    steps: readonly StepResultRecord[],
    readonly lease: Lease,
    private readonly keeper: LeaseKeeper,
    private readonly runs: RunsRepository,
    private readonly clock: Clock,
  ) {
    this.steps = new Map(steps.map((s) => [s.stepId, s]));
  }

  get runId(): string {
    return this.run.id;
  }

  /** Runs `fn` in one transaction that first proves the lease still holds. */
  record<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.keeper.record(this.lease, fn);
  }

  /** Run columns, step rows and audit records under the lease, group-committed with other runs' writes. */
  write(w: Omit<ExecutorWrite, 'runId' | 'epoch'>): Promise<void> {
    return this.keeper.write(this.lease, w);
  }

  /** What a mutating AWS call made for this run needs: intent under the lease, a last look, a kept outcome. */
  fence(): CallFence {
    return this.keeper.fenceFor(this.lease);
  }

  assertHeld(byClock = true): void {
    this.keeper.assertHeld(this.lease, byClock);
  }

  /** Gives the run back; best effort, since a lease that is not released simply runs out. */
  release(q?: Queryable): Promise<void> {
    return this.keeper.release(this.lease, q);
  }

  /** Stops renewing the lease (it is given back, lost, or this execution is over). */
  stop(): void {
    this.keeper.stop(this.lease);
  }

  /**
   * Ends the main phase: the outcome is fixed now, and cleanup runs next whatever it is. With
   * `tx`, in that transaction (already fenced by the caller's `record`); without, as its own
   * fenced write.
   */
  async endMain(outcome: RunOutcome, error: RunError | null, tx?: Queryable): Promise<void> {
    const interrupted: StepResultRecord[] = [];
    if (error) {
      // A step caught mid-wait by a cancel, timeout or guard alarm ends with the reason it stopped.
      for (const s of this.steps.values()) {
        if (s.phase === 'main' && (s.state === 'waiting' || s.state === 'running')) {
          interrupted.push({ ...s, state: 'failed' as const, endedAt: this.clock.now(), error, note: `interrupted: ${error.code}` });
        }
      }
    }
    const fields = { phase: 'cleanup' as const, outcome, error: error ?? undefined };
    if (tx) {
      for (const s of interrupted) await this.runs.upsertStep(s, tx);
      await this.runs.update(this.run.id, fields, tx);
    } else {
      await this.write({ run: fields, steps: interrupted, durable: true });
    }
    for (const s of interrupted) this.steps.set(s.stepId, s);
    this.run.phase = 'cleanup';
    this.run.outcome = outcome;
    if (error) this.run.error = error;
  }
}
