import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { runCli } from '../support/cli';
import { eventually, Harness, ROOT } from '../support/runbookd';

const RESTORE = 'RestoreDBInstanceToPointInTime';

/**
 * Approvals against the running service, PostgreSQL, Redis and moto: a point-in-time recovery
 * (which keeps a new database) waits for a second person; the requester cannot be that person;
 * a reject or an expiry ends the run `rejected` with cleanup run; an approval given for one plan
 * does not carry over to another.
 */
describe('approvals', () => {
  let h: Harness;
  let runbooksDir: string;
  let hook: Server;
  const hookBodies: any[] = [];
  const recovery = (targetIdentifier: string) => ({
    parameters: { dbInstanceIdentifier: 'billing-postgres', useLatestRestorableTime: true, mode: 'recovery', targetIdentifier, pollSeconds: 0.2 },
    reason: 'restore billing after a bad migration',
  });
  const start = async (body: unknown, runbook = 'point-in-time-restore') => {
    const res = await h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: h.keys.operator, body });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  // The approval request commits inside the step, the run's `waiting` record right after it:
  // a loaded machine can show one without the other for a moment, so wait for both.
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
  const decide = (runId: string, key: string, decision: 'approve' | 'reject', body: Record<string, unknown> = {}) =>
    h.request('POST', `/v1/runs/${runId}/${decision}`, { key, body });
  const auditKinds = async (runId: string) => (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];

  beforeAll(async () => {
    runbooksDir = mkdtempSync(path.join(os.tmpdir(), 'rbd-approvals-'));
    for (const f of readdirSync(path.join(ROOT, 'runbooks')).filter((n) => n.endsWith('.yaml')))
      copyFileSync(path.join(ROOT, 'runbooks', f), path.join(runbooksDir, f));
    copyFileSync(path.join(ROOT, 'test/e2e/fixtures/cli/approval-expire.yaml'), path.join(runbooksDir, 'approval-expire.yaml'));
    // A Slack-compatible receiver for the runbook's notify target.
    hook = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        hookBodies.push(JSON.parse(text));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    writeFileSync(
      path.join(runbooksDir, 'approval-notify.yaml'),
      `id: approval-notify
title: A gated change that notifies (test fixture)
notify: { webhook: "http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook" }
parameters: { type: object, properties: { cluster: { type: string } } }
approval: { timeout: 10m, message: please look at this }
steps:
  - { id: look, uses: core.noop }
  - id: change
    uses: rds.failover
    with: { kind: cluster, identifier: "\${{ params.cluster }}", region: eu-west-1, expectedWriter: orders-aurora-1 }
`,
    );
    h = await Harness.start({ role: 'all', runbooksDir });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(runbooksDir, { recursive: true, force: true });
    await new Promise((r) => hook?.close(r));
  });

  it('a recovery waits for approval before restoring; the requester cannot approve; another operator can', async () => {
    const runId = await start(recovery('billing-approved'));
    const a = await pending(runId);
    const run = (await h.request('GET', `/v1/runs/${runId}`)).body;
    expect(run.state).toBe('waiting');
    expect(run.steps.find((s: any) => s.id === 'approval')).toMatchObject({ state: 'waiting', uses: 'core.approve' });
    // Nothing changed yet, and the approver sees exactly what will be called.
    expect(h.proxy.count(RESTORE)).toBe(0);
    expect(a).toMatchObject({ requestedBy: 'otto', minApprovals: 1, gate: 'approval', runbookId: 'point-in-time-restore' });
    expect(a.plan.parameters).toMatchObject({ mode: 'recovery', targetIdentifier: 'billing-approved' });
    expect(a.plan.steps[0]).toMatchObject({
      stepId: 'restore',
      calls: [expect.objectContaining({ operation: RESTORE, input: expect.objectContaining({ TargetDBInstanceIdentifier: 'billing-approved' }) })],
    });
    expect(a.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.commands.approve).toBe(`runbookd approve ${runId} -m "<comment>"`);
    expect((await h.request('GET', '/v1/approvals?state=pending', { key: h.keys.viewer })).body.items.map((x: any) => x.runId)).toEqual([runId]);
    const metrics = (await h.request('GET', '/metrics', { key: h.keys.viewer })).text;
    expect(metrics).toContain('runbookd_approvals_pending 1');
    expect(metrics).toMatch(/runbookd_oldest_pending_approval_age_seconds \d/);
    expect(metrics).toContain('runbookd_active_runs{runbook="point-in-time-restore"} 1');

    const own = await decide(runId, h.keys.operator, 'approve', { comment: 'looks fine to me' });
    expect(own.status).toBe(403);
    expect(own.body.error).toMatchObject({ code: 'APPROVAL_NOT_ALLOWED', details: { reason: 'requester' } });
    expect((await decide(runId, h.keys.viewer, 'approve')).status).toBe(403);
    expect((await decide(runId, h.keys.admin, 'approve', { planHash: 'f'.repeat(64) })).body.error.code).toBe('APPROVAL_PLAN_CHANGED');
    expect((await decide(runId, h.keys.admin, 'approve', { planHash: 'nope' })).status).toBe(400);
    // Refused attempts change nothing.
    expect((await h.request('GET', `/v1/runs/${runId}/approval`)).body).toMatchObject({ state: 'pending', approvals: [] });
    expect(h.proxy.count(RESTORE)).toBe(0);

    const ok = await decide(runId, h.keys.admin, 'approve', { comment: 'checked the point and the name', planHash: a.planHash });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ state: 'approved', approvals: ['ada'] });
    expect((await decide(runId, h.keys.admin, 'approve')).status).toBe(409);

    const ended = await h.waitForRun(runId);
    expect(ended.state).toBe('succeeded');
    expect(h.proxy.count(RESTORE)).toBe(1);
    // Computed afresh each scrape: a runbook with no active run any more has no series left over.
    const after = (await h.request('GET', '/metrics', { key: h.keys.viewer })).text;
    expect(after).toContain('runbookd_approvals_pending 0');
    expect(after).not.toContain('runbookd_active_runs{runbook="point-in-time-restore"}');
    expect(ended.steps.find((s: any) => s.id === 'approval').output).toMatchObject({ required: true, approvedBy: ['ada'], planHash: a.planHash });
    const audit = await auditKinds(runId);
    expect(audit.find((r) => r.kind === 'approval.requested')).toMatchObject({ actor: 'otto', data: { planHash: a.planHash } });
    expect(audit.find((r) => r.kind === 'approval.decided')).toMatchObject({
      actor: 'ada',
      data: { decision: 'approve', comment: 'checked the point and the name' },
    });
    expect(audit.find((r) => r.kind === 'approval.granted')).toMatchObject({ actor: 'ada', data: { approvedBy: ['ada'] } });
    // The approval waited before the first change: the restore was requested after it was granted.
    const granted = audit.findIndex((r) => r.kind === 'approval.granted');
    const restored = audit.findIndex((r) => r.kind === 'aws.request' && r.data.operation === RESTORE);
    expect(restored).toBeGreaterThan(granted);
  });

  it('a reject ends the run `rejected` with cleanup run; the CLI says so with exit code 4', async () => {
    const runId = await start(recovery('billing-rejected'));
    await pending(runId);
    const env = { HOME: os.tmpdir(), RUNBOOKD_URL: h.baseUrl, RUNBOOKD_API_KEY: h.keys.admin };
    expect((await h.request('POST', `/v1/runs/${runId}/reject`, { key: h.keys.admin, body: {} })).status).toBe(400);
    const cli = await runCli(['reject', runId, '-m', 'wrong point in time'], env);
    expect(cli.code).toBe(0);
    const run = await h.waitForRun(runId, ['rejected', 'succeeded', 'failed', 'cancelled', 'aborted']);
    expect(run.state).toBe('rejected');
    expect(run.error).toMatchObject({ code: 'APPROVAL_REJECTED', details: { reason: 'rejected', rejectedBy: 'ada', comment: 'wrong point in time' } });
    expect(run.steps.filter((s: any) => s.phase === 'cleanup').map((s: any) => s.id)).toEqual(['delete-copy']);
    expect(run.steps.find((s: any) => s.id === 'restore')).toBeUndefined();
    expect(h.proxy.count(RESTORE)).toBe(1);
    expect((await runCli(['follow', runId], env)).code).toBe(4);
    expect((await decide(runId, h.keys.admin, 'approve')).status).toBe(409);
    expect((await auditKinds(runId)).find((r) => r.kind === 'approval.decided')).toMatchObject({
      actor: 'ada',
      data: { decision: 'reject', comment: 'wrong point in time' },
    });
  });

  it('an approval nobody gives expires: the run ends `rejected` (expired), never approved', async () => {
    const runId = await start({}, 'approval-expire');
    const run = await h.waitForRun(runId, ['rejected', 'succeeded', 'failed', 'cancelled', 'aborted'], 30_000);
    expect(run.state).toBe('rejected');
    expect(run.error).toMatchObject({ code: 'APPROVAL_EXPIRED', details: { reason: 'expired' } });
    expect(run.steps.find((s: any) => s.id === 'after')).toBeUndefined();
    expect(run.steps.find((s: any) => s.id === 'tidy').state).toBe('succeeded');
    expect((await h.request('GET', `/v1/runs/${runId}/approval`)).body.state).toBe('expired');
    expect((await auditKinds(runId)).some((r) => r.kind === 'approval.expired')).toBe(true);
  });

  it('changed parameters void an approval: the run asks again and changes nothing', async () => {
    const runId = await start(recovery('billing-first'));
    const first = await pending(runId);
    // What was shown to the approver is not what the run would now do.
    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      await db.query(`UPDATE runs SET parameters = jsonb_set(parameters, '{targetIdentifier}', '"billing-other"') WHERE id = $1`, [runId]);
    } finally {
      await db.end();
    }
    expect((await decide(runId, h.keys.admin, 'approve', { comment: 'for billing-first', planHash: first.planHash })).status).toBe(200);
    const second = await eventually(
      async () => {
        const a = (await h.request('GET', `/v1/runs/${runId}/approval`)).body;
        return a.id !== first.id && a.state === 'pending' ? a : undefined;
      },
      30_000,
      'a new approval request',
    );
    expect(second.planHash).not.toBe(first.planHash);
    expect(second.plan.parameters.targetIdentifier).toBe('billing-other');
    expect(second.approvals).toEqual([]);
    expect((await h.request('GET', '/v1/approvals?state=void')).body.items.map((x: any) => x.id)).toContain(first.id);
    expect((await auditKinds(runId)).find((r) => r.kind === 'approval.voided')).toMatchObject({
      data: { previousPlanHash: first.planHash, planHash: second.planHash, approvedBy: ['ada'] },
    });
    await eventually(
      async () => ((await h.request('GET', `/v1/runs/${runId}`)).body.state === 'waiting' ? true : undefined),
      30_000,
      'the run to wait for the new approval',
    );
    expect(h.proxy.count(RESTORE)).toBe(1);
    await h.request('POST', `/v1/runs/${runId}/cancel`, { key: h.keys.operator });
    expect((await h.waitForRun(runId)).state).toBe('cancelled');
    // Nothing waits for its request any more: not pending, not approvable, not counted.
    expect((await h.request('GET', `/v1/runs/${runId}/approval`)).body).toMatchObject({ state: 'void', reason: 'run cancelled' });
    expect((await h.request('GET', '/v1/approvals?state=pending')).body.items).toEqual([]);
    expect((await decide(runId, h.keys.admin, 'approve')).status).toBe(409);
    expect((await h.request('GET', '/metrics')).text).toContain('runbookd_approvals_pending 0');
  });

  it('dry runs never wait; a failover test waits only when its target is production', async () => {
    // (A dry-run point-in-time restore is not used here: its wait step polls for a copy a dry run never makes.)
    const dry = await h.waitForRun(
      await start({ parameters: { clusterIdentifier: 'orders-aurora', environment: 'production' }, dryRun: true }, 'failover-test'),
    );
    expect(dry.state).toBe('succeeded');
    expect(dry.steps.find((s: any) => s.id === 'approval').output).toMatchObject({ required: false });
    expect(h.proxy.count('FailoverDBCluster')).toBe(0);
    const failover = await start({ parameters: { clusterIdentifier: 'orders-aurora', environment: 'production' } }, 'failover-test');
    await pending(failover);
    expect(h.proxy.count('FailoverDBCluster')).toBe(0);
    // From a terminal: the list shows it, the requester's approve is refused (77), another person's goes through.
    const env = { HOME: os.tmpdir(), RUNBOOKD_URL: h.baseUrl };
    const listed = await runCli(['approvals', '--json'], { ...env, RUNBOOKD_API_KEY: h.keys.viewer });
    expect(JSON.parse(listed.stdout).items.map((x: any) => x.runId)).toEqual([failover]);
    const table = await runCli(['approvals'], { ...env, RUNBOOKD_API_KEY: h.keys.viewer });
    expect(table.stdout).toContain('rds:FailoverDBCluster');
    expect(table.stdout).toContain(`runbookd approve ${failover}`);
    const own = await runCli(['approve', failover, '-m', 'mine'], { ...env, RUNBOOKD_API_KEY: h.keys.operator });
    expect(own.code).toBe(77);
    expect(own.stderr).toMatch(/APPROVAL_NOT_ALLOWED/);
    const given = await runCli(['approve', failover, '-m', 'ok'], { ...env, RUNBOOKD_API_KEY: h.keys.admin });
    expect(given.code).toBe(0);
    expect(given.stdout).toMatch(/approved run .*: approval now approved \(1\/1\)/);
    expect((await h.waitForRun(failover)).state).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    const staging = await h.waitForRun(await start({ parameters: { clusterIdentifier: 'orders-aurora', environment: 'staging' } }, 'failover-test'));
    expect(staging.state).toBe('succeeded');
    expect(staging.steps.find((s: any) => s.id === 'approval').output).toMatchObject({ required: false });
  });

  it("an approval request goes out through the runbook's notify targets with the plan, the console link and the CLI command", async () => {
    const failovers = h.proxy.count('FailoverDBCluster');
    const runId = await start({ parameters: { cluster: 'orders-aurora' }, reason: 'notify test' }, 'approval-notify');
    const body = await eventually(() => hookBodies.find((b) => b.runbookd?.runId === runId), 30_000, 'the approval notification');
    expect(body.runbookd).toMatchObject({
      kind: 'approval-request',
      requestedBy: 'otto',
      minApprovals: 1,
      message: 'please look at this',
      commands: { approve: `runbookd approve ${runId} -m "<comment>"` },
    });
    expect(body.runbookd.consoleUrl).toMatch(new RegExp(`/#/runs/${runId}$`));
    expect(body.attachments[0].text).toContain('change: rds:FailoverDBCluster in eu-west-1 DBClusterIdentifier=orders-aurora');
    expect(body.text).toContain(`runbookd approve ${runId}`);
    expect(h.proxy.count('FailoverDBCluster')).toBe(failovers);
    expect((await decide(runId, h.keys.admin, 'reject', { comment: 'not today' })).status).toBe(200);
    expect((await h.waitForRun(runId, ['rejected', 'succeeded', 'failed'])).state).toBe('rejected');
  });
});
