import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { SANDBOX_ESTATE } from '../../scripts/sandbox/seed-estate';
import { Harness, REGION, ROOT } from '../support/runbookd';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const FINAL = ['succeeded', 'failed', 'aborted', 'cancelled', 'rejected'];
const ecs = { cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service };

/**
 * One dry run per shipped runbook (and per kind of subject where a runbook takes either), with
 * the parameters an on-call engineer would give against the seeded sandbox and the runbook's own
 * defaults (poll intervals, bake times): a plan must end in seconds, never wait on what it only
 * planned. The list is checked against runbooks/, so a new runbook without a case fails here.
 */
const CASES: Array<{ runbook: string; parameters: Record<string, unknown> }> = [
  { runbook: 'backup-verification', parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance } },
  { runbook: 'backup-verification', parameters: { clusterIdentifier: SANDBOX_ESTATE.cluster, drRegion: '' } },
  { runbook: 'canary-rollback', parameters: { ...ecs, alarmName: SANDBOX_CANARY.alarm } },
  { runbook: 'capacity-report', parameters: {} },
  { runbook: 'ecs-deploy-with-target-health', parameters: ecs },
  { runbook: 'ecs-force-new-deployment', parameters: ecs },
  { runbook: 'ecs-mark-known-good', parameters: { ...ecs, alarmName: SANDBOX_CANARY.alarm } },
  { runbook: 'ecs-scale-with-guard', parameters: { ...ecs, desiredCount: 3, guardAlarm: SANDBOX_CANARY.alarm } },
  { runbook: 'failover-test', parameters: { clusterIdentifier: SANDBOX_ESTATE.cluster, failback: true } },
  { runbook: 'failover-test', parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance } },
  { runbook: 'janitor', parameters: {} },
  { runbook: 'monthly-dr-drill', parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance } },
  { runbook: 'point-in-time-restore', parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance, useLatestRestorableTime: true } },
  { runbook: 'point-in-time-restore', parameters: { clusterIdentifier: SANDBOX_ESTATE.cluster, useLatestRestorableTime: true } },
  { runbook: 'rds-manual-snapshot', parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance } },
];

describe('every shipped runbook dry-runs to an end against the seeded sandbox', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
  }, 90_000);
  afterAll(async () => {
    await h?.close();
  });

  it('has a case for every runbook in runbooks/', () => {
    const shipped = readdirSync(path.join(ROOT, 'runbooks'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => (parse(readFileSync(path.join(ROOT, 'runbooks', f), 'utf8')) as { id: string }).id);
    expect([...new Set(CASES.map((c) => c.runbook))].sort()).toEqual(shipped.sort());
  });

  it('ends every dry run, waiting on nothing a dry run only planned', async () => {
    const unfinished: string[] = [];
    const ended: any[] = [];
    // One at a time: two plans on one service share its concurrency key, as two runs would.
    for (const c of CASES) {
      const res = await h.request('POST', `/v1/runbooks/${c.runbook}/runs`, {
        key: h.keys.operator,
        body: { parameters: c.parameters, dryRun: true, reason: 'dry-run e2e' },
      });
      expect({ runbook: c.runbook, status: res.status, body: res.status === 202 ? 'accepted' : res.body }).toEqual({
        runbook: c.runbook,
        status: 202,
        body: 'accepted',
      });
      // A wait on something only planned looks again after the runbook's shipped poll interval
      // (30 s for the restores) and a bake after minutes, so either shows as a plan still going here.
      const deadline = Date.now() + 25_000;
      let run: any;
      for (;;) {
        run = (await h.request('GET', `/v1/runs/${res.body.id}`)).body;
        if (FINAL.includes(run.state) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (FINAL.includes(run.state)) {
        ended.push(run);
        continue;
      }
      const going = run.steps
        .filter((st: any) => !['succeeded', 'planned', 'skipped', 'failed'].includes(st.state))
        .map((st: any) => `${st.id} ${st.state}: ${st.note}`);
      unfinished.push(`${c.runbook} ${JSON.stringify(c.parameters)} still ${run.state} (${going.join('; ')})`);
      await h.request('POST', `/v1/runs/${run.id}/cancel`, { key: h.keys.operator });
      await h.waitForRun(run.id, FINAL, 60_000);
    }
    expect(unfinished).toEqual([]);
    for (const run of ended) {
      expect(run.dryRun).toBe(true);
      // A plan changes nothing, so each mutating step is planned or skipped, never run.
      for (const st of run.steps.filter((x: any) => x.mutates)) {
        expect({ run: run.runbookId, step: st.id, state: st.state }).toEqual({
          run: run.runbookId,
          step: st.id,
          state: expect.stringMatching(/^(planned|skipped)$/),
        });
      }
    }
  }, 900_000);
});
