import * as path from 'node:path';
import { seedSandbox } from '../../scripts/sandbox/seed-estate';
import { eventually, exited, Harness, REGION } from '../support/runbookd';

/**
 * Durability across dead workers: the test process is the API only, workers are child processes
 * the test SIGKILLs at chosen points, and the recording proxy in front of moto proves that a
 * resumed run never repeats a mutating AWS call.
 */

/** SIGKILLs every worker this harness started that is still alive, and waits until each is gone. */
async function killWorkers(h: Harness): Promise<void> {
  for (const w of h.workers) {
    if (w.exitCode === null && w.signalCode === null) h.kill(w);
  }
  await Promise.all(h.workers.map(exited));
}

async function startFailover(h: Harness): Promise<string> {
  const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
    key: h.keys.operator,
    body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'resume e2e' },
  });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

async function auditOf(h: Harness, runId: string): Promise<any[]> {
  const res = await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`);
  expect(res.status).toBe(200);
  return res.body.items;
}

const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);

describe('resume after a worker is SIGKILLed (API in the test process, workers as child processes)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  beforeEach(async () => {
    // Each test fails orders-aurora over from orders-aurora-1: start from a fresh estate.
    await h.moto.reset();
    await seedSandbox({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    h.proxy.clear();
  });
  // A worker left from an earlier test would take the next run instead of the one the test kills.
  afterEach(async () => killWorkers(h));

  it('a worker killed inside FailoverDBCluster (after AWS acted, before it heard) is resumed without a second call', async () => {
    const a = await h.startWorker();
    let armed = true;
    // 'answered': moto has failed the cluster over; A dies before it reads the response.
    h.proxy.onRequest(
      'FailoverDBCluster',
      () => {
        if (!armed) return;
        armed = false;
        h.kill(a);
      },
      'answered',
    );

    const runId = await startFailover(h);
    await exited(a);
    expect(a.signalCode).toBe('SIGKILL');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 50_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const detail = (await h.request('GET', `/v1/runs/${runId}`)).body;
    const failover = stepOf(detail, 'failover');
    expect(failover.state).toBe('succeeded');
    expect(failover.output.resumed).toBe(true);
    expect(failover.attempts).toBe(2);
    expect(stepOf(detail, 'precheck').attempts).toBe(1);

    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    const figure = (id: string) => report.figures.find((f: any) => f.id === id)?.value;
    expect(figure('previous-writer')).toBe('orders-aurora-1');
    expect(figure('new-writer')).toBe('orders-aurora-2');

    const audit = await auditOf(h, runId);
    expect(audit.some((e) => e.kind === 'run.resumed')).toBe(true);
    expect(audit.filter((e) => e.kind === 'aws.request' && e.data.operation === 'FailoverDBCluster')).toHaveLength(1);
    // A never heard the answer, so no response was recorded for its call.
    expect(audit.filter((e) => e.kind === 'aws.response' && e.data.operation === 'FailoverDBCluster')).toHaveLength(0);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
  }, 60_000);

  it('a worker killed between steps is resumed at the first unfinished step', async () => {
    const a = await h.startWorker();
    let armed = true;
    // The first cluster read after the failover call is the `switch` step's: by then the
    // failover step's success has been written (the executor records a step before the next one).
    h.proxy.onRequest(
      'DescribeDBClusters',
      () => {
        if (!armed || h.proxy.count('FailoverDBCluster') !== 1) return;
        armed = false;
        h.kill(a);
      },
      'answered',
    );

    const runId = await startFailover(h);
    await exited(a);
    expect(a.signalCode).toBe('SIGKILL');

    const between = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(between.state).toBe('running');
    expect(stepOf(between, 'failover').state).toBe('succeeded');
    expect(stepOf(between, 'verify')).toBeUndefined();

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 50_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const detail = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(stepOf(detail, 'precheck').attempts).toBe(1);
    const failover = stepOf(detail, 'failover');
    expect(failover.attempts).toBe(1);
    expect(failover.output.resumed).toBe(false);
    expect(stepOf(detail, 'verify').output.writer).toBe('orders-aurora-2');

    const audit = await auditOf(h, runId);
    expect(audit.some((e) => e.kind === 'run.resumed')).toBe(true);
    expect(audit.filter((e) => e.kind === 'aws.request' && e.data.operation === 'FailoverDBCluster')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'step.started' && e.data.stepId === 'precheck')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'step.ended' && e.data.stepId === 'failover')).toHaveLength(1);
  }, 60_000);
});

describe('a waiting step frees its worker slot', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api', runbooksDir: path.join(__dirname, 'fixtures', 'sleep'), seed: false });
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('with one slot, a second run starts while the first is sleeping, and both succeed', async () => {
    await h.startWorker({ RUNBOOKD_WORKER_CONCURRENCY: '1' });

    const [r1, r2] = await Promise.all([1, 2].map(() => h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { reason: 'slot e2e' } })));
    expect(r1.status).toBe(202);
    expect(r2.status).toBe(202);
    const ids = [r1.body.id as string, r2.body.id as string];

    // One list query is one snapshot: both runs started and neither ended, at the same moment.
    // With one slot that is possible only if a sleeping run gave its slot back.
    const both = await eventually(
      async () => {
        const list = (await h.request('GET', '/v1/runs?runbook=sleepy&limit=10')).body.items as any[];
        const states = ids.map((id) => list.find((r) => r.id === id)?.state);
        const active = states.every((s) => s === 'running' || s === 'waiting');
        return active && states.includes('waiting') ? states : undefined;
      },
      20_000,
      'both sleepy runs to be in progress at once',
    );
    expect(both.filter((s) => s === 'running').length).toBeLessThanOrEqual(1);

    for (const id of ids) {
      const run = await h.waitForRun(id, undefined, 30_000);
      expect(run.state).toBe('succeeded');
      const detail = (await h.request('GET', `/v1/runs/${id}`)).body;
      expect(stepOf(detail, 'nap').output.sleptSeconds).toBeGreaterThanOrEqual(3);
      expect(stepOf(detail, 'after').output.echo).toBe('awake');
    }
  }, 60_000);
});
