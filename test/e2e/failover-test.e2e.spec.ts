import { eventually, Harness } from '../support/runbookd';

describe('failover-test over HTTP against moto (all-in-one process)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
  });
  afterAll(async () => h?.close());

  it('fails the Aurora cluster over, measures the switch and reports old and new writer', async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'quarterly failover test' },
    });
    expect(res.status).toBe(202);
    expect(res.body.state).toBe('queued');
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(run.actor).toBe('otto');

    const cluster = await h.request('GET', `/v1/runs/${run.id}`);
    const verify = cluster.body.steps.find((s: any) => s.id === 'verify');
    expect(verify.output.writer).toBe('orders-aurora-2');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const report = (await h.request('GET', `/v1/runs/${run.id}/report`)).body;
    expect(report.final).toBe(true);
    const figure = (id: string) => report.figures.find((f: any) => f.id === id)?.value;
    expect(figure('previous-writer')).toBe('orders-aurora-1');
    expect(figure('new-writer')).toBe('orders-aurora-2');
    expect(figure('max-switch-seconds')).toBe(60);
    expect(typeof figure('switch-seconds')).toBe('number');
    expect(report.findings.map((f: any) => [f.id, f.passed])).toEqual([
      ['writer-changed', true],
      ['available', true],
      ['switch-time', true],
    ]);
    expect(report.findings.find((f: any) => f.id === 'switch-time')).toMatchObject({ target: 60, unit: 's' });

    // This runbook has no secrets: over-eager redaction would hide facts the owner needs.
    const audit = await h.request('GET', `/v1/audit?runId=${run.id}`);
    for (const body of [cluster.text, JSON.stringify(report), audit.text]) expect(body).not.toContain('[REDACTED]');

    const md = await h.request('GET', `/v1/runs/${run.id}/report?format=md`);
    expect(md.headers.get('content-type')).toContain('text/markdown');
    expect(md.text).toContain('orders-aurora-1');
    expect(md.text).toContain('orders-aurora-2');
    const html = await h.request('GET', `/v1/runs/${run.id}/report?format=html`);
    expect(html.text).toContain('<svg');

    // Cluster-wide figures from the database and the queue, for a viewer key only.
    expect((await h.request('GET', '/metrics', { key: null })).status).toBe(401);
    const metrics = await h.request('GET', '/metrics', { key: h.keys.viewer });
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.text).toContain('runbookd_runs{state="succeeded"} 1');
    expect(metrics.text).toContain('runbookd_runs_by_runbook{runbook="failover-test",state="succeeded"} 1');
    expect(metrics.text).toContain('runbookd_oldest_active_run_age_seconds 0');
    expect(metrics.text).toContain('runbookd_queue_up 1');
    const auditRecords = Number(/runbookd_audit_records (\d+)/.exec(metrics.text)?.[1]);
    expect(auditRecords).toBe((await h.request('GET', '/v1/audit/verify')).body.records);
  });
});

describe('failover-test held to a target it misses', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
  });
  afterAll(async () => h?.close());

  it('fails the run on the missed switch-time check, but only after failing back', async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora', failback: true, maxSwitchSeconds: 0.000001 } },
    });
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('failed');
    expect(run.error).toMatchObject({ code: 'FINDINGS_FAILED', details: { findings: ['switch-time'] } });
    const state = (id: string) => run.steps.find((s: any) => s.id === id)?.state;
    expect(state('failback')).toBe('succeeded');
    expect(state('failback-switch')).toBe('succeeded');
    expect(h.proxy.count('FailoverDBCluster')).toBe(2);

    const md = (await h.request('GET', `/v1/runs/${run.id}/report?format=md`)).text;
    expect(md).toMatch(/Switch time within target/);
    expect(md).toMatch(/fail/i);
  });
});

describe('failover-test in another account, through an assumed role', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
  });
  afterAll(async () => h?.close());

  it('assumes the role once and makes every RDS and guard-alarm call with it', async () => {
    const roleArn = 'arn:aws:iam::123456789012:role/runbookd-drill';
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora', roleArn, stopAlarms: ['orders-aurora-replica-lag-high'] } },
    });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('AssumeRole')).toBeGreaterThanOrEqual(1);
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    // Credentials are cached per role: not one AssumeRole per call.
    expect(h.proxy.count('AssumeRole')).toBeLessThan(h.proxy.count('DescribeDBClusters'));

    const bad = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora', roleArn: 'runbookd-drill' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors[0].field).toBe('roleArn');
  });
});

/**
 * A Multi-AZ instance in moto never changes zone on a forced-failover reboot: the switch wait
 * must say live that it is past its target, and once past it by the margin end the run with
 * what it last saw, instead of polling out its 10-minute timeout (issue 22, item 14).
 */
describe('failover-test of a Multi-AZ instance whose zone never moves (moto)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
  });
  afterAll(async () => h?.close());

  it('says "past the target" while it waits, then fails the switch with the zone it last saw', async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { dbInstanceIdentifier: 'billing-postgres', maxSwitchSeconds: 1, switchMarginSeconds: 4 }, reason: 'multi-az in moto' },
    });
    expect(res.status).toBe(202);
    const notes: string[] = [];
    const run = await eventually(
      async () => {
        const view = (await h.request('GET', `/v1/runs/${res.body.id}`)).body;
        const note = view.steps.find((s: any) => s.id === 'switch')?.note;
        if (note) notes.push(note);
        return ['failed', 'succeeded', 'aborted', 'cancelled'].includes(view.state) ? view : undefined;
      },
      120_000,
      'the failover run to end',
    );
    expect(run.state).toBe('failed');
    const switchStep = run.steps.find((s: any) => s.id === 'switch');
    expect(switchStep.state).toBe('failed');
    expect(switchStep.error).toMatchObject({
      code: 'SWITCH_TARGET_MISSED',
      details: { targetSeconds: 1, marginSeconds: 4, previousWriter: expect.any(String), lastSeen: { status: 'available' } },
    });
    // What it last saw: the zone it started in, named in words.
    expect(switchStep.error.details.lastSeen.writer).toBe(switchStep.error.details.previousWriter);
    expect(switchStep.error.message).toMatch(new RegExp(`past the 1 s target by [\\d.]+ s .*primary zone ${switchStep.error.details.previousWriter}`));
    // Given up soon after target + margin, not at the step's 10-minute timeout.
    expect(switchStep.error.details.elapsedSeconds).toBeGreaterThan(5);
    expect(switchStep.error.details.elapsedSeconds).toBeLessThan(120);
    expect(notes.some((n) => /past the 1 s target by [\d.]+ s \(gives up at 5 s\)/.test(n))).toBe(true);
    expect(run.error).toMatchObject({ code: 'SWITCH_TARGET_MISSED' });
    expect(run.steps.find((s: any) => s.id === 'verify')?.state ?? 'not reached').not.toBe('succeeded');
    expect(h.proxy.count('RebootDBInstance')).toBe(1);
  }, 150_000);
});
