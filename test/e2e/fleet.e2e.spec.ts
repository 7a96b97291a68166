import { Harness } from '../support/runbookd';
import { A2, A3, ACCOUNTS, childrenOf, FLEET_ENV, HOME, REGIONS, runbooksDir, sampleRunning, seedDb, sql, tagDb, type SeededDb } from './fleet-support';

/**
 * Fleet runs end to end against moto, three accounts (home + two by AssumeRole) and two regions,
 * with a probe runbook as the child: refusals, rate control, a list fixed at acceptance, dry run, cancel.
 */
describe('fleet runs (REST, moto: 3 accounts × 2 regions)', () => {
  let h: Harness;
  const dbs: SeededDb[] = [];
  beforeAll(async () => {
    h = await Harness.start({
      role: 'all',
      seed: false,
      runbooksDir: runbooksDir(['rds-manual-snapshot']),
      env: { ...FLEET_ENV, RUNBOOKD_WORKER_CONCURRENCY: '20' },
    });
    // Per account and region: two probes, one failing probe, one untagged instance.
    for (const account of ACCOUNTS) {
      for (const region of REGIONS) {
        const short = `${account.slice(0, 1)}${region.slice(0, 2)}`;
        dbs.push(await seedDb(h.moto.endpoint, { account, region, id: `probe-a-${short}`, tags: { fleet: 'probe' } }, false));
        dbs.push(await seedDb(h.moto.endpoint, { account, region, id: `probe-b-${short}`, tags: { fleet: 'probe' } }, false));
        dbs.push(await seedDb(h.moto.endpoint, { account, region, id: `probe-f-${short}`, tags: { fleet: 'mixed', fail: 'yes' } }, false));
        dbs.push(await seedDb(h.moto.endpoint, { account, region, id: `plain-${short}`, tags: {} }, false));
      }
    }
  }, 120_000);
  afterAll(async () => h?.close());

  const post = (runbook: string, body: Record<string, unknown>, key = h.keys.operator) => h.request('POST', `/v1/runbooks/${runbook}/runs`, { key, body });
  const runCount = async () => Number((await sql(h, 'SELECT count(*)::int AS n FROM runs'))[0].n);
  const byTag = (tags: Record<string, string>, more: Record<string, unknown> = {}) => ({ targets: { tags, accounts: 'allowed', regions: REGIONS, ...more } });

  it('refuses what it cannot act on with a clear error, recording nothing', async () => {
    const before = await runCount();
    const cases: Array<[string, string, Record<string, unknown>, number, string, Record<string, unknown>?]> = [
      ['no fleet: section', 'plain-probe', { targets: ['x'] }, 422, 'FLEET_NOT_SUPPORTED'],
      ['resolves to nothing', 'fleet-probe', byTag({ fleet: 'nothing-has-this' }), 422, 'FLEET_TARGETS_EMPTY'],
      [
        'account outside the allow-list',
        'fleet-probe',
        { targets: { tags: { fleet: 'probe' }, accounts: [HOME, '444444444444'] } },
        403,
        'TARGET_NOT_ALLOWED',
        { account: '444444444444' },
      ],
      [
        'a type the runbook does not bind',
        'fleet-probe',
        { targets: { resourceType: 'ecs:service', tags: { fleet: 'probe' } } },
        422,
        'FLEET_RESOURCE_TYPE_NOT_BOUND',
      ],
      [
        'maxErrors not a count or percentage',
        'fleet-probe',
        { ...byTag({ fleet: 'probe' }), maxErrors: 'a few' },
        422,
        'FLEET_RATE_INVALID',
        { field: 'maxErrors' },
      ],
      ['maxConcurrency zero', 'fleet-probe', { ...byTag({ fleet: 'probe' }), maxConcurrency: '0%' }, 422, 'FLEET_RATE_INVALID', { field: 'maxConcurrency' }],
      [
        'explicit ARN in an unlisted region',
        'fleet-probe',
        { targets: { resources: [dbs[0].arn], regions: ['us-east-1'] } },
        422,
        'FLEET_TARGETS_INVALID',
        { field: 'targets.resources[0]' },
      ],
      [
        'explicit ARN in an unlisted account',
        'fleet-probe',
        { targets: { resources: [dbs[0].arn], accounts: [A2] } },
        422,
        'FLEET_TARGETS_INVALID',
        { field: 'targets.resources[0]' },
      ],
      [
        'a bound parameter given as common',
        'fleet-probe',
        { ...byTag({ fleet: 'probe' }), parameters: { dbInstanceIdentifier: 'x' } },
        422,
        'FLEET_TARGETS_INVALID',
      ],
      [
        'rate control without targets',
        'fleet-probe',
        { parameters: { dbInstanceIdentifier: 'x' }, maxErrors: 1 },
        400,
        'INVALID_REQUEST',
        { field: 'maxErrors' },
      ],
    ];
    for (const [what, runbook, body, status, code, details] of cases) {
      const res = await post(runbook, body);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status, code });
      if (details) expect(res.body.error.details).toMatchObject(details);
    }
    expect(res403Names(await post('fleet-probe', cases[2][2]))).toContain('444444444444');
    expect(await runCount()).toBe(before);
  });

  it('allowEmpty records an empty fleet that succeeds with nothing started', async () => {
    const res = await post('fleet-probe', { ...byTag({ fleet: 'nothing-has-this' }), allowEmpty: true });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(await childrenOf(h, res.body.id)).toEqual([]);
  });

  it('shows the resolved list at once, starts one child per target under maxConcurrency, and reports every target', async () => {
    const res = await post('fleet-probe', { ...byTag({ fleet: 'probe' }), parameters: { holdSeconds: 1 }, maxConcurrency: 4, maxErrors: 0 });
    expect(res.status).toBe(202);
    // Before anything started: the list is in the run, as the `targets` step's output.
    const targets = res.body.steps.find((s: any) => s.id === 'targets');
    expect(targets.output.targets).toHaveLength(12);
    expect(targets.output.limits).toEqual({ maxConcurrency: 4, maxErrors: 0, maxConcurrencyPerAccountRegion: null });
    const roles = new Set(targets.output.targets.map((t: any) => `${t.account}:${t.roleArn}`));
    expect(roles).toEqual(new Set([`${HOME}:null`, `${A2}:arn:aws:iam::${A2}:role/runbookd`, `${A3}:arn:aws:iam::${A3}:role/runbookd`]));
    const sampler = sampleRunning(h, res.body.id);
    const run = await h.waitForRun(res.body.id, undefined, 90_000);
    const samples = await sampler.stop();
    expect(run.state).toBe('succeeded');
    expect(Math.max(...samples)).toBeLessThanOrEqual(4);
    expect(Math.max(...samples)).toBeGreaterThanOrEqual(2);

    const children = await childrenOf(h, res.body.id);
    const expected = dbs
      .filter((d) => d.tags.fleet === 'probe')
      .map((d) => d.id)
      .sort();
    expect(children.map((c) => c.parameters.dbInstanceIdentifier).sort()).toEqual(expected);
    expect(new Set(children.map((c) => c.dedupe_key)).size).toBe(12);
    expect(children.every((c) => c.state === 'succeeded')).toBe(true);

    const audit = (await h.request('GET', `/v1/audit?runId=${res.body.id}&limit=500`)).body.items as any[];
    const resolved = audit.find((e) => e.kind === 'fleet.targets-resolved');
    expect(resolved.data.count).toBe(12);
    expect(resolved.data.targets.map((t: any) => t.arn).sort()).toEqual(
      dbs
        .filter((d) => d.tags.fleet === 'probe')
        .map((d) => d.arn)
        .sort(),
    );

    const report = (await h.request('GET', `/v1/runs/${res.body.id}/report`)).body;
    expect(report.fleet.summary).toBe('12 passed, 0 failed, 0 skipped');
    expect(report.fleet.targets).toHaveLength(12);
    expect(report.fleet.targets[0]).toMatchObject({ outcome: 'succeeded', childRunId: expect.any(String), durationSeconds: expect.any(Number) });
    const csv = await h.request('GET', `/v1/runs/${res.body.id}/report?format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.trim().split('\r\n')).toHaveLength(13);
    const md = await h.request('GET', `/v1/runs/${res.body.id}/report?format=md`);
    expect(md.text).toContain('12 passed, 0 failed, 0 skipped');
  }, 120_000);

  it('maxErrors 2 with failing targets: no target starts after the third failure, the rest are skipped, the counts exact', async () => {
    // 6 failing and 6 passing probes in list order (account, region, ARN): f sorts after a and b in each place.
    const res = await post('fleet-probe', { ...byTag({ fleet: 'mixed' }), parameters: { holdSeconds: 0 }, maxConcurrency: 1, maxErrors: 2 });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id, undefined, 90_000);
    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('FINDINGS_FAILED');
    const children = await childrenOf(h, res.body.id);
    expect(children).toHaveLength(3);
    expect(children.every((c) => c.state === 'failed')).toBe(true);
    const report = (await h.request('GET', `/v1/runs/${res.body.id}/report`)).body;
    expect(report.fleet).toMatchObject({ summary: '0 passed, 3 failed, 3 skipped', stopped: true, counts: { total: 6, passed: 0, failed: 3, skipped: 3 } });
    expect(report.fleet.targets.map((t: any) => t.outcome)).toEqual(['failed', 'failed', 'failed', 'skipped', 'skipped', 'skipped']);
    expect(report.findings.find((f: any) => f.id === 'fleet-max-errors')).toMatchObject({ passed: false, measured: 3, target: 2 });
  }, 120_000);

  it('acts on the list fixed at acceptance: a resource tagged afterwards is not touched', async () => {
    const res = await post('fleet-probe', {
      targets: { tags: { fleet: 'late' }, accounts: [HOME], regions: ['eu-west-1'] },
      allowEmpty: true,
      parameters: { holdSeconds: 0 },
    });
    expect(res.status).toBe(202);
    const late = dbs.find((d) => d.account === HOME && d.region === 'eu-west-1' && d.id.startsWith('plain-'))!;
    await tagDb(h.moto.endpoint, late, { fleet: 'late' });
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');
    expect(await childrenOf(h, res.body.id)).toEqual([]);
    // The tag is real: a new fleet finds it.
    const again = await post('fleet-probe', { targets: { tags: { fleet: 'late' }, accounts: [HOME], regions: ['eu-west-1'] }, parameters: { holdSeconds: 0 } });
    expect(again.body.steps.find((s: any) => s.id === 'targets').output.targets.map((t: any) => t.id)).toEqual([late.id]);
    await h.waitForRun(again.body.id);
  }, 60_000);

  it('cancel mid-fleet starts no new target and cancels the running ones', async () => {
    const res = await post('fleet-probe', { ...byTag({ fleet: 'probe' }), parameters: { holdSeconds: 30 }, maxConcurrency: 2 });
    expect(res.status).toBe(202);
    const running = async () => (await childrenOf(h, res.body.id)).filter((c) => c.started_at);
    const deadline = Date.now() + 30_000;
    while ((await running()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await running()).length).toBe(2);
    const cancel = await h.request('POST', `/v1/runs/${res.body.id}/cancel`, { key: h.keys.operator });
    expect(cancel.status).toBe(202);
    const run = await h.waitForRun(res.body.id, undefined, 60_000);
    expect(run.state).toBe('cancelled');
    const children = await childrenOf(h, res.body.id);
    expect(children).toHaveLength(2);
    for (const c of children) expect((await h.waitForRun(c.id)).state).toBe('cancelled');
  }, 120_000);
});

function res403Names(res: { status: number; body: any }): string {
  expect(res.status).toBe(403);
  return res.body.error.message;
}
