import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { Queue } from 'bullmq';
import { eventually, Harness, REDIS_URL, REGION, ROOT } from '../support/runbookd';

/**
 * The engine's guards seen from outside: dedupe, the concurrency lock, dry-run, guard alarms,
 * cancel, parameter validation and the run timeout. Runs against moto through the recording
 * proxy, so "no mutating call went out" is counted on the wire, not taken on trust.
 */

const FIXTURES = path.join(__dirname, 'fixtures', 'engine');
const GUARD_ALARM = 'orders-aurora-replica-lag-high';
const CLUSTER = 'orders-aurora';
/** RDS (and CloudWatch) read verbs; any other action changes something. */
const READ_ONLY = /^(Describe|List)/;
const TERMINAL = ['succeeded', 'failed', 'aborted', 'cancelled'];

/** The real failover-test runbook plus this suite's fixtures, as one runbooks folder. */
function assembleRunbooksDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-engine-guards-'));
  copyFileSync(path.join(ROOT, 'runbooks', 'failover-test.yaml'), path.join(dir, 'failover-test.yaml'));
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.yaml'))) copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  return dir;
}

describe('engine guards over HTTP (all-in-one process, moto behind a recording proxy)', () => {
  let h: Harness;
  let runbooksDir: string;
  let queue: Queue;
  let cloudwatch: CloudWatchClient;

  const setAlarm = (state: 'OK' | 'ALARM') =>
    cloudwatch.send(new SetAlarmStateCommand({ AlarmName: GUARD_ALARM, StateValue: state, StateReason: `set by engine-guards test (${state})` }));

  const start = (runbook: string, body: Record<string, unknown>, opts: { key?: string; headers?: Record<string, string> } = {}) =>
    h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: opts.key ?? h.keys.operator, body, headers: opts.headers });

  const jobTotal = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);

  const allRuns = async (runbook?: string): Promise<any[]> => {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const q: URLSearchParams = new URLSearchParams({ limit: '200', ...(runbook ? { runbook } : {}), ...(cursor ? { cursor } : {}) });
      const res: { status: number; body: any } = await h.request('GET', `/v1/runs?${q.toString()}`);
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  };

  beforeAll(async () => {
    runbooksDir = assembleRunbooksDir();
    h = await Harness.start({ role: 'all', runbooksDir });
    queue = new Queue('runs', { connection: { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port) }, prefix: h.prefix });
    cloudwatch = new CloudWatchClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });

  afterAll(async () => {
    cloudwatch?.destroy();
    await queue?.close().catch(() => undefined);
    await h?.close();
    if (runbooksDir) rmSync(runbooksDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    // Each test leaves the estate as it found it: guard alarm quiet, nothing held, no run in flight.
    h.proxy.holdResponses('FailoverDBCluster', 0);
    await setAlarm('OK');
    await eventually(async () => ((await allRuns()).every((r) => TERMINAL.includes(r.state)) ? true : undefined), 45_000, 'every run to end');
  });

  it('refuses bad parameters with 400 naming each bad field, and records and queues nothing', async () => {
    const runsBefore = (await allRuns()).length;
    const jobsBefore = await jobTotal();

    const res = await start('failover-test', { parameters: { clusterIdentifer: CLUSTER, maxSwitchSeconds: 'fast' } });

    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('PARAMETERS_INVALID');
    const fields: string[] = res.body.error.details.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['clusterIdentifer', 'maxSwitchSeconds']));
    const typo = res.body.error.details.errors.find((e: { field: string }) => e.field === 'clusterIdentifer');
    expect(typo.message).toMatch(/unknown/);

    // Give a wrongly accepted run time to show up in either store before looking.
    await new Promise((r) => setTimeout(r, 500));
    expect((await allRuns()).length).toBe(runsBefore);
    expect(await jobTotal()).toBe(jobsBefore);
    expect(h.proxy.count('FailoverDBCluster')).toBe(0);
  });

  it('turns a repeated Idempotency-Key into the same run, and refuses the key with other parameters', async () => {
    const key = `drill-${Date.now()}`;
    const reason = `idempotency check ${key}`;
    const body = { parameters: { clusterIdentifier: CLUSTER }, dryRun: true, reason };

    const first = await start('failover-test', body, { headers: { 'Idempotency-Key': key } });
    expect(first.status).toBe(202);
    expect(first.body.deduplicated).toBe(false);

    const again = await start('failover-test', body, { headers: { 'Idempotency-Key': key } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.deduplicated).toBe(true);

    await h.waitForRun(first.body.id);
    const mine = (await allRuns('failover-test')).filter((r) => r.reason === reason);
    expect(mine.map((r) => r.id)).toEqual([first.body.id]);

    const reused = await start(
      'failover-test',
      { ...body, parameters: { clusterIdentifier: CLUSTER, maxSwitchSeconds: 30 } },
      { headers: { 'Idempotency-Key': key } },
    );
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(reused.body.error.details.runId).toBe(first.body.id);
    expect((await allRuns('failover-test')).filter((r) => r.reason === reason)).toHaveLength(1);

    // The audit says a repeat arrived, under the same run.
    const audit = await h.request('GET', `/v1/audit?runId=${first.body.id}`);
    expect(audit.body.items.map((e: any) => e.kind)).toContain('run.deduplicated');
  });

  it('refuses a second failover of the same cluster while one is active, naming the holder; accepts one after it ends', async () => {
    // The first run's FailoverDBCluster answer is held, so the run is mid-step for 5 s whatever the machine's speed.
    h.proxy.holdResponses('FailoverDBCluster', 5000);
    const failoversBefore = h.proxy.count('FailoverDBCluster');
    const first = await start('failover-test', { parameters: { clusterIdentifier: CLUSTER } });
    expect(first.status).toBe(202);
    await eventually(() => (h.proxy.count('FailoverDBCluster') > failoversBefore ? true : undefined), 20_000, 'the first failover call');

    const second = await start('failover-test', { parameters: { clusterIdentifier: CLUSTER } });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('CONCURRENCY_CONFLICT');
    expect(second.body.error.details.holder.runId).toBe(first.body.id);
    expect(second.body.error.message).toContain(first.body.id);

    // A different subject is not blocked by the lock.
    const other = await start('failover-test', { parameters: { dbInstanceIdentifier: 'billing-postgres' }, dryRun: true });
    expect(other.status).toBe(202);

    h.proxy.holdResponses('FailoverDBCluster', 0);
    const ended = await h.waitForRun(first.body.id);
    expect(ended.state).toBe('succeeded');
    await h.waitForRun(other.body.id);

    const third = await start('failover-test', { parameters: { clusterIdentifier: CLUSTER } });
    expect(third.status).toBe(202);
    expect(third.body.id).not.toBe(first.body.id);
    expect((await h.waitForRun(third.body.id)).state).toBe('succeeded');
  });

  it('dry-run calls nothing that changes state, plans the failover and skips what depends on it', async () => {
    h.proxy.clear();
    const res = await start('failover-test', { parameters: { clusterIdentifier: CLUSTER }, dryRun: true });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(run.dryRun).toBe(true);

    const calls = h.proxy.calls();
    // The precheck did read the cluster, so the proxy saw this run's traffic.
    expect(calls.some((c) => c.action === 'DescribeDBClusters')).toBe(true);
    expect(calls.map((c) => c.action).filter((a) => !READ_ONLY.test(a))).toEqual([]);

    const state = (id: string) => run.steps.find((s: any) => s.id === id)?.state;
    expect(state('precheck')).toBe('succeeded');
    expect(state('failover')).toBe('planned');
    for (const later of ['switch', 'verify', 'failback', 'failback-switch']) expect(state(later)).toBe('skipped');

    const report = (await h.request('GET', `/v1/runs/${run.id}/report`)).body;
    expect(report.run.dryRun).toBe(true);
    const planned = report.plannedCalls.filter((c: any) => c.operation === 'FailoverDBCluster');
    expect(planned).toHaveLength(1);
    expect(planned[0].stepId).toBe('failover');
    expect(planned[0].input.DBClusterIdentifier).toBe(CLUSTER);
  });

  it('aborts before the failover when a guard alarm is in ALARM', async () => {
    await setAlarm('ALARM');
    const failoversBefore = h.proxy.count('FailoverDBCluster');
    const res = await start('failover-test', { parameters: { clusterIdentifier: CLUSTER, stopAlarms: [GUARD_ALARM] } });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);

    expect(run.state).toBe('aborted');
    expect(run.error.code).toBe('STOP_CONDITION');
    expect(run.error.message).toContain(GUARD_ALARM);
    expect(h.proxy.count('FailoverDBCluster')).toBe(failoversBefore);
    expect(run.steps.find((s: any) => s.id === 'precheck')?.state).toBe('succeeded');
    expect(run.steps.find((s: any) => s.id === 'switch')).toBeUndefined();
  });

  it('aborts a wait when its guard alarm fires, and still runs cleanup', async () => {
    await setAlarm('ALARM');
    const res = await start('engine-guarded-pause', { parameters: { alarm: GUARD_ALARM, seconds: 1 } });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);

    expect(run.state).toBe('aborted');
    expect(run.error.code).toBe('STOP_CONDITION');
    expect(run.error.message).toContain(GUARD_ALARM);
    const step = (id: string) => run.steps.find((s: any) => s.id === id);
    expect(step('pause').state).toBe('failed');
    expect(step('pause').error.code).toBe('STOP_CONDITION');
    expect(step('after-pause')).toBeUndefined();
    expect(step('tidy')).toMatchObject({ phase: 'cleanup', state: 'succeeded' });
  });

  it('the same guarded wait succeeds while the alarm is quiet (the guard is what aborted it)', async () => {
    const res = await start('engine-guarded-pause', { parameters: { alarm: GUARD_ALARM, seconds: 1 } });
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(run.steps.map((s: any) => [s.id, s.state])).toEqual([
      ['pause', 'succeeded'],
      ['after-pause', 'succeeded'],
      ['tidy', 'succeeded'],
    ]);
  });

  it('cancels a sleeping run promptly, runs its cleanup, and refuses a second cancel', async () => {
    const res = await start('engine-pause', { parameters: { lane: 'cancel', seconds: 30 } });
    expect(res.status).toBe(202);
    const id = res.body.id;
    // Cancel while the job sits delayed (the worker is free), the case a 30 s sleep is in almost all of its life.
    await eventually(async () => ((await queue.getJobState(id)) === 'delayed' ? true : undefined), 15_000, 'the sleep to be delayed');

    const viewer = await h.request('POST', `/v1/runs/${id}/cancel`, { key: h.keys.viewer });
    expect(viewer.status).toBe(403);

    const cancel = await h.request('POST', `/v1/runs/${id}/cancel`, { key: h.keys.operator });
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancelRequestedAt).not.toBeNull();

    // Far sooner than the 30 s sleep: a cancel wakes the run.
    const run = await h.waitForRun(id, TERMINAL, 15_000);
    expect(run.state).toBe('cancelled');
    expect(run.error.code).toBe('CANCELLED');
    expect(run.error.message).toContain('otto');
    expect(run.steps.find((s: any) => s.id === 'pause').state).toBe('failed');
    expect(run.steps.find((s: any) => s.id === 'tidy')).toMatchObject({ phase: 'cleanup', state: 'succeeded' });
    expect(Date.parse(run.endedAt) - Date.parse(run.startedAt)).toBeLessThan(20_000);

    const again = await h.request('POST', `/v1/runs/${id}/cancel`, { key: h.keys.operator });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RUN_NOT_CANCELLABLE');

    const audit = await h.request('GET', `/v1/audit?runId=${id}`);
    const cancelRecord = audit.body.items.find((e: any) => e.kind === 'run.cancel-requested');
    expect(cancelRecord.actor).toBe('otto');

    // The concurrency key of a cancelled run is free again.
    const next = await start('engine-pause', { parameters: { lane: 'cancel', seconds: 0 } });
    expect(next.status).toBe(202);
    expect((await h.waitForRun(next.body.id)).state).toBe('succeeded');
  });

  it('fails a run that outlives its timeout with RUN_TIMEOUT, cutting its wait short, and runs cleanup', async () => {
    const res = await start('engine-timeout', {});
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id, TERMINAL, 30_000);

    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('RUN_TIMEOUT');
    expect(run.steps.find((s: any) => s.id === 'pause').state).toBe('failed');
    expect(run.steps.find((s: any) => s.id === 'tidy')).toMatchObject({ phase: 'cleanup', state: 'succeeded' });
    // The timeout is 2 s; the sleep it interrupts is 10 s.
    expect(Date.parse(run.endedAt) - Date.parse(run.startedAt)).toBeLessThan(8_000);
  });
});
