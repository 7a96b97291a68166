import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '../../config/app.config';
import { RunQueue } from '../../engine/run-queue.adapter';

export const SCHEDULE_QUEUE = 'schedules';
/** The tick jobs' backoff type: doubling, capped (`scheduleTickBackoff`); the schedule worker defines it. */
export const TICK_BACKOFF_TYPE = 'capped-exponential';

export interface ScheduleJobData {
  /** `<runbook>.<schedule>`, also the job scheduler's id. */
  scheduleId: string;
}

/**
 * The BullMQ queue whose job schedulers fire schedule ticks. BullMQ makes one job per tick
 * across all replicas; the tick's run dedupe key makes a retried or stalled tick job harmless.
 */
@Injectable()
export class ScheduleQueue implements OnModuleDestroy {
  readonly queue: Queue<ScheduleJobData>;

  constructor(
    private readonly config: AppConfig,
    runQueue: RunQueue,
  ) {
    // A Queue (unlike a Worker) may share the run queue's non-blocking connection.
    this.queue = new Queue<ScheduleJobData>(SCHEDULE_QUEUE, { connection: runQueue.connection, prefix: config.queue.prefix });
    this.queue.on('error', () => undefined);
  }

  async upsert(id: string, pattern: string, tz: string): Promise<void> {
    await this.queue.upsertJobScheduler(
      id,
      { pattern, tz },
      {
        name: 'tick',
        data: { scheduleId: id },
        opts: {
          // A tick job that failed on an infrastructure error (the database failing over, AWS
          // throttling its preflight) is retried for minutes, not seconds; its dedupe key keeps it
          // to one run, and the periodic catch-up covers a tick whose attempts all failed.
          attempts: this.config.schedules.tickAttempts,
          backoff: { type: TICK_BACKOFF_TYPE, delay: this.config.schedules.tickBackoffMs },
          removeOnComplete: { count: 200 },
          removeOnFail: { count: 1000 },
        },
      },
    );
  }

  async remove(id: string): Promise<boolean> {
    return this.queue.removeJobScheduler(id);
  }

  /** Job scheduler id → next fire time (ms), for every scheduler in Redis. */
  async schedulers(): Promise<Map<string, number | null>> {
    const list = await this.queue.getJobSchedulers(0, -1, true);
    return new Map(list.map((s) => [s.key, typeof s.next === 'number' ? s.next : null]));
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close().catch(() => undefined);
  }
}
