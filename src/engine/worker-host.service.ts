import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Job, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { EngineError } from './engine.error';
import { ExecutorService } from './executor.service';
import { RUN_QUEUE, RunJobData } from './run-queue.adapter';

/**
 * Hosts the BullMQ worker. A step that waits moves its job to `delayed` and releases the slot;
 * a worker that dies leaves a stalled job that another worker picks up after the lock expires,
 * and the executor resumes it at the first unfinished step.
 */
@Injectable()
export class WorkerHostService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');
  private worker?: Worker<RunJobData>;
  private connection?: IORedis;

  constructor(
    private readonly config: AppConfig,
    private readonly executor: ExecutorService,
  ) {}

  onApplicationBootstrap(): void {
    // Workers block on Redis: BullMQ requires maxRetriesPerRequest null on their connection.
    this.connection = new IORedis(this.config.queue.redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', (err) => this.logger.warn(`redis: ${err.message}`));
    this.worker = new Worker<RunJobData>(RUN_QUEUE, (job, token) => this.process(job, token), {
      connection: this.connection,
      prefix: this.config.queue.prefix,
      concurrency: this.config.worker.concurrency,
      lockDuration: this.config.worker.lockMs,
      stalledInterval: this.config.worker.stalledIntervalMs,
      // Resuming is safe (checkpointed, idempotent steps), so a run survives several dead workers.
      maxStalledCount: 10,
    });
    this.worker.on('failed', (job, err) => {
      if (err instanceof DelayedError) return;
      // A newer executor holds the run: this one stopped without recording, which is the fence working.
      if (err instanceof EngineError && err.code === 'LEASE_LOST') this.logger.warn(`job ${job?.id}: ${err.message}`);
      else this.logger.error(`job ${job?.id} failed: ${err.message}`);
    });
    this.worker.on('error', (err) => this.logger.error(`worker: ${err.message}`));
    this.logger.log(`worker started (concurrency ${this.config.worker.concurrency}, lock ${this.config.worker.lockMs} ms)`);
  }

  private async process(job: Job<RunJobData>, token?: string): Promise<void> {
    const result = await this.executor.advance(job.data.runId);
    if (result.kind === 'wait') {
      await job.moveToDelayed(Date.now() + result.afterMs, token);
      // A cancel that arrived after the executor's last check found the job still active and could
      // not wake it; it set its flag first, so looking now closes that gap.
      if (await this.executor.cancelRequested(job.data.runId)) await job.promote().catch(() => undefined);
      throw new DelayedError();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // close() lets active jobs reach their next checkpoint; a kill instead costs a resume.
    await this.worker?.close().catch(() => undefined);
    this.connection?.disconnect();
  }
}
