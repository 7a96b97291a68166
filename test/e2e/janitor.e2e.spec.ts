import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { SANDBOX_ESTATE } from '../../scripts/sandbox/seed-estate';
import { eventually, Harness, REGION } from '../support/runbookd';

/**
 * The janitor against moto: it deletes an expired resource of an ended run, and never touches an
 * untagged one, one not yet expired, or one whose run is still active; a dry run only lists.
 */
describe('janitor: removes what ended runs left behind, nothing else', () => {
  let h: Harness;
  let rds: RDSClient;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  }, 60_000);
  afterAll(async () => {
    rds?.destroy();
    await h?.close();
  }, 60_000);

  const start = async (runbook: string, parameters: Record<string, unknown>, dryRun = false): Promise<string> => {
    const res = await h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: h.keys.operator, body: { parameters, dryRun } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const tags = (runId: string | null, expiresAt: string) =>
    runId
      ? [
          { Key: 'runbookd:run-id', Value: runId },
          { Key: 'runbookd:runbook', Value: 'test' },
          { Key: 'runbookd:expires-at', Value: expiresAt },
        ]
      : [];
  const instance = (id: string, t: Array<{ Key: string; Value: string }>) =>
    rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'u',
        MasterUserPassword: 'password123',
        Tags: t,
      }),
    );
  const exists = async (id: string) => {
    try {
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      return true;
    } catch {
      return false;
    }
  };

  it('dry run lists; the real sweep deletes only the expired resources of ended runs, audited, and /metrics says so', async () => {
    // An ended run, and one still active (waiting in its bake).
    const ended = await start('ecs-force-new-deployment', { cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service }, true);
    await h.waitForRun(ended);
    const active = await start('ecs-scale-with-guard', {
      cluster: SANDBOX_CANARY.cluster,
      service: SANDBOX_CANARY.service,
      desiredCount: 2,
      guardAlarm: SANDBOX_CANARY.alarm,
      bakeSeconds: 3600,
      pollSeconds: 60,
    });
    await h.waitForRun(active, ['waiting']);

    const past = new Date(Date.now() - 3600_000).toISOString();
    const future = new Date(Date.now() + 3600_000).toISOString();
    await instance('rbd-expired', tags(ended, past));
    await instance('untagged-db', tags(null, past));
    await instance('rbd-active-run', tags(active, past));
    await instance('rbd-not-yet', tags(ended, future));
    await rds.send(
      new CreateDBSnapshotCommand({ DBInstanceIdentifier: SANDBOX_ESTATE.instance, DBSnapshotIdentifier: 'rbd-expired-snap', Tags: tags(ended, past) }),
    );
    h.proxy.clear();

    const dry = await h.waitForRun(await start('janitor', {}, true));
    expect(dry.state).toBe('succeeded');
    expect(h.proxy.calls().filter((c) => !/^Describe/.test(c.action))).toEqual([]);
    const sweepPlan = dry.steps.find((s: any) => s.id === 'sweep');
    expect(sweepPlan.state).toBe('planned');
    expect(sweepPlan.output.plannedCalls.map((c: any) => [c.operation, c.input])).toEqual([
      ['DeleteDBInstance', { DBInstanceIdentifier: 'rbd-expired', SkipFinalSnapshot: true, DeleteAutomatedBackups: true }],
      ['DeleteDBSnapshot', { DBSnapshotIdentifier: 'rbd-expired-snap' }],
    ]);
    const spared = dry.steps.find((s: any) => s.id === 'find').output.spared;
    expect(spared.map((s: any) => [s.identifier, s.why])).toEqual([['rbd-active-run', expect.stringContaining(`run ${active} has not ended`)]]);

    const runId = await start('janitor', {});
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    const sweep = run.steps.find((s: any) => s.id === 'sweep').output;
    expect(sweep.removed.map((r: any) => r.identifier)).toEqual(['rbd-expired', 'rbd-expired-snap']);
    expect(sweep.notRemoved).toEqual([]);

    expect(await exists('untagged-db')).toBe(true);
    expect(await exists('rbd-active-run')).toBe(true);
    expect(await exists('rbd-not-yet')).toBe(true);
    await eventually(async () => ((await exists('rbd-expired')) ? undefined : true), 10_000, 'rbd-expired to be gone');
    await expect(rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'rbd-expired-snap' }))).rejects.toThrow();
    expect(h.proxy.count('rds:DeleteDBInstance')).toBe(1);
    expect(h.proxy.count('rds:DeleteDBSnapshot')).toBe(1);

    const audit = (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];
    expect(
      audit.filter((e) => e.kind === 'aws.request').map((e) => [e.data.operation, e.data.input.DBInstanceIdentifier ?? e.data.input.DBSnapshotIdentifier]),
    ).toEqual([
      ['DeleteDBInstance', 'rbd-expired'],
      ['DeleteDBSnapshot', 'rbd-expired-snap'],
    ]);

    const metrics = (await h.request('GET', '/metrics')).text;
    expect(metrics).toContain('runbookd_leaked_resources{type="rds:db-instance",state="removed"} 1');
    expect(metrics).toContain('runbookd_leaked_resources{type="rds:snapshot",state="removed"} 1');
    expect(metrics).toContain('runbookd_leaked_resources{type="rds:db-instance",state="not-removed"} 0');

    await h.request('POST', `/v1/runs/${active}/cancel`, { key: h.keys.operator });
  }, 90_000);
});
