import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { eventually, Harness, REGION } from '../support/runbookd';

const FAILOVER = 'FailoverDBCluster';
const OTHER_ACCOUNT_ROLE = 'arn:aws:iam::222222222222:role/x';

/**
 * Whether a run needs approval is decided from what runbookd reads about the target, never from
 * what the requester typed. The sandbox's orders-aurora is tagged environment=production; a
 * failover test of it started without `environment`, or with `staging`, waits for a second
 * person, and moto (through the recording proxy) sees no FailoverDBCluster until one approves.
 * The same for a cluster in an account the policy lists as production, whatever its tags.
 */
describe("approvals from the target's facts", () => {
  let h: Harness;
  let dir: string;

  const start = async (parameters: Record<string, unknown>, opts: { dryRun?: boolean } = {}) => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', { key: h.keys.operator, body: { parameters, ...opts } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const pending = (runId: string) =>
    eventually(
      async () => {
        const a = await h.request('GET', `/v1/runs/${runId}/approval`);
        if (a.status !== 200 || a.body.state !== 'pending') return undefined;
        return (await h.request('GET', `/v1/runs/${runId}`)).body.state === 'waiting' ? a.body : undefined;
      },
      30_000,
      `run ${runId} to ask for approval`,
    );

  /** Two clusters moto keeps apart from the sandbox estate: one in the default account tagged staging, one in 222222222222 with no environment tag. */
  const seedClusters = async () => {
    const base = { endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const other = new RDSClient({
      ...base,
      credentials: fromTemporaryCredentials({
        params: { RoleArn: OTHER_ACCOUNT_ROLE, RoleSessionName: 'seed' },
        masterCredentials: base.credentials,
        clientConfig: { endpoint: h.moto.endpoint, region: REGION },
      }),
    });
    const here = new RDSClient(base);
    for (const [rds, id, tags] of [
      [here, 'scratch-aurora', [{ Key: 'environment', Value: 'staging' }]],
      [other, 'ledger-aurora', [{ Key: 'team', Value: 'ledger' }]],
    ] as const) {
      await rds.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: id,
          Engine: 'aurora-postgresql',
          MasterUsername: 'admin_user',
          MasterUserPassword: 'sandbox-only-password',
          Tags: [...tags],
        }),
      );
      for (const n of [1, 2]) {
        await rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: `${id}-${n}`,
            DBClusterIdentifier: id,
            Engine: 'aurora-postgresql',
            DBInstanceClass: 'db.r6g.large',
          }),
        );
      }
    }
    for (const c of [other, here]) c.destroy();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-policy-'));
    const policy = path.join(dir, 'policy.yaml');
    // Only the production accounts are given: the approval rules are the built-in defaults.
    writeFileSync(policy, 'version: 1\naccounts:\n  production: ["222222222222"]\n');
    h = await Harness.start({ role: 'all', policy });
    await seedClusters();
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['without environment', {}],
    ['with environment=staging', { environment: 'staging' }],
  ])('a production-tagged cluster, started %s, waits for a second person before FailoverDBCluster', async (_name, extra) => {
    const before = h.proxy.count(FAILOVER);
    const runId = await start({ clusterIdentifier: 'orders-aurora', ...extra });
    const approval = await pending(runId);
    expect(approval.minApprovals).toBe(1);
    // The approver sees which rule asked, and the fact it held on.
    expect(approval.plan.requiredBy).toEqual([
      expect.objectContaining({
        rule: 'production-environment-tag',
        because: 'cluster orders-aurora is tagged environment=production',
        target: expect.stringMatching(/:cluster:orders-aurora$/),
      }),
    ]);
    expect(h.proxy.count(FAILOVER)).toBe(before);
    // Who may clear it is unchanged: not the requester, not a viewer.
    expect((await h.request('POST', `/v1/runs/${runId}/approve`, { key: h.keys.operator, body: {} })).status).toBe(403);
    expect((await h.request('POST', `/v1/runs/${runId}/approve`, { key: h.keys.viewer, body: {} })).status).toBe(403);
    // A worker looking again meanwhile still sends nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.proxy.count(FAILOVER)).toBe(before);
    const accepted = (await h.request('GET', `/v1/audit?runId=${runId}&limit=100`)).body.items.find((r: any) => r.kind === 'run.accepted');
    expect(accepted.data.approval).toMatchObject({ minApprovals: 1, reasons: [expect.objectContaining({ rule: 'production-environment-tag' })] });

    expect(
      (await h.request('POST', `/v1/runs/${runId}/approve`, { key: h.keys.admin, body: { comment: 'checked', planHash: approval.planHash } })).status,
    ).toBe(200);
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count(FAILOVER)).toBe(before + 1);
    expect(run.steps.find((s: any) => s.id === 'approval').output).toMatchObject({
      required: true,
      approvedBy: ['ada'],
      requiredBy: [expect.objectContaining({ rule: 'production-environment-tag' })],
    });
  });

  it('a cluster in a production account named in the policy waits too, whatever its tags', async () => {
    const before = h.proxy.count(FAILOVER);
    const runId = await start({ clusterIdentifier: 'ledger-aurora', roleArn: OTHER_ACCOUNT_ROLE });
    const approval = await pending(runId);
    expect(approval.plan.requiredBy).toEqual([
      expect.objectContaining({
        rule: 'production-account',
        because: 'cluster ledger-aurora is in production account 222222222222',
        target: expect.stringMatching(/^arn:aws:rds:[a-z0-9-]+:222222222222:cluster:ledger-aurora$/),
      }),
    ]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.proxy.count(FAILOVER)).toBe(before);
    expect((await h.request('POST', `/v1/runs/${runId}/approve`, { key: h.keys.admin, body: { planHash: approval.planHash } })).status).toBe(200);
    expect((await h.waitForRun(runId)).state).toBe('succeeded');
    expect(h.proxy.count(FAILOVER)).toBe(before + 1);
  });

  it('a staging cluster in a non-production account fails over with no approval; environment=production still adds one', async () => {
    const before = h.proxy.count(FAILOVER);
    const run = await h.waitForRun(await start({ clusterIdentifier: 'scratch-aurora' }));
    expect(run.state).toBe('succeeded');
    expect(run.steps.find((s: any) => s.id === 'approval').output).toMatchObject({ required: false });
    expect(h.proxy.count(FAILOVER)).toBe(before + 1);
    // The requester can raise, never lower: the runbook's own `approval.when` is an addition to the policy.
    const raised = await start({ clusterIdentifier: 'scratch-aurora', environment: 'production' });
    const approval = await pending(raised);
    expect(approval.plan.requiredBy).toEqual([expect.objectContaining({ rule: 'runbook:approval.when' })]);
    await h.request('POST', `/v1/runs/${raised}/cancel`, { key: h.keys.operator });
    expect((await h.waitForRun(raised)).state).toBe('cancelled');
    expect(h.proxy.count(FAILOVER)).toBe(before + 1);
  });

  it('a dry run never waits, and says which rule a real run would wait for', async () => {
    const run = await h.waitForRun(await start({ clusterIdentifier: 'orders-aurora' }, { dryRun: true }));
    expect(run.state).toBe('succeeded');
    const gate = run.steps.find((s: any) => s.id === 'approval');
    expect(gate.output).toMatchObject({ required: false, requiredBy: [expect.objectContaining({ rule: 'production-environment-tag' })] });
    expect(gate.output.why).toMatch(/a real run would wait for approval \(production-environment-tag\)/);
  });
});
