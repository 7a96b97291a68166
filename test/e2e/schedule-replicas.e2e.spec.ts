import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { SCHEDULE_QUEUE } from '../../src/triggers/schedules/schedule-queue.adapter';
import { SANDBOX_ESTATE } from '../../scripts/sandbox/seed-estate';
import { eventually, exited, Harness, REDIS_URL } from '../support/runbookd';

/**
 * Schedules no deploy or outage can lose, with real worker processes, Redis and PostgreSQL:
 * - two replicas with different runbook sets (a rolling deploy) keep each other's schedulers;
 *   a scheduler goes only once no live replica declares it;
 * - a tick whose job failed on the database is caught up while the worker runs, not at its next boot;
 * - AWS failing transiently during a tick's preflight delays the run; it does not skip the tick.
 */
async function sql<T = any>(h: Harness, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: h.db.url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const scheduled = (id: string, extra = '', seconds = 2) => `id: ${id}
title: ${id} (test fixture)
triggers:
  - schedule: { id: every-2s, cron: "*/${seconds} * * * * *", timezone: UTC, catchUp: 1m }
${extra}steps:
  - { id: noop, uses: core.noop }
`;

/** In front of the recording proxy: answers 503 (as AWS does when it is unwell) while `failing`. */
class FlakyAws {
  failing = true;
  failed = 0;
  private server!: Server;
  url!: string;
  constructor(private readonly upstream: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (this.failing) {
        this.failed++;
        req.resume();
        res
          .writeHead(503, { 'content-type': 'text/xml' })
          .end('<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>try later</Message></Error></ErrorResponse>');
        return;
      }
      const up = new URL(this.upstream);
      const fwd = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      fwd.on('error', () => res.writeHead(502).end());
      req.pipe(fwd);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('schedules across replicas, outages and transient AWS errors', () => {
  let h: Harness;
  let dirA: string;
  let dirB: string;
  let dirC: string;
  let redis: IORedis;
  let queue: Queue;
  let flaky: FlakyAws;
  // Fast housekeeping (a replica is live for 1.5 s after its heartbeat; catch-up looks 1 s back),
  // a lock timeout short enough for a held row to fail a tick, and a tick that is tried once.
  const workerEnv = {
    RUNBOOKD_SCHEDULE_HOUSEKEEPING_INTERVAL_MS: '500',
    RUNBOOKD_DB_LOCK_TIMEOUT_MS: '300',
    RUNBOOKD_SCHEDULE_TICK_ATTEMPTS: '1',
  };
  const schedulers = async () => (await queue.getJobSchedulers(0, -1)).map((s) => s.key).sort();

  beforeAll(async () => {
    [dirA, dirB, dirC] = await Promise.all(['a', 'b', 'c'].map((x) => mkdtemp(path.join(os.tmpdir(), `runbookd-sched-${x}-`))));
    await writeFile(path.join(dirA, 'set-a.yaml'), scheduled('set-a'));
    await writeFile(path.join(dirB, 'set-b.yaml'), scheduled('set-b', '', 4));
    // Preflight reads AWS: the seeded instance (answers once AWS is well again) or one that does not exist.
    await writeFile(
      path.join(dirC, 'set-c.yaml'),
      scheduled('set-c', `preflight:\n  - { id: look, uses: rds.describe-failover-target, with: { dbInstanceIdentifier: ${SANDBOX_ESTATE.instance} } }\n`),
    );
    await writeFile(
      path.join(dirC, 'set-d.yaml'),
      scheduled('set-d', 'preflight:\n  - { id: look, uses: rds.describe-failover-target, with: { dbInstanceIdentifier: no-such-database } }\n'),
    );
    h = await Harness.start({ role: 'api', seed: true, runbooksDir: dirB });
    redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
    queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: h.prefix });
    flaky = await new FlakyAws(h.proxy.endpoint).start();
  }, 90_000);
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await h?.close();
    await flaky?.stop();
    await Promise.all([dirA, dirB, dirC].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })));
  }, 60_000);

  it("a replica booting with another runbook set keeps the first one's schedules; they go once no live replica declares them", async () => {
    const a = await h.startWorker({ ...workerEnv, RUNBOOKD_RUNBOOKS_DIR: dirA });
    expect(await schedulers()).toEqual(['set-a.every-2s']);
    await h.startWorker({ ...workerEnv, RUNBOOKD_RUNBOOKS_DIR: dirB });
    const bootedAt = Date.now();
    expect(await schedulers()).toEqual(['set-a.every-2s', 'set-b.every-2s']);
    // Several housekeeping rounds later, A's schedule still fires and runs.
    const ran = await eventually(
      async () =>
        (
          await sql(h, `SELECT run_id FROM schedule_ticks WHERE schedule_id = 'set-a.every-2s' AND tick_at > $1 AND run_id IS NOT NULL`, [
            new Date(bootedAt + 1500),
          ])
        )[0],
      15_000,
      'a tick of set-a after B booted',
    );
    expect((await h.waitForRun(ran.run_id)).state).toBe('succeeded');
    expect(await schedulers()).toEqual(['set-a.every-2s', 'set-b.every-2s']);

    // A dies without a word: its declaration ages out, and B removes what nobody declares.
    h.kill(a);
    await exited(a);
    await eventually(async () => ((await schedulers()).length === 1 ? true : undefined), 15_000, 'set-a to be removed');
    expect(await schedulers()).toEqual(['set-b.every-2s']);
    const removed = (await h.request('GET', '/v1/audit?limit=1000')).body.items.filter((e: any) => e.kind === 'schedule.removed');
    expect(removed.map((e: any) => [e.data.scheduleId, e.data.reason])).toEqual([['set-a.every-2s', 'declared by no live replica']]);
  }, 90_000);

  it('a tick whose job failed on the database is caught up while the worker runs, without a restart', async () => {
    // Another session holds the schedule's row: every tick job meanwhile fails (lock timeout) and is not retried.
    const holder = new Client({ connectionString: h.db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT * FROM schedules WHERE id = 'set-b.every-2s' FOR UPDATE`);
    // set-b fires every 4 s: the outage covers one tick, and ends 1.2 s after it, so the
    // periodic catch-up (looking 1 s back, every 0.5 s) meets it before the next tick job does.
    const missedTick = Math.ceil((Date.now() + 300) / 4000) * 4000;
    await sleep(missedTick + 1200 - Date.now());
    await holder.query('ROLLBACK');
    await holder.end();
    const caught = await eventually(
      async () =>
        (
          await sql(h, `SELECT * FROM schedule_ticks WHERE schedule_id = 'set-b.every-2s' AND tick_at = $1 AND decision = 'run' AND run_id IS NOT NULL`, [
            new Date(missedTick),
          ])
        )[0],
      15_000,
      'the tick from the outage to be caught up and run',
    );
    expect(caught.reason).toBe('missed tick caught up by the periodic catch-up');
    expect((await h.waitForRun(caught.run_id)).state).toBe('succeeded');
  }, 60_000);

  it("a transient AWS error in a tick's preflight delays its run instead of skipping it; a real refusal still skips", async () => {
    await h.startWorker({
      ...workerEnv,
      RUNBOOKD_RUNBOOKS_DIR: dirC,
      AWS_ENDPOINT_URL: flaky.url,
      RUNBOOKD_AWS_MAX_ATTEMPTS: '1',
      RUNBOOKD_SCHEDULE_TICK_ATTEMPTS: '4',
      RUNBOOKD_SCHEDULE_TICK_BACKOFF_MS: '500',
    });
    await eventually(() => (flaky.failed >= 3 ? true : undefined), 15_000, 'preflight calls to meet the failing AWS');
    const failingUntil = Date.now();
    flaky.failing = false;
    const started = await eventually(
      async () =>
        (
          await sql(h, `SELECT * FROM schedule_ticks WHERE schedule_id = 'set-c.every-2s' AND tick_at < $1 AND decision = 'run' AND run_id IS NOT NULL`, [
            new Date(failingUntil),
          ])
        )[0],
      20_000,
      'a tick decided while AWS failed to get its run',
    );
    expect((await h.waitForRun(started.run_id)).state).toBe('succeeded');
    const skippedC = await sql(h, `SELECT tick_at, reason FROM schedule_ticks WHERE schedule_id = 'set-c.every-2s' AND decision = 'skipped'`);
    expect(skippedC.filter((t) => /AWS_|PREFLIGHT/.test(t.reason ?? ''))).toEqual([]);

    const refused = await eventually(
      async () =>
        (
          await sql(h, `SELECT * FROM schedule_ticks WHERE schedule_id = 'set-d.every-2s' AND decision = 'skipped' AND tick_at > $1`, [new Date(failingUntil)])
        )[0],
      15_000,
      'a refused tick of set-d',
    );
    expect(refused.reason).toMatch(/^run refused: PREFLIGHT_FAILED: .*no-such-database/);
  }, 90_000);
});
