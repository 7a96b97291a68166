import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { Harness, REGION } from '../support/runbookd';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const OBJECTIVES = [
  'rpo-newest-backup-age',
  'rpo-cross-region-copy-age',
  'rto-restore-to-available',
  'failover-switch-time',
  'retention',
  'encryption',
  'cleanup-complete',
];

/**
 * The drill against moto, RDS snapshot source (no AWS Backup path, so nothing is mocked): the
 * sandbox Aurora cluster, its manual snapshot, and a snapshot in the DR region.
 */
describe('monthly-dr-drill end to end against moto', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
    // moto cannot copy a cluster snapshot across regions: a cluster of the same name in the DR
    // region with its own snapshot stands in for the copy (the check looks it up by cluster id).
    const dr = new RDSClient({ region: 'ap-northeast-1', endpoint: h.moto.endpoint, credentials: CREDS });
    await dr.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'orders-aurora',
        Engine: 'aurora-postgresql',
        MasterUsername: 'dr',
        MasterUserPassword: 'sandbox-only-1',
        StorageEncrypted: true,
      }),
    );
    await dr.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'orders-aurora', DBClusterSnapshotIdentifier: 'orders-aurora-dr-copy' }));
    dr.destroy();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  const drill = async (parameters: Record<string, unknown> = {}) => {
    const res = await h.request('POST', '/v1/runbooks/monthly-dr-drill/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora', pollSeconds: 0.2, ...parameters }, reason: 'drill e2e' },
    });
    expect(res.status).toBe(202);
    return h.waitForRun(res.body.id, undefined, 60_000);
  };
  const reportOf = async (id: string) => (await h.request('GET', `/v1/runs/${id}/report`)).body;
  const objective = (report: any, id: string) => report.drill.objectives.find((o: any) => o.id === id);
  const drills: string[] = [];

  it('runs the three children, and the report holds every objective with measured value, target and verdict', async () => {
    const run = await drill();
    drills.push(run.id);
    expect(run.state).toBe('succeeded');
    expect(run.children.map((c: any) => [c.runbookId, c.stepId, c.state])).toEqual([
      ['backup-verification', 'backup-verification', 'succeeded'],
      ['point-in-time-restore', 'point-in-time-restore', 'succeeded'],
      ['failover-test', 'failover-test', 'succeeded'],
    ]);
    // Both restored copies were made and deleted; the failover went out and came back.
    expect(h.proxy.count('RestoreDBClusterFromSnapshot')).toBe(1);
    expect(h.proxy.count('RestoreDBClusterToPointInTime')).toBe(1);
    expect(h.proxy.count('DeleteDBCluster')).toBe(2);
    expect(h.proxy.count('FailoverDBCluster')).toBe(2);

    const report = await reportOf(run.id);
    expect(report.drill.objectives.map((o: any) => [o.id, o.status])).toEqual(OBJECTIVES.map((id) => [id, 'pass']));
    const [backup, pitr, failover] = run.children.map((c: any) => c.runId);
    expect(objective(report, 'rpo-newest-backup-age')).toMatchObject({
      target: 60,
      unit: 'min',
      comparison: '<=',
      source: { runId: backup, findingId: 'newest-backup-age' },
    });
    expect(objective(report, 'rpo-cross-region-copy-age')).toMatchObject({ target: 60, source: { runId: backup, findingId: 'dr-copy-age' } });
    expect(objective(report, 'rto-restore-to-available')).toMatchObject({
      target: 240,
      unit: 'min',
      source: { runId: pitr, runbookId: 'point-in-time-restore', findingId: 'rto' },
    });
    expect(objective(report, 'failover-switch-time')).toMatchObject({ target: 60, unit: 's', source: { runId: failover, findingId: 'switch-time' } });
    expect(objective(report, 'retention')).toMatchObject({ measured: 30, target: 30, comparison: '>=' });
    expect(objective(report, 'encryption').measured).toMatch(/^KMS key /);
    expect(objective(report, 'cleanup-complete')).toMatchObject({ measured: 'complete', target: 'complete' });
    for (const id of ['rpo-newest-backup-age', 'rpo-cross-region-copy-age', 'rto-restore-to-available', 'failover-switch-time']) {
      expect(typeof objective(report, id).measured).toBe('number');
    }
    // The children's findings travel up, under the step that ran each child.
    expect(report.findings.find((f: any) => f.id === 'switch-time')).toMatchObject({ stepId: 'failover-test', passed: true });
    expect(report.findings.find((f: any) => f.id === 'restored-copy-deleted')).toMatchObject({ stepId: 'backup-verification', passed: true });
    expect(report.drill.trend.map((t: any) => t.runId)).toEqual([run.id]);

    const md = (await h.request('GET', `/v1/runs/${run.id}/report?format=md`)).text;
    expect(md).toContain('## DR objectives');
    expect(md).toContain('RTO: restore until available');
    const page = (await h.request('GET', `/v1/runs/${run.id}/report?format=html`)).text;
    expect(page).toContain('DR objectives — 7 of 7 met');
    expect(page).toMatch(/<svg[^>]*aria-label="DR objectives over the last 1 drill/);
  }, 90_000);

  it('a failing child with continueOnFailure (the default): failed objective, the drill goes on to the next child', async () => {
    const run = await drill({ maxSwitchSeconds: 0.000001 });
    drills.push(run.id);
    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('FINDINGS_FAILED');
    expect(run.children.map((c: any) => c.state)).toEqual(['succeeded', 'succeeded', 'failed']);
    const report = await reportOf(run.id);
    expect(objective(report, 'failover-switch-time').status).toBe('fail');
    expect(objective(report, 'rto-restore-to-available').status).toBe('pass');
  }, 90_000);

  it('a failing child without continueOnFailure stops the drill; what was not measured says so', async () => {
    const run = await drill({ rpoTargetMinutes: 0.000001, continueOnFailure: false });
    drills.push(run.id);
    expect(run.state).toBe('failed');
    expect(run.error).toMatchObject({ code: 'CHILD_RUN_FAILED', details: { runbookId: 'backup-verification' } });
    expect(run.children.map((c: any) => c.runbookId)).toEqual(['backup-verification']);
    const report = await reportOf(run.id);
    expect(objective(report, 'rpo-newest-backup-age').status).toBe('fail');
    expect(objective(report, 'rpo-cross-region-copy-age').status).toBe('fail');
    // No point-in-time restore ran: the RTO is the one backup-verification's restore measured.
    expect(objective(report, 'rto-restore-to-available')).toMatchObject({ status: 'pass', source: { runbookId: 'backup-verification', findingId: 'rto' } });
    expect(objective(report, 'failover-switch-time')).toMatchObject({
      status: 'not-measured',
      measured: null,
      detail: 'the child run that measures it did not run',
    });
    // The child cleaned up even though it failed.
    expect(objective(report, 'cleanup-complete').status).toBe('pass');

    // The trend lines up every drill so far from the stored runs, oldest first.
    expect(report.drill.trend.map((t: any) => [t.runId, t.state])).toEqual([
      [drills[0], 'succeeded'],
      [drills[1], 'failed'],
      [drills[2], 'failed'],
    ]);
    expect(report.drill.trend[1].objectives['failover-switch-time'].status).toBe('fail');
    const md = (await h.request('GET', `/v1/runs/${run.id}/report?format=md`)).text;
    expect(md).toContain('## Trend (last 3 drills)');
  }, 90_000);

  it('lists the drill reports, newest first and paged, and shows the monthly schedule', async () => {
    const all = (await h.request('GET', '/v1/reports?runbook=monthly-dr-drill', { key: h.keys.viewer })).body;
    expect(all.items.map((i: any) => i.runId)).toEqual([...drills].reverse());
    expect(all.items[2]).toMatchObject({
      state: 'succeeded',
      trigger: 'rest',
      objectives: { passed: 7, failed: 0, notMeasured: 0 },
      links: { report: `/v1/runs/${drills[0]}/report` },
    });
    expect(all.items[0].objectives).toEqual({ passed: 4, failed: 2, notMeasured: 1 });
    const page1 = (await h.request('GET', '/v1/reports?runbook=monthly-dr-drill&limit=2')).body;
    expect(page1.items).toHaveLength(2);
    const page2 = (await h.request('GET', `/v1/reports?runbook=monthly-dr-drill&limit=2&cursor=${page1.nextCursor}`)).body;
    expect(page2.items.map((i: any) => i.runId)).toEqual([drills[0]]);
    expect(page2.nextCursor).toBeNull();
    const bad = await h.request('GET', '/v1/reports');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe('runbook');

    const schedule = (await h.request('GET', '/v1/schedules')).body.items.find((s: any) => s.id === 'monthly-dr-drill.monthly');
    expect(schedule).toMatchObject({
      cron: '0 3 1 * *',
      timezone: 'UTC',
      catchUpSeconds: 6 * 3600,
      paused: false,
      parameters: { clusterIdentifier: 'orders-aurora' },
    });
    const next = new Date(schedule.nextFireAt);
    expect([next.getUTCDate(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 3, 0]);
    expect(next.getTime()).toBeGreaterThan(Date.now());
  }, 30_000);
});
