import { Harness } from '../support/runbookd';
import { ACCOUNTS, childrenOf, FLEET_ENV, REGIONS, sampleRunning, seedDb, type SeededDb } from './fleet-support';

/**
 * The issue's own case, with the shipped backup-verification as the child (not a probe): 30
 * production instances with snapshots and 10 untagged ones, spread over three accounts (home +
 * two by STS AssumeRole) and two regions in moto. One fleet verifies exactly the 30, never more
 * than 4 at once, and one report lists the 30 with their figures. Then maxErrors with targets
 * that must fail (no snapshot).
 */
describe('fleet backup-verification (moto: 3 accounts × 2 regions, 40 instances)', () => {
  let h: Harness;
  const dbs: SeededDb[] = [];
  /** Every AWS request whose body names an untagged instance: there must be none. */
  const touchedUntagged: string[] = [];
  beforeAll(async () => {
    h = await Harness.start({ role: 'all', seed: false, env: { ...FLEET_ENV, RUNBOOKD_WORKER_CONCURRENCY: '10' } });
    const seeds: Array<Promise<SeededDb>> = [];
    for (const account of ACCOUNTS) {
      for (const region of REGIONS) {
        const short = `${account.slice(0, 1)}${region.slice(0, 2)}`;
        // 5 tagged with a snapshot per account and region (30), and a few untagged (10 in all).
        for (let i = 0; i < 5; i++) seeds.push(seedDb(h.moto.endpoint, { account, region, id: `prod-${short}-${i}`, tags: { environment: 'production' } }));
        const untagged = account === ACCOUNTS[0] ? 1 : 2;
        for (let i = 0; i < untagged; i++)
          seeds.push(seedDb(h.moto.endpoint, { account, region, id: `untagged-${short}-${i}`, tags: { environment: 'staging' } }));
        // The maxErrors case: 5 with no snapshot (they must fail) among 3 with one.
        if (account === ACCOUNTS[1]) {
          for (let i = 0; i < (region === REGIONS[0] ? 3 : 2); i++)
            seeds.push(seedDb(h.moto.endpoint, { account, region, id: `nosnap-${short}-${i}`, tags: { check: 'errors' } }, 'none'));
          for (let i = 0; i < (region === REGIONS[0] ? 1 : 2); i++)
            seeds.push(seedDb(h.moto.endpoint, { account, region, id: `snap-${short}-${i}`, tags: { check: 'errors' } }));
        }
      }
    }
    // A few at a time: moto is one process on a shared machine.
    for (let i = 0; i < seeds.length; i += 8) dbs.push(...(await Promise.all(seeds.slice(i, i + 8))));
    h.proxy.onRequest('*', (info) => {
      if (info.body.toString('utf8').includes('untagged-')) touchedUntagged.push(info.action);
    });
  }, 180_000);
  afterAll(async () => h?.close());

  const post = (body: Record<string, unknown>) => h.request('POST', '/v1/runbooks/backup-verification/runs', { key: h.keys.operator, body });

  it('verifies exactly the 30 tagged instances, never more than 4 at once, untagged untouched, one report with their figures', async () => {
    const tagged = dbs.filter((d) => d.tags.environment === 'production');
    const untagged = dbs.filter((d) => d.id.startsWith('untagged-'));
    expect(tagged).toHaveLength(30);
    expect(untagged).toHaveLength(10);
    const res = await post({
      targets: { resourceType: 'rds:db', tags: { environment: 'production' }, accounts: 'allowed', regions: REGIONS },
      parameters: { pollSeconds: 0.2, drRegion: '' },
      maxConcurrency: 4,
      maxErrors: 0,
    });
    expect(res.status).toBe(202);
    const list = res.body.steps.find((s: any) => s.id === 'targets').output.targets as any[];
    expect(list.map((t) => t.arn).sort()).toEqual(tagged.map((d) => d.arn).sort());

    const sampler = sampleRunning(h, res.body.id, 50);
    const started = Date.now();
    const run = await h.waitForRun(res.body.id, undefined, 600_000);
    const seconds = (Date.now() - started) / 1000;
    const samples = await sampler.stop();
    // Said, not asserted: how long 30 restore tests took on this machine (a shared, loaded one).
    process.stderr.write(`fleet backup-verification: 30 targets in ${seconds.toFixed(1)} s, ${samples.length} samples, peak ${Math.max(...samples)} running\n`);
    expect(run.state).toBe('succeeded');
    expect(Math.max(...samples)).toBeLessThanOrEqual(4);
    expect(Math.max(...samples)).toBeGreaterThanOrEqual(2);

    const children = await childrenOf(h, res.body.id);
    expect(children).toHaveLength(30);
    expect(children.every((c) => c.state === 'succeeded')).toBe(true);
    expect(children.map((c) => c.parameters.dbInstanceIdentifier).sort()).toEqual(tagged.map((d) => d.id).sort());
    // Cross-account targets were reached through their account's role, the home account with the default credentials.
    for (const c of children) {
      const db = tagged.find((d) => d.id === c.parameters.dbInstanceIdentifier)!;
      expect({ id: db.id, region: c.parameters.region, roleArn: c.parameters.roleArn ?? null }).toEqual({
        id: db.id,
        region: db.region,
        roleArn: db.account === ACCOUNTS[0] ? null : `arn:aws:iam::${db.account}:role/runbookd`,
      });
    }
    // 30 restores and 30 deletes reached moto, none naming an untagged instance.
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(30);
    expect(h.proxy.count('DeleteDBInstance')).toBe(30);
    expect(touchedUntagged).toEqual([]);

    const report = (await h.request('GET', `/v1/runs/${res.body.id}/report`)).body;
    expect(report.fleet.summary).toBe('30 passed, 0 failed, 0 skipped');
    expect(report.fleet.targets.map((t: any) => t.arn).sort()).toEqual(tagged.map((d) => d.arn).sort());
    for (const row of report.fleet.targets) {
      const figures = Object.fromEntries(row.figures.map((f: any) => [f.id, f.value]));
      expect({ arn: row.arn, outcome: row.outcome, rto: typeof figures['rto-minutes'], point: figures['restore-point'] }).toEqual({
        arn: row.arn,
        outcome: 'succeeded',
        rto: 'number',
        point: `${row.id}-manual`,
      });
    }
    const csv = (await h.request('GET', `/v1/runs/${res.body.id}/report?format=csv`)).text.trim().split('\r\n');
    expect(csv).toHaveLength(31);
  }, 700_000);

  it('maxErrors 2 with 5 targets that must fail: none starts after the third failure, the rest skipped, the counts exact', async () => {
    const res = await post({
      targets: { resourceType: 'rds:db', tags: { check: 'errors' }, accounts: 'allowed', regions: REGIONS },
      parameters: { pollSeconds: 0.2, drRegion: '' },
      maxConcurrency: 2,
      maxErrors: 2,
    });
    expect(res.status).toBe(202);
    const list = res.body.steps.find((s: any) => s.id === 'targets').output.targets as any[];
    expect(list).toHaveLength(8);
    const run = await h.waitForRun(res.body.id, undefined, 300_000);
    expect(run.state).toBe('failed');

    const children = await childrenOf(h, res.body.id);
    const failed = children.filter((c) => c.state === 'failed').sort((a, b) => +a.ended_at! - +b.ended_at!);
    const passed = children.filter((c) => c.state === 'succeeded');
    expect(failed.length).toBeGreaterThanOrEqual(3);
    // Every failure is a target with no snapshot; every pass one with a snapshot.
    expect(failed.every((c) => String(c.parameters.dbInstanceIdentifier).startsWith('nosnap-'))).toBe(true);
    expect(passed.every((c) => String(c.parameters.dbInstanceIdentifier).startsWith('snap-'))).toBe(true);
    expect(failed.length + passed.length).toBe(children.length);
    // SSM's rule: once the third failure is seen, nothing more starts (the ones already running finish).
    const third = failed[2].ended_at!;
    expect(children.filter((c) => c.created_at > third).map((c) => c.parameters.dbInstanceIdentifier)).toEqual([]);

    const report = (await h.request('GET', `/v1/runs/${res.body.id}/report`)).body;
    const skipped = 8 - children.length;
    expect(skipped).toBeGreaterThan(0);
    expect(report.fleet).toMatchObject({
      stopped: true,
      counts: { total: 8, passed: passed.length, failed: failed.length, skipped },
      summary: `${passed.length} passed, ${failed.length} failed, ${skipped} skipped`,
    });
    const started = new Set(children.map((c) => c.parameters.dbInstanceIdentifier));
    for (const row of report.fleet.targets) expect({ id: row.id, outcome: row.outcome === 'skipped' }).toEqual({ id: row.id, outcome: !started.has(row.id) });
    expect(report.findings.find((f: any) => f.id === 'fleet-max-errors')).toMatchObject({ passed: false, measured: failed.length, target: 2 });
  }, 400_000);
  it("a dry-run fleet is the list plus each target's plan, and changes nothing at AWS", async () => {
    h.proxy.clear();
    const res = await post({
      targets: { resourceType: 'rds:db', tags: { environment: 'production' }, accounts: 'allowed', regions: REGIONS },
      parameters: { pollSeconds: 0.2, drRegion: '' },
      maxConcurrency: 10,
      dryRun: true,
    });
    expect(res.status).toBe(202);
    expect(res.body.steps.find((s: any) => s.id === 'targets').output.targets).toHaveLength(30);
    const run = await h.waitForRun(res.body.id, undefined, 300_000);
    expect(run.state).toBe('succeeded');
    // Nothing that changes state reached moto: no restore, no delete, no tag.
    const mutating = h.proxy
      .calls()
      .filter((c) => /^(Restore|Create|Delete|Modify|AddTags|Start|Put)/.test(c.action))
      .map((c) => c.action);
    expect(mutating).toEqual([]);
    const report = (await h.request('GET', `/v1/runs/${res.body.id}/report`)).body;
    expect(report.fleet.dryRun).toBe(true);
    expect(report.fleet.targets).toHaveLength(30);
    // Each target's plan: the restore and the delete its child would call.
    for (const row of report.fleet.targets) expect({ arn: row.arn, planned: row.plannedCalls > 0 }).toEqual({ arn: row.arn, planned: true });
    const child = (await h.request('GET', `/v1/runs/${report.fleet.targets[0].childRunId}/report`)).body;
    expect(child.plannedCalls.map((c: any) => c.operation ?? c.api)).toEqual(expect.arrayContaining(['RestoreDBInstanceFromDBSnapshot']));
  }, 400_000);

  it('an Idempotency-Key repeat must name the same targets and rate control', async () => {
    const body = {
      targets: { tags: { check: 'errors' }, accounts: 'allowed', regions: REGIONS },
      parameters: { drRegion: '' },
      maxConcurrency: 2,
      maxErrors: 2,
      dryRun: true,
    };
    const send = (b: Record<string, unknown>) =>
      h.request('POST', '/v1/runbooks/backup-verification/runs', { key: h.keys.operator, body: b, headers: { 'idempotency-key': 'fleet-idem-1' } });
    const first = await send(body);
    expect(first.status).toBe(202);
    const again = await send(body);
    expect({ status: again.status, id: again.body.id }).toEqual({ status: 200, id: first.body.id });
    for (const other of [
      { ...body, targets: { ...body.targets, tags: { environment: 'production' } } },
      { ...body, targets: { ...body.targets, regions: [REGIONS[0]] } },
      { ...body, maxConcurrency: 3 },
      { ...body, maxErrors: '50%' },
    ]) {
      const res = await send(other);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    }
    await h.waitForRun(first.body.id, undefined, 300_000);
  }, 400_000);
});
