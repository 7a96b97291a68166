import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { eventually, Harness, REGION } from '../support/runbookd';
import { auditOf, CREDENTIALS, endActiveRuns, killWorkers, logOf, MUTATING_RUNBOOKS, resetSandbox, saidOrDied, startRun } from './fault-support';

/**
 * Two live executors for one run: a worker frozen (SIGSTOP) inside the failover past its lock,
 * a second worker that takes the run over, then the first woken (SIGCONT). The fence must leave
 * exactly one FailoverDBCluster at AWS, the writer moved once, and one end to the run.
 */
const failover = MUTATING_RUNBOOKS.find((c) => c.runbook === 'failover-test')!;

async function writerOf(h: Harness): Promise<string | undefined> {
  const rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'orders-aurora' }))).DBClusters![0];
    return cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  } finally {
    rds.destroy();
  }
}

describe('a stalled worker and its successor (SIGSTOP past the lock, SIGCONT after the takeover)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 90_000);
  afterAll(async () => h?.close(), 60_000);
  beforeEach(async () => resetSandbox(h, failover));
  afterEach(async () => {
    await killWorkers(h);
    await endActiveRuns(h);
  });

  it('frozen while FailoverDBCluster is in flight: the successor sees the writer moved; the woken worker records nothing', async () => {
    const a = await h.startWorker();
    let armed = true;
    h.proxy.onRequest(
      'FailoverDBCluster',
      () => {
        if (!armed) return;
        armed = false;
        a.kill('SIGSTOP');
      },
      'received',
    );
    const runId = await startRun(h, failover);
    await eventually(() => (armed ? undefined : true), 30_000, 'FailoverDBCluster to reach the proxy');

    const b = await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 60_000);
    expect(run.state).toBe('succeeded');
    a.kill('SIGCONT');
    // Give the woken worker time to do whatever it would do: read its answer, try to record, go on.
    await new Promise((r) => setTimeout(r, 4_000));

    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    expect(await writerOf(h)).toBe('orders-aurora-2');
    const detail = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(detail.state).toBe('succeeded');
    expect(detail.steps.find((s: any) => s.id === 'failover').output.resumed).toBe(true);
    const audit = await auditOf(h, runId);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'step.ended' && e.data.stepId === 'failover')).toHaveLength(1);
    expect(logOf(h, a)).toMatch(/LEASE_LOST|newer executor/);
    expect(b.exitCode).toBeNull();
  }, 240_000);

  it('frozen after recording its intent, before sending: the successor sends once; the woken worker sends nothing', async () => {
    const a = await h.startWorker({ RUNBOOKD_FAULT_INJECT: 'stall@aws:FailoverDBCluster:before-send' });
    const runId = await startRun(h, failover);
    expect(await saidOrDied(h, a, 'stall at aws:FailoverDBCluster:before-send')).toBe('said');

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 60_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    a.kill('SIGCONT');
    await saidOrDied(h, a, 'LEASE_LOST', 20_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2_000));

    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    expect(await writerOf(h)).toBe('orders-aurora-2');
    expect(logOf(h, a)).toMatch(/ran out|newer executor/);
    const audit = await auditOf(h, runId);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
    // Two intents on record (the frozen worker's and the successor's), one call at AWS.
    expect(audit.filter((e) => e.kind === 'aws.request' && e.data.operation === 'FailoverDBCluster')).toHaveLength(2);
  }, 240_000);
});
