import { ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { Harness, REGION } from '../support/runbookd';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const MUTATING = /^(Restore|Create|Delete|Modify|Copy|AddTags|Start|Failover|Reboot)/;
const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);
const finding = (report: any, id: string) => report.findings.find((f: any) => f.id === id);

async function start(h: Harness, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await h.request('POST', '/v1/runbooks/backup-verification/runs', {
    key: h.keys.operator,
    body: { parameters: { pollSeconds: 0.2, ...parameters }, ...extra },
  });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

describe('backup-verification against moto (RDS snapshots)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
  });
  afterAll(async () => h?.close());
  beforeEach(() => h.proxy.clear());

  it('checks, restores an isolated tagged copy, verifies it, measures RTO, deletes it, and reports it all', async () => {
    const runId = await start(h, { dbInstanceIdentifier: 'billing-postgres', vpcSecurityGroupIds: ['sg-0a1b2c3d'], instanceClass: 'db.t4g.medium' });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    const copy = `rbd-${runId}`;
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(1);
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);

    const audit = (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];
    const restore = audit.find((e) => e.kind === 'aws.request' && e.data.operation === 'RestoreDBInstanceFromDBSnapshot').data.input;
    expect(restore).toMatchObject({
      DBInstanceIdentifier: copy,
      DBSnapshotIdentifier: 'billing-postgres-manual',
      PubliclyAccessible: false,
      VpcSecurityGroupIds: ['sg-0a1b2c3d'],
      DBInstanceClass: 'db.t4g.medium',
    });
    expect(Object.fromEntries(restore.Tags.map((t: any) => [t.Key, t.Value]))).toMatchObject({
      'runbookd:run-id': runId,
      'runbookd:runbook': 'backup-verification',
      'runbookd:expires-at': expect.stringMatching(/^\d{4}-/),
    });
    const del = audit.find((e) => e.kind === 'aws.request' && e.data.operation === 'DeleteDBInstance').data.input;
    expect(del).toEqual({ DBInstanceIdentifier: copy, SkipFinalSnapshot: true, DeleteAutomatedBackups: true });

    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    expect(report.findings.filter((f: any) => !f.passed)).toEqual([]);
    expect(report.findings.map((f: any) => f.id)).toEqual(
      expect.arrayContaining([
        'newest-backup-age',
        'backup-retention',
        'backup-encrypted',
        'dr-copy-age',
        'restored-available',
        'engine-matches',
        'engine-version-matches',
        'encryption-matches',
        'not-public',
        'storage-matches',
        'rto',
        'restored-copy-deleted',
      ]),
    );
    expect(finding(report, 'backup-retention')).toMatchObject({ measured: 30, target: 30, unit: 'days' });
    expect(finding(report, 'backup-encrypted').measured).toBe('KMS key default_kms_key_id');
    expect(finding(report, 'rto')).toMatchObject({ target: 240, unit: 'min' });
    expect(finding(report, 'dr-copy-age').detail).toContain('ap-northeast-1');
    const figure = (id: string) => report.figures.find((f: any) => f.id === id)?.value;
    expect(typeof figure('rto-minutes')).toBe('number');
    expect(typeof figure('dr-copy-age')).toBe('number');
    expect(figure('restore-point')).toBe('billing-postgres-manual');
    expect(report.resources).toEqual([
      expect.objectContaining({
        type: 'rds:db-instance',
        identifier: copy,
        region: REGION,
        state: 'deleted',
        createdByStepId: 'restore',
        stateStepId: 'delete-copy',
      }),
    ]);

    const md = (await h.request('GET', `/v1/runs/${runId}/report?format=md`)).text;
    expect(md).toContain('## Resources created');
    expect(md).toContain(copy);
    const html = (await h.request('GET', `/v1/runs/${runId}/report?format=html`)).text;
    expect(html).toContain('Resources created');
    expect(html).toContain(copy);
  });

  it('restores an Aurora cluster with one instance, then deletes the instance and the cluster', async () => {
    const runId = await start(h, { clusterIdentifier: 'orders-aurora', drRegion: '' });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('RestoreDBClusterFromSnapshot')).toBe(1);
    expect(h.proxy.count('rds:CreateDBInstance')).toBe(1);
    expect(h.proxy.count('DeleteDBCluster')).toBe(1);
    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    expect(report.findings.find((f: any) => f.id === 'dr-copy-age')).toBeUndefined();
    expect(report.resources.map((r: any) => [r.type, r.identifier, r.state])).toEqual([
      ['rds:db-cluster', `rbd-${runId}`, 'deleted'],
      ['rds:db-instance', `rbd-${runId}-1`, 'deleted'],
    ]);
  });

  it('a restore that fails still runs cleanup, and the run fails naming the step', async () => {
    const runId = await start(h, { dbInstanceIdentifier: 'billing-postgres', dbSubnetGroupName: 'no-such-subnet-group' });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('failed');
    expect(stepOf(run, 'restore')).toMatchObject({ state: 'failed', error: { code: 'AWS_NOT_FOUND' } });
    // The main phase ended at the failure: nothing after it ran.
    expect(stepOf(run, 'available')).toBeUndefined();
    const cleanup = stepOf(run, 'delete-copy');
    expect(cleanup.state).toBe('succeeded');
    expect(cleanup.output.outcome).toBe('absent');
    expect(h.proxy.count('DeleteDBInstance')).toBe(0);
  });

  it('a snapshot older than the RPO target fails the RPO finding with its measured age, after restore and cleanup ran', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const runId = await start(h, { dbInstanceIdentifier: 'billing-postgres', rpoTargetMinutes: 0.01 });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('FINDINGS_FAILED');
    expect(run.error.details.findings).toEqual(expect.arrayContaining(['newest-backup-age', 'dr-copy-age']));
    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    const age = finding(report, 'newest-backup-age');
    expect(age.passed).toBe(false);
    expect(age.measured).toBeGreaterThan(0.01);
    expect(age).toMatchObject({ target: 0.01, unit: 'min' });
    expect(stepOf(run, 'delete-copy').output.outcome).toBe('deleted');
    const md = (await h.request('GET', `/v1/runs/${runId}/report?format=md`)).text;
    expect(md).toMatch(/❌ fail \| The newest snapshot is within the RPO target<br>billing-postgres-manual, taken [^|]+ \| [\d.]+ min \| 0\.01 min/);
  });

  it('a cleanup that fails leaves the run failed, naming the copy that was left behind', async () => {
    // Someone turns deletion protection on while the test runs: the delete is refused.
    const rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
    let armed = true;
    h.proxy.onRequest(
      'RestoreDBInstanceFromDBSnapshot',
      async (info) => {
        if (!armed) return;
        armed = false;
        const id = /DBInstanceIdentifier=([^&]+)/.exec(info.body.toString())![1];
        await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: decodeURIComponent(id), DeletionProtection: true, ApplyImmediately: true }));
      },
      'answered',
    );
    const runId = await start(h, { dbInstanceIdentifier: 'billing-postgres', drRegion: '' });
    const run = await h.waitForRun(runId);
    armed = false;
    expect(run.state).toBe('failed');
    expect(run.error).toMatchObject({ code: 'FINDINGS_FAILED', details: { findings: ['restored-copy-deleted'] } });
    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    const left = finding(report, 'restored-copy-deleted');
    expect(left).toMatchObject({ passed: false, title: `Restored instance rbd-${runId} (${REGION}) is deleted`, measured: 'AWS_INVALID_INPUT' });
    expect(left.detail).toContain('Cannot delete protected DB Instance');
    expect(report.resources).toEqual([expect.objectContaining({ identifier: `rbd-${runId}`, state: 'delete-failed', stateStepId: 'delete-copy' })]);
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: `rbd-${runId}`, DeletionProtection: false, ApplyImmediately: true }));
    rds.destroy();
  });

  it('a dry run plans the restore and the cleanup delete and changes nothing', async () => {
    const runId = await start(h, { dbInstanceIdentifier: 'billing-postgres' }, { dryRun: true });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.calls().filter((c) => MUTATING.test(c.action))).toEqual([]);
    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    expect(report.plannedCalls.map((c: any) => c.operation)).toEqual(['RestoreDBInstanceFromDBSnapshot', 'DeleteDBInstance']);
  });
});
