import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { eventually, Harness, REGION, ROOT } from '../support/runbookd';

/**
 * Composite runbooks: a `runbook.run` step starts a child run and waits for it without holding
 * a worker. Children here are the real failover-test (against moto) and a sleeping fixture.
 */
describe('composite runbooks (runbook.run)', () => {
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'runbookd-composite-'));
    await cp(path.join(ROOT, 'test/e2e/fixtures/composite'), dir, { recursive: true });
    await copyFile(path.join(ROOT, 'runbooks/failover-test.yaml'), path.join(dir, 'failover-test.yaml'));
    h = await Harness.start({ role: 'all', runbooksDir: dir });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const start = async (runbook: string, parameters: Record<string, unknown> = {}) => {
    const res = await h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: h.keys.operator, body: { parameters } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  it('runs the children in turn, links them both ways, and carries their findings into the parent report', async () => {
    const id = await start('composite-pair');
    const parent = await h.waitForRun(id);
    expect(parent.state).toBe('succeeded');
    expect(parent.parent).toBeNull();
    expect(parent.children.map((c: any) => [c.runbookId, c.stepId, c.state])).toEqual([
      ['failover-test', 'failover', 'succeeded'],
      ['sleepy-child', 'pause', 'succeeded'],
    ]);
    const childId = parent.children[0].runId;
    const child = (await h.request('GET', `/v1/runs/${childId}`)).body;
    expect(child.trigger).toMatchObject({ kind: 'parent', parentRunId: id, parentStepId: 'failover' });
    expect(child.parent).toEqual({ runId: id, stepId: 'failover', link: `/v1/runs/${id}` });
    expect(parent.steps.find((s: any) => s.id === 'failover').output.childRunId).toBe(childId);
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const report = (await h.request('GET', `/v1/runs/${id}/report`)).body;
    const finding = (fid: string) => report.findings.find((f: any) => f.id === fid);
    expect(finding('switch-time')).toMatchObject({ passed: true, stepId: 'failover', target: 60 });
    expect(finding('failover-test-succeeded')).toMatchObject({ passed: true, stepId: 'failover' });
    expect(report.figures.find((f: any) => f.id === 'switch-seconds')).toMatchObject({ stepId: 'failover', unit: 's' });
    const switchObjective = report.drill.objectives.find((o: any) => o.id === 'failover-switch-time');
    expect(switchObjective).toMatchObject({
      status: 'pass',
      target: 60,
      unit: 's',
      source: { runId: childId, runbookId: 'failover-test', findingId: 'switch-time' },
    });
    expect(typeof switchObjective.measured).toBe('number');
    // No backup child in this composite: those objectives say so instead of passing.
    expect(report.drill.objectives.find((o: any) => o.id === 'rpo-newest-backup-age')).toMatchObject({ status: 'not-measured', measured: null });

    // A resumed or retried parent step finds its child by dedupe key: still one child per step.
    const audit = (await h.request('GET', `/v1/audit?runId=${childId}`)).body.items as any[];
    expect(audit.filter((e) => e.kind === 'run.accepted')).toHaveLength(1);
  }, 60_000);

  it('a failing child without continueOnFailure fails the parent at that step; the next child never starts', async () => {
    const id = await start('composite-pair', { maxSwitchSeconds: 0.000001 });
    const parent = await h.waitForRun(id);
    expect(parent.state).toBe('failed');
    expect(parent.error).toMatchObject({ code: 'CHILD_RUN_FAILED', details: { runbookId: 'failover-test', state: 'failed' } });
    expect(parent.children.map((c: any) => [c.runbookId, c.state])).toEqual([['failover-test', 'failed']]);
    expect(parent.steps.find((s: any) => s.id === 'pause')).toBeUndefined();
    // The objectives step is cleanup: it still reports what the failed child measured.
    const report = (await h.request('GET', `/v1/runs/${id}/report`)).body;
    expect(report.drill.objectives.find((o: any) => o.id === 'failover-switch-time')).toMatchObject({ status: 'fail' });
  }, 60_000);

  it('a failing child with continueOnFailure is a failed finding, and the parent goes on to the next child', async () => {
    const id = await start('composite-pair', { maxSwitchSeconds: 0.000001, continueOnFailure: true });
    const parent = await h.waitForRun(id);
    expect(parent.state).toBe('failed');
    expect(parent.error.code).toBe('FINDINGS_FAILED');
    expect(parent.error.details.findings).toEqual(expect.arrayContaining(['switch-time', 'failover-test-succeeded']));
    expect(parent.children.map((c: any) => [c.runbookId, c.state])).toEqual([
      ['failover-test', 'failed'],
      ['sleepy-child', 'succeeded'],
    ]);
    expect(parent.steps.find((s: any) => s.id === 'failover').state).toBe('succeeded');
  }, 60_000);

  it('a dry-run parent starts dry-run children: the failover is planned, not sent', async () => {
    const before = h.proxy.count('FailoverDBCluster');
    const res = await h.request('POST', '/v1/runbooks/composite-pair/runs', { key: h.keys.operator, body: { parameters: {}, dryRun: true } });
    const parent = await h.waitForRun(res.body.id);
    expect(parent.state).toBe('succeeded');
    const child = (await h.request('GET', `/v1/runs/${parent.children[0].runId}`)).body;
    expect(child.dryRun).toBe(true);
    expect(child.steps.find((s: any) => s.id === 'failover').state).toBe('planned');
    expect(h.proxy.count('FailoverDBCluster')).toBe(before);
  }, 60_000);

  it('cancelling the parent cancels its active child', async () => {
    const id = await start('composite-long');
    const childId = await eventually(
      async () => {
        const p = (await h.request('GET', `/v1/runs/${id}`)).body;
        const c = p.children?.[0];
        return c && c.state === 'waiting' ? (c.runId as string) : undefined;
      },
      20_000,
      'the child to be sleeping',
    );
    const res = await h.request('POST', `/v1/runs/${id}/cancel`, { key: h.keys.operator });
    expect(res.status).toBe(202);
    const child = await h.waitForRun(childId, ['cancelled', 'failed', 'succeeded'], 20_000);
    expect(child.state).toBe('cancelled');
    const parent = await h.waitForRun(id, ['cancelled', 'failed', 'succeeded'], 20_000);
    expect(parent.state).toBe('cancelled');
    const audit = (await h.request('GET', `/v1/audit?runId=${childId}`)).body.items as any[];
    expect(audit.find((e) => e.kind === 'run.cancel-requested')).toMatchObject({ actor: 'otto', data: { parentRunId: id } });
  }, 60_000);

  it('a guard alarm in ALARM stops the parent before runbook.run starts a child: no child run exists', async () => {
    const cloudwatch = new CloudWatchClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      await cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'orders-aurora-replica-lag-high', StateValue: 'ALARM', StateReason: 'composite guard test' }),
      );
      const id = await start('composite-guarded');
      const run = await h.waitForRun(id);
      expect(run.state).toBe('aborted');
      expect(run.error.code).toBe('STOP_CONDITION');
      expect(run.children ?? []).toEqual([]);
    } finally {
      await cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'orders-aurora-replica-lag-high', StateValue: 'OK', StateReason: 'composite guard test over' }),
      );
      cloudwatch.destroy();
    }
  });
});
