import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { AuditEventInput } from '../audit/audit.types';
import type { CallFence } from '../aws/call-fence';
import { Clock } from '../common/clock';
import { FaultInjector } from '../faults/fault-injector';
import { AppConfig } from '../config/app.config';
import { Database, Queryable } from '../persistence/database';
import { toDatabaseError } from '../persistence/database.error';
import { ExecutorWrite, ExecutorWritesRepository } from '../persistence/executor-writes.repository';
import { databaseGroupCommit, GroupCommit } from '../persistence/group-commit';
import { RunsRepository } from '../persistence/runs.repository';
import { EngineError } from './engine.error';
import { Lease, LeaseKeeper, RunExecution } from './run-execution';

/** Longest pause between two tries of a record the database refused for a moment. */
const MAX_RECORD_BACKOFF_MS = 5_000;

export type TakeResult =
  | { kind: 'taken'; execution: RunExecution }
  | { kind: 'ended' }
  /** Another executor's lease still runs: look again after it. */
  | { kind: 'held'; retryAfterMs: number };

/**
 * Recording under the lease. Taking a run bumps its epoch; every record an executor writes goes
 * through `record()`, whose first statement renews the lease only if the epoch is still the one
 * taken (and holds the run's row until commit, so a successor's take waits for it). An executor
 * whose epoch moved on gets LEASE_LOST and stops: it records nothing and calls nothing more.
 *
 * A record the database refuses for a moment (connection lost, failover, lock or statement
 * timeout) is tried again with backoff for up to `worker.lockMs`: a database hiccup is not the
 * step's failure. Past that, RECORDING_FAILED (retryable) ends this execution, and the run resumes
 * from what was recorded.
 */
@Injectable()
export class RunLeaseService implements LeaseKeeper {
  private readonly logger = new Logger('RunLease');
  /** Who holds a lease, for people reading the runs table; fencing uses the epoch only. */
  readonly owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  /** The records of all the runs this process executes, group-committed (one statement per batch). */
  private readonly writes: GroupCommit<ExecutorWrite, boolean>;

  constructor(
    private readonly db: Database,
    private readonly runs: RunsRepository,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly faults: FaultInjector,
    writesRepository: ExecutorWritesRepository,
    private readonly clock: Clock,
  ) {
    this.writes = databaseGroupCommit(
      db,
      async (items) => {
        const held = await writesRepository.write(items, this.leaseMs, clock.now());
        return items.map((i) => held.has(i.runId));
      },
      // One run's row (or step row) twice in one statement is refused or ambiguous in PostgreSQL.
      (a, b) => a.runId === b.runId,
    );
  }

  private get leaseMs(): number {
    return this.config.worker.lockMs;
  }

  /** The part of the lease this process does not count on, for clock drift and the renewal's own latency. */
  private get marginMs(): number {
    return Math.min(1_000, Math.floor(this.leaseMs / 4));
  }

  async take(runId: string): Promise<TakeResult> {
    const started = Date.now();
    const taken = await this.retrying(() => this.runs.take(runId, this.owner, this.leaseMs));
    if (!taken) {
      const remaining = await this.runs.leaseRemainingMs(runId);
      if (remaining === null) return { kind: 'ended' };
      // Still leased, or released between the two reads: look again once the lease is over.
      return { kind: 'held', retryAfterMs: Math.ceil(remaining) + 50 };
    }
    const { run, steps } = taken;
    const lease = new Lease(runId, run.epoch ?? 0, started + this.leaseMs - this.marginMs);
    // Renewed while the executor works between records (a long read-only step, a slow AWS call);
    // a frozen process renews nothing, which is the point.
    lease.timer = setInterval(() => void this.renew(lease), Math.max(100, Math.floor(this.leaseMs / 3)));
    lease.timer.unref();
    return { kind: 'taken', execution: new RunExecution(run, steps, lease, this, this.runs, this.clock) };
  }

  /**
   * Runs `fn` in one transaction that first proves the lease still holds. Transient database
   * errors are tried again; LEASE_LOST is not.
   */
  async record<T>(lease: Lease, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.assertHeld(lease, false);
    return this.retrying(() =>
      this.db.transaction(async (tx) => {
        const started = Date.now();
        if (!(await this.runs.holdLease(lease.runId, lease.epoch, this.leaseMs, tx))) this.lose(lease);
        const result = await fn(tx);
        lease.deadlineMs = Math.max(lease.deadlineMs, started + this.leaseMs - this.marginMs);
        return result;
      }),
    );
  }

