import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { eventually, Harness, REGION } from '../support/runbookd';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const MUTATING = /^(Restore|Create|Delete|Modify|Copy|AddTags|Start|Failover|Reboot|Put)/;
const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);

describe('point-in-time-restore against moto', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
  });
  afterAll(async () => h?.close());
  beforeEach(() => h.proxy.clear());

  const post = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    h.request('POST', '/v1/runbooks/point-in-time-restore/runs', { key: h.keys.operator, body: { parameters: { pollSeconds: 0.2, ...parameters }, ...extra } });

  it('a drill restores to the requested point, measures RTO and achieved RPO, and deletes the copy', async () => {
    const restoreTime = new Date(Date.now() - 100).toISOString();
    const res = await post({ dbInstanceIdentifier: 'billing-postgres', restoreTime });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('RestoreDBInstanceToPointInTime')).toBe(1);
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);

    // The preflight's result is recorded with the run and fed the later steps.
    const window = stepOf(run, 'window');
    expect(window.state).toBe('succeeded');
    expect(window.output.requestedPoint).toBe(restoreTime);
    const audit = (await h.request('GET', `/v1/audit?runId=${run.id}&limit=1000`)).body.items as any[];
    const call = audit.find((e) => e.kind === 'aws.request' && e.data.operation === 'RestoreDBInstanceToPointInTime').data.input;
    expect(call).toMatchObject({
      SourceDBInstanceIdentifier: 'billing-postgres',
      TargetDBInstanceIdentifier: `rbd-${run.id}`,
      PubliclyAccessible: false,
      RestoreTime: restoreTime,
    });
    expect(call.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'runbookd:run-id', Value: run.id },
        { Key: 'runbookd:runbook', Value: 'point-in-time-restore' },
      ]),
    );

    const report = (await h.request('GET', `/v1/runs/${run.id}/report`)).body;
    const f = (id: string) => report.findings.find((x: any) => x.id === id);
    expect(f('restore-time-in-window').passed).toBe(true);
    expect(f('rto')).toMatchObject({ passed: true, target: 240, unit: 'min' });
    expect(f('rpo')).toMatchObject({ passed: true, target: 60, unit: 'min' });
    expect(typeof f('rpo').measured).toBe('number');
    expect(report.figures.map((x: any) => x.id)).toEqual(expect.arrayContaining(['rto-minutes', 'rpo-minutes']));
    expect(report.timeline[0]).toMatchObject({ stepId: 'window', state: 'succeeded' });
    expect(report.resources).toEqual([expect.objectContaining({ identifier: `rbd-${run.id}`, state: 'deleted', createdByStepId: 'restore' })]);
  });

  it('a restoreTime outside the restorable window is refused with 400 naming the window; no run, no AWS change', async () => {
    const before = (await h.request('GET', '/v1/runs?runbook=point-in-time-restore&limit=200')).body.items.length;
    const restoreTime = new Date(Date.now() - 3 * 86_400_000).toISOString();
    for (const dryRun of [false, true]) {
      const res = await post({ dbInstanceIdentifier: 'billing-postgres', restoreTime }, { dryRun });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('PREFLIGHT_FAILED');
      expect(res.body.error.message).toMatch(
        new RegExp(
          `restoreTime ${restoreTime.replace(/[.]/g, '\\.')} is outside the restorable window of billing-postgres in ${REGION}: \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z to \\d{4}-`,
        ),
      );
      expect(res.body.error.details).toMatchObject({ stepId: 'window', findings: [expect.objectContaining({ id: 'restore-time-in-window', passed: false })] });
    }
    expect(h.proxy.count('DescribeDBInstances')).toBeGreaterThan(0);
    expect(h.proxy.calls().filter((c) => MUTATING.test(c.action))).toEqual([]);
    expect((await h.request('GET', '/v1/runs?runbook=point-in-time-restore&limit=200')).body.items.length).toBe(before);
  });

  it("recovery mode waits for a second person's approval, then keeps the copy and states its endpoint", async () => {
    // `confirm: true` was the requester vouching for themselves; an approval replaced it.
    const withConfirm = await post({ dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, mode: 'recovery', confirm: true });
    expect(withConfirm.status).toBe(400);

    const res = await post({
      dbInstanceIdentifier: 'billing-postgres',
      useLatestRestorableTime: true,
      mode: 'recovery',
      targetIdentifier: 'billing-postgres-recovered',
    });
    expect(res.status).toBe(202);
    await eventually(
      async () => ((await h.request('GET', `/v1/runs/${res.body.id}/approval`)).body.state === 'pending' ? true : undefined),
      30_000,
      'the approval request',
    );
    expect((await h.request('POST', `/v1/runs/${res.body.id}/approve`, { key: h.keys.admin, body: { comment: 'checked' } })).status).toBe(200);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('DeleteDBInstance')).toBe(0);
    expect(stepOf(run, 'delete-copy').output.outcome).toBe('kept');
    const report = (await h.request('GET', `/v1/runs/${run.id}/report`)).body;
    const endpoint = report.figures.find((x: any) => x.id === 'endpoint');
    expect(endpoint.label).toBe('New endpoint (kept)');
    expect(endpoint.value).toMatch(/^billing-postgres-recovered\./);
    expect(report.resources).toEqual([expect.objectContaining({ identifier: 'billing-postgres-recovered', state: 'kept (recovery)' })]);
    const rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
    const kept = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'billing-postgres-recovered' }));
    expect(kept.DBInstances?.[0]?.TagList).toEqual(expect.arrayContaining([{ Key: 'runbookd:run-id', Value: run.id }]));
    rds.destroy();

    // The name is now taken by a copy of another run: a new run must not adopt or delete it.
    const again = await post({ dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, targetIdentifier: 'billing-postgres-recovered' });
    const second = await h.waitForRun(again.body.id);
    expect(second.state).toBe('failed');
    expect(stepOf(second, 'restore').error.code).toBe('PRECONDITION_FAILED');
    expect(stepOf(second, 'delete-copy').output).toMatchObject({ outcome: 'not-deleted' });
    expect(h.proxy.count('DeleteDBInstance')).toBe(0);
  });

  it('restores an Aurora cluster to its latest restorable time (drill)', async () => {
    const res = await post({ clusterIdentifier: 'orders-aurora', useLatestRestorableTime: true });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('RestoreDBClusterToPointInTime')).toBe(1);
    expect(h.proxy.count('DeleteDBCluster')).toBe(1);
  });
});
