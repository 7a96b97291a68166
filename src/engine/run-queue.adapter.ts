import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import IORedis from 'ioredis';
import { AppConfig } from '../config/app.config';

export const RUN_QUEUE = 'runs';
export interface RunJobData {
  runId: string;
}
/** How long an enqueue waits for a (re)connecting Redis before giving the run to the reconciler. */
const READY_WAIT_MS = 1_000;

export type RunJobState = 'missing' | 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'unknown';

/**
 * The BullMQ queue of runs. Redis is only a coordinator: Postgres holds the truth, and the
 * reconciler re-enqueues any accepted run whose job was lost, so a failed `enqueue` after the
 * run is recorded is logged, not fatal.
 */
@Injectable()
export class RunQueue implements OnModuleDestroy {
  private readonly logger = new Logger('RunQueue');
  readonly connection: IORedis;
  readonly queue: Queue<RunJobData>;

  constructor(config: AppConfig) {
    // Fail fast instead of queueing commands while Redis is away: the API must answer.
    this.connection = new IORedis(config.queue.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
    this.connection.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    this.queue = new Queue<RunJobData>(RUN_QUEUE, { connection: this.connection, prefix: config.queue.prefix });
    // Without a listener BullMQ prints every connection error to stderr itself.
    this.queue.on('error', (err) => this.logger.warn(`queue: ${err.message}`));
  }

  async enqueue(runId: string): Promise<void> {
    await this.whenReady();
    await this.queue.add(
      'run',
      { runId },
      {
        jobId: runId,
        // Infrastructure failures (database away) are retried; step failures never reach BullMQ.
        attempts: 5,
        backoff: { type: 'exponential', delay: 5000 },
        removeOnComplete: { age: 24 * 3600, count: 5000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
  }

  async jobState(runId: string): Promise<RunJobState> {
    const job = await this.queue.getJob(runId);
    if (!job) return 'missing';
    return await job.getState();
  }

  async job(runId: string): Promise<Job<RunJobData> | undefined> {
    return this.queue.getJob(runId);
  }

  /** Makes a waiting run look again now (used by cancel, so it does not sit out its delay). */
  async wake(runId: string): Promise<void> {
    await this.whenReady();
    const job = await this.queue.getJob(runId);
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }

  /**
   * BullMQ waits for its connection to become ready however long that takes (enableOfflineQueue
   * does not apply to that wait), so with Redis away a call would hang the request; fail instead.
   */
  private async whenReady(): Promise<void> {
    if (this.connection.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connection.off('ready', onReady);
        reject(new Error(`redis is not connected (${this.connection.status})`));
      }, READY_WAIT_MS);
      timer.unref();
      this.connection.once('ready', onReady);
    });
  }

  async jobCounts(): Promise<Record<string, number>> {
    await this.whenReady();
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
  }

  async ping(): Promise<boolean> {
    return (await this.connection.ping()) === 'PONG';
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}
