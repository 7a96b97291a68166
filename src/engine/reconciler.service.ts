import { randomUUID } from 'node:crypto';
import { Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app.config';
import { RunsRepository } from '../persistence/runs.repository';
import { RunQueue } from './run-queue.adapter';
import { isTerminal } from '../model/run.types';

/** A run younger than this may still be between its commit and its enqueue. */
const SETTLE_MS = 5_000;
const INTERVAL_NAME = 'reconciler';

/**
 * In-process housekeeping on @nestjs/schedule's registry (the interval comes from config, so it
 * is registered at boot rather than by decorator); each round is still guarded by the Redis lock.
 *
 * Closes the gap between Postgres (the truth) and Redis (the queue): an accepted, unfinished run
 * with no live job — Redis lost its data, or the process died between commit and enqueue — is
 * queued again. One replica does it per round, under a Redis lock.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private readonly owner = randomUUID();
  private stopping = false;

  constructor(
    private readonly runs: RunsRepository,
    private readonly queue: RunQueue,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () =>
      void this.reconcile().catch((err) => {
        if (!this.stopping) this.logger.warn(`reconcile failed: ${(err as Error).message}`);
      });
    const first = setTimeout(tick, 500);
    first.unref();
    this.scheduler.addTimeout(`${INTERVAL_NAME}-first`, first);
    const timer = setInterval(tick, this.config.worker.reconcileIntervalMs);
    timer.unref();
    this.scheduler.addInterval(INTERVAL_NAME, timer);
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
    if (this.scheduler.doesExist('interval', INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
    if (this.scheduler.doesExist('timeout', `${INTERVAL_NAME}-first`)) this.scheduler.deleteTimeout(`${INTERVAL_NAME}-first`);
  }

  /** Returns the ids of the runs it re-queued. */
  async reconcile(): Promise<string[]> {
    if (this.stopping) return [];
    const lockKey = `${this.config.queue.prefix}:reconciler-lock`;
    const got = await this.queue.connection.set(lockKey, this.owner, 'PX', Math.max(1000, this.config.worker.reconcileIntervalMs - 100), 'NX');
    if (got !== 'OK') return [];
    const requeued: string[] = [];
    for (const run of await this.runs.listUnfinished(1000)) {
      if (Date.now() - run.updatedAt.getTime() < SETTLE_MS && run.state === 'queued') continue;
      const state = await this.queue.jobState(run.id);
      // A live job (waiting, delayed, active) will carry the run on; nothing to do.
      if (state !== 'missing' && state !== 'failed' && state !== 'completed') continue;
      // The run was listed before its job was looked at: one that ended in between has a
      // completed job and is no longer unfinished. Read it again before queueing it anew.
      if (!(await this.stillUnfinished(run.id))) continue;
      if (state !== 'missing') {
        // The job gave up (infrastructure errors) or ended without ending the run: start it afresh.
        const job = await this.queue.job(run.id);
        await job?.remove().catch(() => undefined);
      }
      await this.queue.enqueue(run.id);
      requeued.push(run.id);
      this.logger.warn(`run ${run.id} (${run.state}) had ${state === 'missing' ? 'no job' : `a ${state} job`}; queued it again`);
    }
    return requeued;
  }

  private async stillUnfinished(runId: string): Promise<boolean> {
    const now = await this.runs.get(runId);
    return now !== null && !isTerminal(now.state);
  }
}
