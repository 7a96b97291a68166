import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { SCHEDULE_QUEUE } from '../../src/triggers/schedules/schedule-queue.adapter';
import { eventually, exited, Harness, REDIS_URL, ROOT } from '../support/runbookd';

/**
 * Schedules are BullMQ job schedulers; what each tick became is decided once in PostgreSQL.
 * These tests run real worker processes (dist/main.js) against real Redis and PostgreSQL.
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

describe('a schedule firing every second, three worker processes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api', seed: false, runbooksDir: path.join(ROOT, 'test/e2e/fixtures/schedule-fast') });
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('makes exactly one run per tick: 20 ticks → 20 runs, none skipped, none twice', async () => {
    await Promise.all([h.startWorker(), h.startWorker(), h.startWorker()]);
    // The window starts once all three consume: ticks from the next whole second on.
    const from = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const to = from + 20_000;
    await eventually(
      async () => {
        // Decided, and (when the decision is to run) its run accepted: the run id is recorded after the accept.
        const rows = await sql(
          h,
          `SELECT count(*)::int AS n FROM schedule_ticks WHERE tick_at >= $1 AND tick_at < $2 AND (decision = 'skipped' OR run_id IS NOT NULL)`,
          [new Date(from), new Date(to)],
        );
        return rows[0].n === 20 ? true : undefined;
      },
      40_000,
      '20 ticks to be decided and started',
    );

    const ticks = await sql(h, `SELECT tick_at, decision, run_id FROM schedule_ticks WHERE tick_at >= $1 AND tick_at < $2 ORDER BY tick_at`, [
      new Date(from),
      new Date(to),
    ]);
    expect(ticks.map((t) => new Date(t.tick_at).getTime())).toEqual(Array.from({ length: 20 }, (_, i) => from + i * 1000));
    expect(ticks.filter((t) => t.decision !== 'run' || !t.run_id)).toEqual([]);

    const runs = await sql(
      h,
      `SELECT id, dedupe_key, trigger FROM runs WHERE runbook_id = 'tick-every-second' AND (trigger->>'tickAt')::timestamptz >= $1 AND (trigger->>'tickAt')::timestamptz < $2`,
      [new Date(from), new Date(to)],
    );
    expect(runs).toHaveLength(20);
    expect(new Set(runs.map((r) => r.trigger.tickAt)).size).toBe(20);
    expect(runs.map((r) => r.dedupe_key).sort()).toEqual(
      ticks.map((t) => `schedule:tick-every-second:each-second:${new Date(t.tick_at).toISOString()}`).sort(),
    );
    expect(new Set(ticks.map((t) => t.run_id))).toEqual(new Set(runs.map((r) => r.id)));
    for (const r of runs) expect((await h.waitForRun(r.id)).state).toBe('succeeded');
    const run = (await h.request('GET', `/v1/runs/${runs[0].id}`)).body;
    expect(run.trigger).toMatchObject({ kind: 'schedule', actor: 'schedule:tick-every-second.each-second', scheduleId: 'tick-every-second.each-second' });
    expect(run.parameters).toEqual({ label: 'fast' });

    // A tick job that runs again (a retry after a crash between the tick's decision and its run)
    // names the same tick, so the dedupe key hands back the run that exists.
    const tick = ticks[5];
    await sql(h, 'UPDATE schedule_ticks SET run_id = NULL WHERE schedule_id = $1 AND tick_at = $2', ['tick-every-second.each-second', tick.tick_at]);
    const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: h.prefix });
    try {
      await queue.add(
        'tick',
        { scheduleId: 'tick-every-second.each-second' },
        { jobId: `retried-${new Date(tick.tick_at).getTime()}`, timestamp: new Date(tick.tick_at).getTime() },
      );
      await eventually(
        async () => {
          const [row] = await sql(h, 'SELECT run_id FROM schedule_ticks WHERE schedule_id = $1 AND tick_at = $2', [
            'tick-every-second.each-second',
            tick.tick_at,
          ]);
          return row.run_id ? row : undefined;
        },
        10_000,
        'the retried tick to find its run',
      );
    } finally {
      await queue.close();
      redis.disconnect();
    }
    const again = await sql(h, `SELECT id FROM runs WHERE trigger->>'tickAt' = $1`, [new Date(tick.tick_at).toISOString()]);
    expect(again).toEqual([{ id: tick.run_id }]);
    const audit = (await h.request('GET', `/v1/audit?runId=${tick.run_id}`)).body.items as any[];
    // The retried job, and any other tick of the schedule that saw the run-less tick meanwhile,
    // asked again: each got the existing run back.
    const dedupes = audit.filter((e) => e.kind === 'run.deduplicated').map((e) => e.data.dedupeKey);
    expect(dedupes.length).toBeGreaterThanOrEqual(1);
    expect(new Set(dedupes)).toEqual(new Set([`schedule:tick-every-second:each-second:${new Date(tick.tick_at).toISOString()}`]));
  }, 90_000);

  it('lists the schedule with its next fire time; pause and resume are for operators and audited', async () => {
    const list = await h.request('GET', '/v1/schedules', { key: h.keys.viewer });
    expect(list.status).toBe(200);
    const s = list.body.items.find((x: any) => x.id === 'tick-every-second.each-second');
    expect(s).toMatchObject({ runbookId: 'tick-every-second', cron: '* * * * * *', timezone: 'UTC', catchUpSeconds: 60, paused: false });
    expect(Date.parse(s.nextFireAt)).toBeGreaterThan(Date.now() - 2000);
    expect(s.recentTicks.length).toBeGreaterThan(0);

    expect((await h.request('POST', '/v1/schedules/tick-every-second.each-second/pause', { key: h.keys.viewer })).status).toBe(403);
    expect((await h.request('POST', '/v1/schedules/nope.nope/pause', { key: h.keys.operator })).status).toBe(404);

    const pausedAt = Date.now();
    const paused = await h.request('POST', '/v1/schedules/tick-every-second.each-second/pause', { key: h.keys.operator });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pausedBy: 'otto', nextFireAt: null });
    await sleep(3000);
    // A tick job already taken when the pause came may still be decided (as skipped: paused);
    // nothing runs after the pause, and no tick later than that one is decided at all.
    const during = await sql(h, 'SELECT tick_at, decision, reason FROM schedule_ticks WHERE tick_at > $1', [new Date(pausedAt)]);
    expect(during.filter((t) => t.decision === 'run')).toEqual([]);
    expect(during.filter((t) => new Date(t.tick_at).getTime() > pausedAt + 1500)).toEqual([]);

    const resumedAt = Date.now();
    const resumed = await h.request('POST', '/v1/schedules/tick-every-second.each-second/resume', { key: h.keys.operator });
    expect(resumed.body).toMatchObject({ paused: false, pausedBy: null });
    await eventually(
      async () => {
        const [{ n }] = await sql(h, `SELECT count(*)::int AS n FROM schedule_ticks WHERE tick_at > $1 AND decision = 'run'`, [new Date(resumedAt)]);
        return n >= 2 ? true : undefined;
      },
      10_000,
      'ticks after resume',
    );
    // Ticks that fell into the pause were not "missed": none was caught up or recorded skipped.
    const skipped = await sql(h, `SELECT tick_at, reason FROM schedule_ticks WHERE decision = 'skipped' AND reason NOT LIKE 'schedule paused%'`);
    expect(skipped).toEqual([]);
    const [{ n: caughtUp }] = await sql(h, `SELECT count(*)::int AS n FROM schedule_ticks WHERE tick_at > $1 AND tick_at < $2 AND decision = 'run'`, [
      new Date(pausedAt + 1500),
      new Date(resumedAt),
    ]);
    expect(caughtUp).toBe(0);

    const audit = (await h.request('GET', '/v1/audit?limit=1000')).body.items as any[];
    expect(audit.filter((e) => e.kind === 'schedule.paused').map((e) => [e.actor, e.data.scheduleId])).toEqual([['otto', 'tick-every-second.each-second']]);
    expect(audit.filter((e) => e.kind === 'schedule.resumed')).toHaveLength(1);
  }, 60_000);
});

describe('a tick missed while the only worker was down', () => {
  let h: Harness;
  let dir: string;
  let tickAt: number;

  beforeAll(async () => {
    // Both schedules fire once a minute at the same second, ~30 s from now: the worker is
    // killed before it and restarted after it, so exactly that tick is missed.
    tickAt = Math.ceil((Date.now() + 30_000) / 1000) * 1000;
    const second = new Date(tickAt).getUTCSeconds();
    dir = await mkdtemp(path.join(os.tmpdir(), 'runbookd-catchup-'));
    const runbook = (id: string, catchUp: string) => `id: ${id}
title: Once a minute, catch-up ${catchUp} (test fixture)
triggers:
  - schedule: { id: minutely, cron: "${second} * * * * *", catchUp: ${catchUp} }
steps:
  - { id: noop, uses: core.noop }
`;
    await writeFile(path.join(dir, 'tick-wide.yaml'), runbook('tick-wide', '1m'));
    await writeFile(path.join(dir, 'tick-narrow.yaml'), runbook('tick-narrow', '1s'));
    h = await Harness.start({ role: 'api', seed: false, runbooksDir: dir });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs the tick once on restart inside the catch-up window, and records it skipped outside it', async () => {
    // A scheduler left in Redis by a schedule since removed from the YAML goes at the next boot.
    const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const queue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix: h.prefix });
    await queue.upsertJobScheduler(
      'retired-runbook.nightly',
      { pattern: '0 2 * * *', tz: 'UTC' },
      { name: 'tick', data: { scheduleId: 'retired-runbook.nightly' } },
    );
    const first = await h.startWorker();
    try {
      expect((await queue.getJobSchedulers(0, -1)).map((s) => s.key).sort()).toEqual(['tick-narrow.minutely', 'tick-wide.minutely']);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    const removed = (await h.request('GET', '/v1/audit?limit=1000')).body.items.filter((e: any) => e.kind === 'schedule.removed');
    expect(removed.map((e: any) => e.data.scheduleId)).toEqual(['retired-runbook.nightly']);
    h.kill(first);
    await exited(first);
    if (Date.now() > tickAt - 500) throw new Error('the worker took too long to boot: the tick was not missed; rerun');
    await sleep(tickAt + 2500 - Date.now());
    await h.startWorker();

    const wide = await eventually(
      async () => (await sql(h, `SELECT * FROM schedule_ticks WHERE schedule_id = 'tick-wide.minutely'`)).find((t) => t.run_id),
      20_000,
      'the wide tick to run',
    );
    expect(new Date(wide.tick_at).getTime()).toBe(tickAt);
    expect(wide.reason).toBe('missed tick caught up on boot');
    expect((await h.waitForRun(wide.run_id)).state).toBe('succeeded');
    const wideRuns = await sql(h, `SELECT id, dedupe_key FROM runs WHERE runbook_id = 'tick-wide'`);
    expect(wideRuns).toEqual([{ id: wide.run_id, dedupe_key: `schedule:tick-wide:minutely:${new Date(tickAt).toISOString()}` }]);

    const narrow = await sql(h, `SELECT * FROM schedule_ticks WHERE schedule_id = 'tick-narrow.minutely'`);
    expect(narrow).toHaveLength(1);
    expect(narrow[0]).toMatchObject({ decision: 'skipped', run_id: null });
    expect(narrow[0].reason).toMatch(/older than the catch-up window \(1s\)/);
    expect(await sql(h, `SELECT id FROM runs WHERE runbook_id = 'tick-narrow'`)).toEqual([]);

    const view = (await h.request('GET', '/v1/schedules')).body.items.find((s: any) => s.id === 'tick-narrow.minutely');
    expect(view.recentTicks[0]).toMatchObject({ tickAt: new Date(tickAt).toISOString(), decision: 'skipped', runId: null });
    const audit = (await h.request('GET', '/v1/audit?limit=1000')).body.items as any[];
    expect(audit.filter((e) => e.kind === 'schedule.tick-skipped').map((e) => [e.data.scheduleId, e.data.tickAt])).toEqual([
      ['tick-narrow.minutely', new Date(tickAt).toISOString()],
    ]);
  }, 90_000);
});
