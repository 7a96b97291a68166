import { createHash, randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../../config/app.config';
import { RunQueue } from '../../engine/run-queue.adapter';
import { SchedulesService } from './schedules.service';

const INTERVAL_NAME = 'schedule-housekeeping';

/**
 * Keeps schedules whole while workers run, not only when one boots. Every
 * `RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS`, on each worker:
 * - heartbeat: this replica declares its schedules again (every replica: declarations are per replica);
 * - under a Redis lock (SET NX PX) shared by the replicas with the same runbook set: remove the
 *   schedulers no live replica declares, put back own schedulers Redis lost, and catch up missed
 *   ticks older than two intervals (a tick whose job failed all its attempts while the database
 *   failed over, a tick a replica without the schedule took and ignored).
 * The lock is per runbook set because catch-up needs the definitions: during a rolling deploy
 * each set is caught up by one of its own replicas. Everything it does is safe to run twice
 * (tick decisions are unique rows), so the lock saves work; it is not needed for correctness.
 */
@Injectable()
export class ScheduleHousekeepingService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ScheduleHousekeeping');
  private readonly owner = randomUUID();
  private stopping = false;
  private busy = false;

  constructor(
    private readonly schedules: SchedulesService,
    private readonly queue: RunQueue,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const timer = setInterval(
      () =>
        void this.round().catch((err) => {
          if (!this.stopping) this.logger.warn(`schedule housekeeping failed: ${(err as Error).message}`);
        }),
      this.config.schedules.housekeepingIntervalMs,
    );
    timer.unref();
    this.scheduler.addInterval(INTERVAL_NAME, timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.scheduler.doesExist('interval', INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
    await this.schedules.withdraw().catch((err) => this.logger.warn(`schedule declarations not withdrawn: ${(err as Error).message}`));
  }

  /** One round; returns whether this replica held the lock and did the shared part. */
  async round(): Promise<boolean> {
    if (this.stopping || this.busy) return false;
    this.busy = true;
    try {
      await this.schedules.heartbeat();
      const interval = this.config.schedules.housekeepingIntervalMs;
      const got = await this.queue.connection.set(this.lockKey(), this.owner, 'PX', Math.max(100, interval - 100), 'NX');
      if (got !== 'OK') return false;
      await this.schedules.prune();
      await this.schedules.catchUpAll(2 * interval);
      return true;
    } finally {
      this.busy = false;
    }
  }

  private lockKey(): string {
    const set = this.schedules
      .definitions()
      .map((d) => `${d.id} ${d.cron} ${d.timezone}`)
      .sort()
      .join('\n');
    return `${this.config.queue.prefix}:schedule-housekeeping:${createHash('sha256').update(set).digest('hex').slice(0, 16)}`;
  }
}