  /**
   * Run columns, step rows and audit records under the lease, all or nothing: what `record()`
   * writes, for the common shapes, group-committed with other runs' writes (one statement and
   * one commit for all that arrive while the previous batch is in flight). Same fence, same
   * retries; `release` gives the run back in the same commit.
   */
  async write(lease: Lease, w: Omit<ExecutorWrite, 'runId' | 'epoch'>): Promise<void> {
    this.assertHeld(lease, false);
    const started = Date.now();
    const held = await this.retrying(() => this.writes.submit({ ...w, runId: lease.runId, epoch: lease.epoch }));
    if (!held) this.lose(lease);
    if (w.release) this.stop(lease);
    else lease.deadlineMs = Math.max(lease.deadlineMs, started + this.leaseMs - this.marginMs);
  }

  /**
   * Throws LEASE_LOST when a newer executor took the run, or (with `byClock`) when this process's
   * lease has run out by its own clock: it was frozen or starved, and a successor may be acting.
   */
  assertHeld(lease: Lease, byClock = true): void {
    if (lease.lost) this.lose(lease);
    if (byClock && Date.now() >= lease.deadlineMs) {
      throw new EngineError(
        'LEASE_LOST',
        `the lease on run ${lease.runId} ran out (this process was stalled); not acting on it`,
        { runId: lease.runId, epoch: lease.epoch },
        false,
      );
    }
  }

  /** Gives the run back; best effort, since a lease that is not released simply runs out. */
  async release(lease: Lease, q?: Queryable): Promise<void> {
    this.stop(lease);
    if (lease.lost) return;
    if (q) await this.runs.releaseLease(lease.runId, lease.epoch, q);
    else await this.runs.releaseLease(lease.runId, lease.epoch).catch(() => undefined);
  }

  stop(lease: Lease): void {
    if (lease.timer) clearInterval(lease.timer);
    lease.timer = undefined;
  }

  /** What a mutating AWS call made for this run needs: intent under the lease, a last look, a kept outcome. */
  fenceFor(lease: Lease): CallFence {
    return {
      // Group-committed with other runs' records, fenced by this run's epoch, flushed to disk before AWS is called.
      recordIntent: (event: AuditEventInput) => this.write(lease, { events: [event], durable: true }),
      assertHeld: () => this.assertHeld(lease, true),
      recordOutcome: (event: AuditEventInput) =>
        this.retrying(async () => {
          this.faults.at(`aws:${String(event.data.operation)}:record-answer`);
          await this.audit.append(event);
        }),
    };
  }

  /** Tries `fn` again while the database is briefly away, for up to the lease's length. */
  async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.leaseMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (toDatabaseError(err) === undefined) throw err;
        if (Date.now() >= deadline) {
          throw new EngineError('RECORDING_FAILED', `the database refused a record for ${this.leaseMs} ms: ${(err as Error).message}`, {}, true);
        }
        const backoff = Math.min(MAX_RECORD_BACKOFF_MS, 100 * 2 ** (attempt - 1));
        this.logger.warn(`database unavailable (${(err as Error).message}); recording again in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }

  private async renew(lease: Lease): Promise<void> {
    if (lease.lost) return this.stop(lease);
    const started = Date.now();
    try {
      if (await this.runs.holdLease(lease.runId, lease.epoch, this.leaseMs)) {
        lease.deadlineMs = Math.max(lease.deadlineMs, started + this.leaseMs - this.marginMs);
      } else {
        lease.lost = true;
        this.stop(lease);
        this.logger.warn(`run ${lease.runId}: a newer executor took the run (epoch ${lease.epoch} is gone)`);
      }
    } catch {
      // The next record tries again; the lease meanwhile runs out by the clock if the database stays away.
    }
  }

  private lose(lease: Lease): never {
    lease.lost = true;
    this.stop(lease);
    throw new EngineError(
      'LEASE_LOST',
      `run ${lease.runId} was taken by a newer executor (epoch ${lease.epoch} is gone); stopping without recording`,
      { runId: lease.runId, epoch: lease.epoch },
      false,
    );
  }
}
