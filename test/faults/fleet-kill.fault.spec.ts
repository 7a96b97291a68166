import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { eventually, Harness } from '../support/runbookd';
import { ACCOUNTS, childrenOf, FLEET_ENV, rdsIn, REGIONS, seedDb, type SeededDb } from '../e2e/fleet-support';
import { killWorkers, saidOrDied, verifyAudit } from './fault-support';

/**
 * SIGKILL of the worker process driving a fleet (spawned from dist/, as in production): once
 * while it starts a child (after the child's acceptance committed, before the parent's look
 * records anything), once while children run. A fresh worker takes over each time. The child is
 * the shipped backup-verification, which restores a copy and deletes it, so a target run twice
 * would show as a second restore at moto. Per case: one child per target, every target restored
 * and deleted exactly once, nothing left behind in any account or region, the fleet ends.
 */
describe('fleet: SIGKILL of the worker driving it', () => {
  let h: Harness;
  const dbs: SeededDb[] = [];
  beforeAll(async () => {
    h = await Harness.start({ role: 'api', seed: false, env: FLEET_ENV });
    for (const account of ACCOUNTS) {
      for (const region of REGIONS) {
        const short = `${account.slice(0, 1)}${region.slice(0, 2)}`;
        for (let i = 0; i < 2; i++) dbs.push(await seedDb(h.moto.endpoint, { account, region, id: `kill-${short}-${i}`, tags: { fleet: 'kill' } }));
      }
    }
  }, 180_000);
  afterEach(async () => killWorkers(h), 60_000);
  afterAll(async () => h?.close(), 60_000);

  const startFleet = async () => {
    h.proxy.clear();
    const res = await h.request('POST', '/v1/runbooks/backup-verification/runs', {
      key: h.keys.operator,
      body: {
        targets: { tags: { fleet: 'kill' }, accounts: 'allowed', regions: REGIONS },
        parameters: { pollSeconds: 0.2, drRegion: '' },
        maxConcurrency: 3,
        maxErrors: 0,
      },
    });
    if (res.status !== 202) throw new Error(`fleet: ${res.status} ${res.text}`);
    return res.body.id as string;
  };

  /** Restored copies (`rbd-…`) still there, in every account and region. */
  const leftovers = async () => {
    const out: string[] = [];
    for (const account of ACCOUNTS) {
      for (const region of REGIONS) {
        const rds = rdsIn(h.moto.endpoint, account, region);
        try {
          const all = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
          out.push(
            ...all
              .filter((i) => i.DBInstanceIdentifier?.startsWith('rbd-') && i.DBInstanceStatus !== 'deleting')
              .map((i) => `${account}/${region}/${i.DBInstanceIdentifier}`),
          );
        } finally {
          rds.destroy();
        }
      }
    }
    return out;
  };

  const expectOnceEach = async (fleetId: string) => {
    const run = await h.waitForRun(fleetId, undefined, 300_000);
    expect(run.state).toBe('succeeded');
    const children = await childrenOf(h, fleetId);
    const ids = children.map((c) => String(c.parameters.dbInstanceIdentifier)).sort();
    expect(ids).toEqual(dbs.map((d) => d.id).sort());
    expect(new Set(children.map((c) => c.dedupe_key)).size).toBe(dbs.length);
    expect(children.every((c) => c.state === 'succeeded')).toBe(true);
    // Each target's restore test ran once: one restore and one delete per target reached AWS.
    expect(h.proxy.count('RestoreDBInstanceFromDBSnapshot')).toBe(dbs.length);
    expect(h.proxy.count('DeleteDBInstance')).toBe(dbs.length);
    expect(await leftovers()).toEqual([]);
    const report = (await h.request('GET', `/v1/runs/${fleetId}/report`)).body;
    expect(report.fleet.summary).toBe(`${dbs.length} passed, 0 failed, 0 skipped`);
    expect((await verifyAudit(h)).ok).toBe(true);
  };

  it('killed while it starts a child (the child accepted, nothing recorded by the parent yet): the next worker starts no duplicate', async () => {
    const armed = await h.startWorker({ RUNBOOKD_FAULT_INJECT: 'crash@step:fleet-child:after' });
    const fleetId = await startFleet();
    expect(await saidOrDied(h, armed, 'fault-injector: crash at step:fleet-child:after', 120_000)).toBe('said');
    await eventually(() => (armed.signalCode === 'SIGKILL' ? true : undefined), 20_000, 'the armed worker to die');
    // The crash left an accepted child the parent never heard of.
    expect((await childrenOf(h, fleetId)).length).toBeGreaterThanOrEqual(1);
    await h.startWorker();
    await expectOnceEach(fleetId);
  }, 400_000);

  it('killed while children run: the next worker resumes the fleet and its children, each target once', async () => {
    const first = await h.startWorker();
    const fleetId = await startFleet();
    await eventually(
      async () => {
        const running = (await childrenOf(h, fleetId)).filter((c) => c.started_at && c.phase !== 'done');
        return running.length >= 2 ? true : undefined;
      },
      120_000,
      'two children running',
    );
    first.kill('SIGKILL');
    await eventually(() => (first.signalCode ? true : undefined), 20_000, 'the worker to die');
    await h.startWorker();
    await expectOnceEach(fleetId);
  }, 400_000);
});
