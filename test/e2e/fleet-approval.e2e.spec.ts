import { CreateDBClusterCommand, CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { eventually, Harness } from '../support/runbookd';
import { A2, A3, childrenOf, FLEET_ENV, HOME, REGIONS, rdsIn, runbooksDir, sql } from './fleet-support';

const FAILOVER = 'FailoverDBCluster';

/**
 * One approval covers a fleet: a fleet of failover tests of production-tagged Aurora clusters
 * (three accounts, two regions, moto) asks once, showing every target and its plan's hash; the
 * requester cannot approve it; a target list that changed after it was asked voids it; and the
 * children started under it do not ask again. Until it is approved no child exists and moto
 * sees no FailoverDBCluster.
 */
describe('fleet approval (failover tests of production clusters)', () => {
  let h: Harness;
  const clusters: Array<{ account: string; region: string; id: string }> = [
    { account: HOME, region: 'eu-west-1', id: 'orders-aurora' },
    { account: A2, region: 'us-east-1', id: 'billing-aurora' },
    { account: A3, region: 'eu-west-1', id: 'ledger-aurora' },
  ];

  beforeAll(async () => {
    h = await Harness.start({
      role: 'all',
      seed: false,
      policy: 'default',
      runbooksDir: runbooksDir(['failover-test']),
      env: { ...FLEET_ENV, RUNBOOKD_WORKER_CONCURRENCY: '10' },
    });
    for (const c of clusters) {
      const rds = rdsIn(h.moto.endpoint, c.account, c.region);
      await rds.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: c.id,
          Engine: 'aurora-postgresql',
          MasterUsername: 'admin_user',
          MasterUserPassword: 'sandbox-only-password',
          Tags: [
            { Key: 'environment', Value: 'production' },
            { Key: 'fleet', Value: 'failover' },
          ],
        }),
      );
      for (const n of [1, 2]) {
        await rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: `${c.id}-${n}`,
            DBClusterIdentifier: c.id,
            Engine: 'aurora-postgresql',
            DBInstanceClass: 'db.r6g.large',
          }),
        );
      }
      rds.destroy();
    }
  }, 120_000);
  afterAll(async () => h?.close());

  const startFleet = async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { targets: { resourceType: 'rds:cluster', tags: { fleet: 'failover' }, accounts: 'allowed', regions: REGIONS }, maxConcurrency: 3 },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const pendingApproval = (runId: string, notId?: number) =>
    eventually(
      async () => {
        const a = await h.request('GET', `/v1/runs/${runId}/approval`);
        return a.status === 200 && a.body.state === 'pending' && a.body.id !== notId ? a.body : undefined;
      },
      30_000,
      `fleet ${runId} to ask for approval`,
    );
  const approvalsOf = (runIds: string[]) => sql(h, 'SELECT run_id, state FROM approvals WHERE run_id = ANY($1)', [runIds]);

  it('asks once with the target list and each plan hash; the requester cannot approve; the children do not ask again', async () => {
    const before = h.proxy.count(FAILOVER);
    const fleet = await startFleet();
    const approval = await pendingApproval(fleet);
    // The list the approver agrees to: every target, where it is, and the hash of what its child will do.
    expect(approval.plan.fleet.targets).toHaveLength(3);
    expect(approval.plan.fleet.targets.map((t: any) => t.id).sort()).toEqual(clusters.map((c) => c.id).sort());
    for (const t of approval.plan.fleet.targets) {
      expect(t).toMatchObject({
        arn: expect.stringMatching(/:cluster:/),
        account: expect.stringMatching(/^\d{12}$/),
        region: expect.any(String),
        planHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    }
    expect(new Set(approval.plan.fleet.targets.map((t: any) => t.planHash)).size).toBe(3);
    // Why: every target's own production tag.
    const because = approval.plan.requiredBy.map((r: any) => r.because).join('\n');
    for (const c of clusters) expect(because).toContain(`cluster ${c.id} is tagged environment=production`);

    // Nothing starts while it waits.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await childrenOf(h, fleet)).toEqual([]);
    expect(h.proxy.count(FAILOVER)).toBe(before);

    const byRequester = await h.request('POST', `/v1/runs/${fleet}/approve`, { key: h.keys.operator, body: { planHash: approval.planHash } });
    expect(byRequester.status).toBe(403);
    expect(byRequester.body.error.code).toBe('APPROVAL_NOT_ALLOWED');

    const ok = await h.request('POST', `/v1/runs/${fleet}/approve`, { key: h.keys.admin, body: { comment: 'fleet checked', planHash: approval.planHash } });
    expect(ok.status).toBe(200);
    const run = await h.waitForRun(fleet, undefined, 90_000);
    expect(run.state).toBe('succeeded');
    const children = await childrenOf(h, fleet);
    expect(children).toHaveLength(3);
    expect(children.every((c) => c.state === 'succeeded')).toBe(true);
    expect(h.proxy.count(FAILOVER)).toBe(before + 3);
    // One approval in all: none of the children asked for one, each names the fleet's.
    expect((await approvalsOf([fleet, ...children.map((c) => c.id)])).map((a) => a.run_id)).toEqual([fleet]);
    for (const c of children) {
      const child = (await h.request('GET', `/v1/runs/${c.id}`)).body;
      const gate = child.steps.find((s: any) => s.uses === 'core.approve');
      expect(gate.output).toMatchObject({ required: true, approvedBy: ['ada'], inheritedFrom: { runId: fleet, approvalId: approval.id } });
    }
    const audit = (await h.request('GET', `/v1/audit?runId=${children[0].id}&limit=200`)).body.items as any[];
    expect(audit.find((e) => e.kind === 'approval.inherited')).toMatchObject({ data: { fleetRunId: fleet, approvalId: approval.id } });
  }, 150_000);

  it('a target list that changed after the approval was asked voids it: nothing starts, and it is asked anew with the new list', async () => {
    const before = h.proxy.count(FAILOVER);
    const fleet = await startFleet();
    const first = await pendingApproval(fleet);
    // The recorded list is altered under the waiting fleet (one target gone).
    const dropped = first.plan.fleet.targets[2].arn as string;
    await sql(
      h,
      `UPDATE step_results SET output = jsonb_set(jsonb_set(output, '{targets}', (SELECT jsonb_agg(t) FROM jsonb_array_elements(output->'targets') t WHERE t->>'arn' <> $2)),
         '{approval,targets}', (SELECT jsonb_agg(t) FROM jsonb_array_elements(output->'approval'->'targets') t WHERE t->>'arn' <> $2))
       WHERE run_id = $1 AND step_id = 'targets'`,
      [fleet, dropped],
    );
    // Approved for the list it showed; the gate finds another list and does not let it through.
    expect((await h.request('POST', `/v1/runs/${fleet}/approve`, { key: h.keys.admin, body: { planHash: first.planHash } })).status).toBe(200);
    const second = await pendingApproval(fleet, first.id);
    expect(second.planHash).not.toBe(first.planHash);
    expect(second.plan.fleet.targets.map((t: any) => t.arn)).not.toContain(dropped);
    expect(second.plan.fleet.targets).toHaveLength(2);
    const voided = (await h.request('GET', `/v1/audit?runId=${fleet}&limit=200`)).body.items.find((e: any) => e.kind === 'approval.voided');
    expect(voided.data).toMatchObject({ approvalId: first.id, reason: 'plan-changed', approvedBy: ['ada'] });
    expect(await childrenOf(h, fleet)).toEqual([]);
    expect(h.proxy.count(FAILOVER)).toBe(before);
    // The old hash no longer approves anything.
    const stale = await h.request('POST', `/v1/runs/${fleet}/approve`, { key: h.keys.admin, body: { planHash: first.planHash } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('APPROVAL_PLAN_CHANGED');

    expect((await h.request('POST', `/v1/runs/${fleet}/approve`, { key: h.keys.admin, body: { planHash: second.planHash } })).status).toBe(200);
    expect((await h.waitForRun(fleet, undefined, 90_000)).state).toBe('succeeded');
    expect(await childrenOf(h, fleet)).toHaveLength(2);
    expect(h.proxy.count(FAILOVER)).toBe(before + 2);
  }, 150_000);
});
