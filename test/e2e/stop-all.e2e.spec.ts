import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { runCli } from '../support/cli';
import { eventually, Harness, REDIS_URL, REGION, ROOT } from '../support/runbookd';

/**
 * The stop button, against two real worker processes and moto behind the recording proxy: 20
 * runs in flight (10 asleep in a wait, 10 inside the read right before a mutating step), then
 * stop-all. What went to AWS afterwards is counted on the wire, and what was left behind is
 * looked up at moto by name.
 */

const TERMINAL = ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'];
const READ_ONLY = /^(Describe|List|Get)/;
const REASON = 'eu-west-1 RDS incident: hands off';

async function sql<T = any>(h: Harness, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: h.db.url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('stop-all and resume-all (two worker processes, moto behind a recording proxy)', () => {
  let h: Harness;
  let queue: Queue;
  let rds: RDSClient;

  const start = (lane: string, seconds: number) =>
    h.request('POST', '/v1/runbooks/stop-drill/runs', { key: h.keys.operator, body: { parameters: { lane, seconds } } });

  beforeAll(async () => {
    h = await Harness.start({ role: 'api', runbooksDir: path.join(ROOT, 'test/e2e/fixtures/stop-all') });
    queue = new Queue('runs', { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port) }, prefix: h.prefix });
    // Straight to moto, not through the proxy: the test's own looks are not the service's calls.
    rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await Promise.all([h.startWorker({ RUNBOOKD_WORKER_CONCURRENCY: '12' }), h.startWorker({ RUNBOOKD_WORKER_CONCURRENCY: '12' })]);
  }, 120_000);

  afterAll(async () => {
    rds?.destroy();
    await queue?.close().catch(() => undefined);
    await h?.close();
  }, 60_000);

  it('stops 20 runs in flight before any further mutating call, runs their cleanup, refuses new runs and ticks with 423 STOPPED, and accepts runs again after resume-all', async () => {
    // Only admins press the button, and a reason is required.
    expect((await h.request('POST', '/v1/stop-all', { key: h.keys.operator, body: { reason: REASON } })).status).toBe(403);
    expect((await h.request('POST', '/v1/stop-all', { key: h.keys.viewer, body: { reason: REASON } })).status).toBe(403);
    const noReason = await h.request('POST', '/v1/stop-all', { body: {} });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body.error)).toContain('reason');
    expect((await h.request('GET', '/v1/stop-all', { key: h.keys.viewer })).body.stopped).toBe(false);

    // The reads right before the second mutating step are held at the proxy, so those runs are
    // mid-read ("about to mutate") when stop-all arrives, whatever the machine's speed.
    h.proxy.holdResponses('DescribeDBSnapshots', 15_000);
    const sleeping: string[] = [];
    const mutating: string[] = [];
    for (let i = 0; i < 10; i++) {
      const a = await start(`sleep-${i}`, 120);
      expect(a.status).toBe(202);
      sleeping.push(a.body.id);
      const b = await start(`mutate-${i}`, 0);
      expect(b.status).toBe(202);
      mutating.push(b.body.id);
    }
    const ours = [...sleeping, ...mutating];
    await eventually(
      async () => {
        const rows = await sql(h, `SELECT step_id, state, run_id FROM step_results WHERE run_id = ANY($1)`, [ours]);
        const asleep = rows.filter((r) => r.step_id === 'pause' && r.state === 'waiting' && sleeping.includes(r.run_id)).length;
        const created = rows.filter((r) => r.step_id === 'first' && r.state === 'succeeded').length;
        const looking = h.proxy.calls().filter((c) => c.action === 'DescribeDBSnapshots').length;
        return asleep === 10 && created === 20 && looking >= 10 ? true : undefined;
      },
      60_000,
      '10 runs asleep, 10 inside the read before their second snapshot',
    );

    const stop = await h.request('POST', '/v1/stop-all', { body: { reason: REASON } });
    const stoppedAtMs = Date.now();
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ stopped: true, stoppedBy: 'ada', reason: REASON });
    // Every one of ours; a run the harness's schedule ticked in meanwhile is active too, and stops with them.
    expect(stop.body.runsStopping).toEqual(expect.arrayContaining(ours));

    // Pressed twice: nothing changes, and the answer names who stopped it.
    const again = await h.request('POST', '/v1/stop-all', { body: { reason: 'again' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('STOP_SWITCH_UNCHANGED');
    expect(again.body.error.message).toContain('ada');

    // New runs: 423, naming who and why, and nothing is recorded.
    const refused = await start('late', 0);
    expect(refused.status).toBe(423);
    expect(refused.body.error.code).toBe('STOPPED');
    expect(refused.body.error.message).toContain('ada');
    expect(refused.body.error.message).toContain(REASON);
    expect(refused.body.error.details).toMatchObject({ stoppedBy: 'ada', reason: REASON });
    const state = await h.request('GET', '/v1/stop-all', { key: h.keys.viewer });
    expect(state.body).toMatchObject({ stopped: true, stoppedBy: 'ada', reason: REASON });

    // Every run ends cancelled with STOPPED, its cleanup done; the sleepers long before their 120 s.
    const ended = await Promise.all(ours.map((id) => h.waitForRun(id, TERMINAL, 90_000)));
    for (const run of ended) {
      expect({ id: run.id, state: run.state, code: run.error?.code }).toEqual({ id: run.id, state: 'cancelled', code: 'STOPPED' });
      expect(run.error.message).toContain('ada');
      expect(run.error.message).toContain(REASON);
      const steps = new Map<string, any>(run.steps.map((s: any) => [s.id, s]));
      expect(steps.get('first').state).toBe('succeeded');
      expect(steps.get('second')?.state ?? 'never').not.toBe('succeeded');
      expect(steps.get('delete-a')).toMatchObject({ phase: 'cleanup', state: 'succeeded' });
      expect(steps.get('delete-b').state).toBe('skipped');
    }
    for (const run of ended.filter((r) => sleeping.includes(r.id))) {
      expect(Date.parse(run.endedAt) - stoppedAtMs).toBeLessThan(60_000);
    }

    // On the wire: after stop-all answered, the only changes sent were the cleanups' deletes.
    const after = h.proxy.calls().filter((c) => c.at >= stoppedAtMs && !READ_ONLY.test(c.action));
    expect([...new Set(after.map((c) => c.action))]).toEqual(['DeleteDBSnapshot']);
    expect(after).toHaveLength(20);
    expect(h.proxy.calls().filter((c) => c.action === 'CreateDBSnapshot')).toHaveLength(20);
    // And in the audit log: no run recorded the intent of a CreateDBSnapshot after the stop.
    const intents = await sql(
      h,
      `SELECT data->>'operation' AS op FROM audit_events WHERE kind = 'aws.request' AND run_id = ANY($1) AND data->>'operation' = 'CreateDBSnapshot'`,
      [ours],
    );
    expect(intents).toHaveLength(20);

    // Nothing left behind: no snapshot named after any of these runs exists at moto.
    const snaps = (await rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))).DBSnapshots ?? [];
    expect(snaps.map((s) => s.DBSnapshotIdentifier).filter((n) => ours.some((id) => n?.includes(id)))).toEqual([]);

    // A schedule's ticks while stopped are refused and recorded, not lost silently.
    await eventually(
      async () => {
        const view = await h.request('GET', '/v1/schedules/tick-every-second.each-second', { key: h.keys.viewer });
        return view.body.recentTicks.some((t: any) => t.decision === 'refused' && t.reason.includes(REASON)) ? true : undefined;
      },
      30_000,
      'a refused tick',
    );
    const refusedTicks = await sql(h, `SELECT tick_at, run_id FROM schedule_ticks WHERE decision = 'refused'`);
    expect(refusedTicks.every((t) => t.run_id === null)).toBe(true);
    const runsWhileStopped = await sql(h, `SELECT id FROM runs WHERE created_at > to_timestamp($1 / 1000.0) AND runbook_id <> 'stop-drill'`, [
      stoppedAtMs + 2000,
    ]);
    expect(runsWhileStopped).toEqual([]);

    // Both presses are audited, by who pressed.
    const audit = await h.request('GET', '/v1/audit?kind=governance.&limit=50');
    const stopRecord = audit.body.items.find((e: any) => e.kind === 'governance.stopped-all');
    expect(stopRecord).toMatchObject({ actor: 'ada', data: { reason: REASON, runsStopping: 20 } });
    const tickAudit = await h.request('GET', '/v1/audit?kind=schedule.tick-refused&limit=5');
    expect(tickAudit.body.items.length).toBeGreaterThan(0);

    // resume-all: operators cannot, admins can; then runs are accepted and go through.
    expect((await h.request('POST', '/v1/resume-all', { key: h.keys.operator })).status).toBe(403);
    const resumed = await h.request('POST', '/v1/resume-all', { body: { reason: 'incident over' } });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ stopped: false, resumedBy: 'ada' });
    expect((await h.request('POST', '/v1/resume-all')).status).toBe(409);
    const resumeRecord = (await h.request('GET', '/v1/audit?kind=governance.resumed-all')).body.items[0];
    expect(resumeRecord).toMatchObject({ actor: 'ada', data: { reason: 'incident over', stopReason: REASON } });

    h.proxy.holdResponses('DescribeDBSnapshots', 0);
    const next = await start('after', 0);
    expect(next.status).toBe(202);
    const done = await h.waitForRun(next.body.id, TERMINAL, 60_000);
    expect(done.state).toBe('succeeded');
    // The stopped runs stay stopped: resume-all lifts the switch, it does not restart them.
    for (const id of ours) expect((await h.request('GET', `/v1/runs/${id}`)).body.state).toBe('cancelled');
  }, 300_000);

  it('works from the CLI: stop-all needs --reason (exit 64) and an admin key (exit 77); stop-state and resume-all', async () => {
    const env = { HOME: mkdtempSync(path.join(os.tmpdir(), 'runbookd-stop-cli-')), RUNBOOKD_URL: h.baseUrl, RUNBOOKD_API_KEY: h.keys.admin };
    const bare = await runCli(['stop-all'], env);
    expect(bare.code).toBe(64);
    expect(bare.stderr).toContain('--reason');
    const operator = await runCli(['stop-all', '--reason', 'drill'], { ...env, RUNBOOKD_API_KEY: h.keys.operator });
    expect(operator.code).toBe(77);
    expect((await h.request('GET', '/v1/stop-all')).body.stopped).toBe(false);

    const stop = await runCli(['stop-all', '--reason', 'cli drill: hands off'], env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain('everything stopped by ada');
    const st = await runCli(['stop-state'], { ...env, RUNBOOKD_API_KEY: h.keys.viewer });
    expect(st.stdout).toContain('STOPPED by ada');
    expect(st.stdout).toContain('cli drill: hands off');
    const run = await runCli(['run', 'stop-drill', '-p', 'lane=cli'], { ...env, RUNBOOKD_API_KEY: h.keys.operator });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('STOPPED');
    expect(run.stderr).toContain('cli drill: hands off');

    const resume = await runCli(['resume-all', '--reason', 'drill over'], env);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain('resumed by ada');
    expect((await h.request('GET', '/v1/stop-all')).body.stopped).toBe(false);
  }, 120_000);
});
