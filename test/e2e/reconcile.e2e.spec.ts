import type { ChildProcess } from 'node:child_process';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { seedSandbox } from '../../scripts/sandbox/seed-estate';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app.config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../../src/config/app.config';
import { ReconcilerService } from '../../src/engine/reconciler.service';
import { RUN_QUEUE, RunQueue } from '../../src/engine/run-queue.adapter';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { freePort } from '../support/moto';
import { eventually, exited, Harness, REDIS_URL, REGION } from '../support/runbookd';

/**
 * Postgres is the truth and Redis only the queue: an accepted run whose job is gone (Redis lost
 * it, or the API could not reach Redis when it accepted the run) is queued again by a worker's
 * reconciler and runs to the end.
 */

const logOf = (h: Harness, child: ChildProcess) => (h.workerLogs.get(child) ?? []).join('');

describe('reconciler re-queues accepted runs that have no job', () => {
  let h: Harness;
  let redis: IORedis;
  let queue: Queue;

  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
    queue = new Queue(RUN_QUEUE, { connection: redis, prefix: h.prefix });
  }, 60_000);
  afterAll(async () => {
    await queue?.close().catch(() => undefined);
    redis?.disconnect();
    await h?.close();
  }, 60_000);

  beforeEach(async () => {
    await h.moto.reset();
    await seedSandbox({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    h.proxy.clear();
  });
  afterEach(async () => {
    for (const w of h.workers) if (w.exitCode === null && w.signalCode === null) h.kill(w);
    await Promise.all(h.workers.map(exited));
  });

  it('a run whose BullMQ job was deleted is queued again and succeeds once a worker runs', async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'reconcile e2e: lost job' },
    });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;

    // No worker exists yet, so the job is still waiting: lose it as a Redis failover would.
    const job = await queue.getJob(runId);
    expect(job).toBeDefined();
    await job!.remove();
    expect(await queue.getJob(runId)).toBeUndefined();
    expect((await h.request('GET', `/v1/runs/${runId}`)).body.state).toBe('queued');

    const w = await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 45_000);
    expect(run.state).toBe('succeeded');
    expect(logOf(h, w)).toContain(`run ${runId} (queued) had no job; queued it again`);
    // The run ends in Postgres a moment before its job is marked completed in Redis.
    await eventually(async () => ((await (await queue.getJob(runId))?.getState()) === 'completed' ? true : undefined), 10_000, 'the re-queued job to complete');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const audit = (await h.request('GET', `/v1/audit?runId=${runId}`)).body.items as any[];
    expect(audit.filter((e) => e.kind === 'run.accepted')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'run.started')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
  }, 60_000);

  it('a run that ends between the reconciler listing it and looking at its job is not queued again', async () => {
    const w = await h.startWorker();
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'reconcile e2e: ended while listed' },
    });
    const runId = res.body.id as string;
    expect((await h.waitForRun(runId, undefined, 45_000)).state).toBe('succeeded');
    await eventually(async () => ((await (await queue.getJob(runId))?.getState()) === 'completed' ? true : undefined), 10_000, 'the job to complete');
    h.kill(w);
    await exited(w);

    // The listing saw the run still running; by the time its job is looked at, job and run have ended.
    const runs = h.app.get(RunsRepository);
    const ended = (await runs.get(runId))!;
    const listed = jest.spyOn(runs, 'listUnfinished').mockResolvedValueOnce([{ ...ended, state: 'running', updatedAt: new Date(0) }]);
    const config = h.app.get(AppConfig);
    await redis.del(`${config.queue.prefix}:reconciler-lock`);
    const reconciler = new ReconcilerService(runs, h.app.get(RunQueue), config, new SchedulerRegistry());
    try {
      expect(await reconciler.reconcile()).toEqual([]);
      expect(listed).toHaveBeenCalled();
    } finally {
      listed.mockRestore();
    }
    expect(await (await queue.getJob(runId))?.getState()).toBe('completed');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
  }, 60_000);

  describe('with a second API process that cannot reach Redis', () => {
    let offline: NestFastifyApplication;
    let offlineUrl: string;

    beforeAll(async () => {
      // Same database and queue prefix as the harness, but Redis at a port nobody listens on.
      const deadRedis = `redis://127.0.0.1:${await freePort()}`;
      const config = loadConfig({ ...h.env, REDIS_URL: deadRedis, RUNBOOKD_ROLE: 'api', RUNBOOKD_LOG_LEVEL: 'error' });
      offline = await createApp(config);
      await offline.listen(0, '127.0.0.1');
      offlineUrl = await offline.getUrl();
    }, 60_000);
    afterAll(async () => offline?.close().catch(() => undefined), 30_000);

    it('accepts the run (202) without Redis, and a worker reconciles it to success', async () => {
      const res = await fetch(`${offlineUrl}/v1/runbooks/failover-test/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'reconcile e2e: redis away' }),
        // The API must answer while Redis is away, not wait for it.
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(202);
      const runId = ((await res.json()) as { id: string }).id;
      expect(await queue.getJob(runId)).toBeUndefined();
      expect((await h.request('GET', `/v1/runs/${runId}`)).body.state).toBe('queued');

      const w = await h.startWorker();
      const run = await h.waitForRun(runId, undefined, 45_000);
      expect(run.state).toBe('succeeded');
      expect(logOf(h, w)).toContain(`run ${runId} (queued) had no job; queued it again`);
      expect(h.proxy.count('FailoverDBCluster')).toBe(1);
      const detail = (await h.request('GET', `/v1/runs/${runId}`)).body;
      expect(detail.steps.find((s: any) => s.id === 'verify').output.writer).toBe('orders-aurora-2');
    }, 60_000);
  });
});
