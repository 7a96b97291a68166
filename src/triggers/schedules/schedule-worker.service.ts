import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Job, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { AppConfig, scheduleTickBackoff } from '../../config/app.config';
import { SCHEDULE_QUEUE, ScheduleJobData, TICK_BACKOFF_TYPE } from './schedule-queue.adapter';
import { SchedulesService } from './schedules.service';
import { TracingService } from '../../tracing/tracing.service';

/**
 * Boot: write the schedulers, catch up missed ticks, then consume tick jobs. The catch-up runs
 * after the upsert because an upsert replaces a scheduler's pending job, so a tick that was due
 * but not yet taken is then only found by the catch-up.
 */
@Injectable()
export class ScheduleWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ScheduleWorker');
  private worker?: Worker<ScheduleJobData>;
  private connection?: IORedis;

  constructor(
    private readonly config: AppConfig,
    private readonly schedules: SchedulesService,
    @Optional() private readonly tracing?: TracingService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.schedules.sync();
      await this.schedules.catchUpAll();
    } catch (err) {
      // Redis or the database away at boot: tick jobs resume once it is back, and the periodic
      // housekeeping (ScheduleHousekeepingService) declares, prunes and catches up then.
      this.logger.warn(`schedules not synchronised at boot: ${(err as Error).message}`);
    }
    this.connection = new IORedis(this.config.queue.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    this.worker = new Worker<ScheduleJobData>(SCHEDULE_QUEUE, (job) => this.process(job), {
      connection: this.connection,
      prefix: this.config.queue.prefix,
      concurrency: 5,
      settings: {
        // BullMQ's own types (exponential, fixed) keep their built-in strategies; this is ours.
        backoffStrategy: (attemptsMade: number, type?: string) =>
          type === TICK_BACKOFF_TYPE ? scheduleTickBackoff(this.config.schedules.tickBackoffMs, attemptsMade) : this.config.schedules.tickBackoffMs,
      },
    });
    this.worker.on('error', (err) => this.logger.warn(`schedule worker: ${err.message}`));
    this.worker.on('failed', (job, err) => this.logger.warn(`tick ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message}`));
  }

  private async process(job: Job<ScheduleJobData>): Promise<void> {
    const tickAt = new Date(tickMillis(job));
    // A tick is a trigger: the root of the trace of the run it starts.
    const tracing = this.tracing;
    if (!tracing?.enabled) return this.schedules.onTick(job.data.scheduleId, tickAt);
    await tracing.inSpan(
      'schedule tick',
      { root: true, kind: 'consumer', attributes: { 'runbookd.schedule_id': job.data.scheduleId, 'runbookd.tick_at': tickAt.toISOString() } },
      () => this.schedules.onTick(job.data.scheduleId, tickAt),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    this.connection?.disconnect();
  }
}

/**
 * The tick a job stands for: its scheduled time, not the clock when it ran, so a late, retried
 * or stalled job still names the same tick (and dedupe key). BullMQ names scheduler jobs
 * `repeat:<scheduler id>:<millis>` and keeps the same millis in `opts.prevMillis`.
 */
export function tickMillis(job: Pick<Job, 'id' | 'opts' | 'timestamp' | 'delay'>): number {
  const fromId = Number(/:(\d+)$/.exec(job.id ?? '')?.[1]);
  if (Number.isFinite(fromId) && fromId > 0) return fromId;
  const prev = (job.opts as { prevMillis?: number }).prevMillis;
  if (typeof prev === 'number') return prev;
  return job.timestamp + (job.delay ?? 0);
}
