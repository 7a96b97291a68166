import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { exited, Harness, ROOT } from '../support/runbookd';
import { auditOf, CaseResult, endActiveRuns, killWorkers, leftovers, MUTATING_RUNBOOKS, resetSandbox, RunbookCase, startRun } from './fault-support';

/**
 * SIGKILL of the worker at every crash point of every mutating runbook, enumerated from a clean
 * run (not sampled): before and after every step it recorded, and inside every mutating call it
 * made (after the intent is recorded and before the send; after AWS answered and before anything
 * is recorded; after the answer is recorded and before the step's end). A fresh worker resumes
 * each time. Counted per case: the run ends as the clean run did, each mutating operation reached
 * moto as often as in the clean run, nothing is left behind, the audit chain verifies.
 *
 * `npm run test:faults` (RUNBOOKD_FAULTS=all) runs every point of every runbook; `npm test` (CI)
 * a subset that still covers every kind of point.
 */
const ALL = process.env.RUNBOOKD_FAULTS === 'all';

/** The CI subset: every kind of crash point, on the runbooks whose calls are the riskiest to repeat. */
const CI_POINTS: Record<string, (point: string) => boolean> = {
  'failover-test': (p) => p.startsWith('aws:') || p.startsWith('step:failover:') || p === 'step:switch:after',
  'backup-verification': (p) => p === 'aws:RestoreDBInstanceFromDBSnapshot:after-answer' || p === 'step:delete-copy:before',
  'canary-rollback': (p) => p === 'aws:UpdateService:after-answer',
};

const results: CaseResult[] = [];

/** Written after every case, so a long run stopped half-way still leaves what it counted. */
function saveResults(): void {
  const dir = path.join(ROOT, 'test', 'artifacts', 'faults');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `crash-points${ALL ? '-all' : ''}.json`), JSON.stringify(results, null, 2));
}

const runbooks = MUTATING_RUNBOOKS.filter((c) => ALL || c.runbook in CI_POINTS);

describe.each(runbooks)('$runbook: SIGKILL at every crash point', (rc: RunbookCase) => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 90_000);
  afterAll(async () => {
    await killWorkers(h);
    await h?.close();
  }, 60_000);

  it(
    'resumes every time: no lost run, no doubled mutating call, nothing left behind',
    async () => {
      // The clean run: what the runbook does when nothing goes wrong.
      await resetSandbox(h, rc);
      await h.startWorker();
      const cleanId = await startRun(h, rc);
      const clean = await h.waitForRun(cleanId, undefined, 90_000);
      const cleanAudit = await auditOf(h, cleanId);
      await killWorkers(h);
      const operations = [...new Set(cleanAudit.filter((e) => e.kind === 'aws.request').map((e) => e.data.operation as string))];
      const expected = Object.fromEntries(operations.map((op) => [op, h.proxy.count(op)]));
      // Preflight steps run in the API process at acceptance, before a worker has the run: no worker crash point there.
      const definition = (await h.request('GET', `/v1/runbooks/${rc.runbook}`)).body;
      const preflight = new Set(((definition.preflight ?? definition.definition?.preflight ?? []) as any[]).map((p) => p.id as string));
      const workerSteps = (clean.steps as any[]).filter((s) => !preflight.has(s.id));
      const ran = workerSteps.filter((s) => s.state !== 'skipped').map((s) => s.id as string);
      const recorded = workerSteps.map((s) => s.id as string);
      const points = [
        ...ran.map((id) => `step:${id}:before`),
        ...recorded.map((id) => `step:${id}:after`),
        ...operations.flatMap((op) => ['before-send', 'after-answer', 'after-record'].map((w) => `aws:${op}:${w}`)),
      ].filter((p) => ALL || CI_POINTS[rc.runbook](p));
      expect(points.length).toBeGreaterThan(0);

      const failures: string[] = [];
      for (const point of points) {
        await resetSandbox(h, rc);
        const armed = await h.startWorker({ RUNBOOKD_FAULT_INJECT: `crash@${point}` });
        const runId = await startRun(h, rc);
        const first = await Promise.race([exited(armed).then(() => 'crashed' as const), h.waitForRun(runId, undefined, 90_000).then(() => 'ended' as const)]);
        if (first === 'crashed') await h.startWorker();
        const run = await h.waitForRun(runId, undefined, 90_000).catch(() => ({ state: 'lost' }));
        const doubled = operations.filter((op) => h.proxy.count(op) !== expected[op]).map((op) => `${op}: ${h.proxy.count(op)}/${expected[op]}`);
        const audit = run.state === 'lost' ? [] : await auditOf(h, runId);
        const result: CaseResult = {
          runbook: rc.runbook,
          point,
          crashed: first === 'crashed',
          state: run.state,
          expectedState: clean.state,
          doubled,
          leftovers: await leftovers(h),
          runEnded: audit.filter((e) => e.kind === 'run.ended').length,
          auditOk: (await h.request('GET', '/v1/audit/verify')).body.ok === true,
        };
        results.push(result);
        saveResults();
        await killWorkers(h);
        await endActiveRuns(h);
        const bad = [
          !result.crashed && 'the crash point was never reached',
          result.state !== result.expectedState && `ended ${result.state}, the clean run ${result.expectedState}`,
          result.doubled.length > 0 && `calls differ: ${result.doubled.join(', ')}`,
          result.leftovers.length > 0 && `left behind: ${result.leftovers.join(', ')}`,
          result.runEnded !== 1 && `${result.runEnded} run.ended records`,
          !result.auditOk && 'audit chain does not verify',
        ].filter(Boolean);
        if (bad.length > 0) failures.push(`${point}: ${bad.join('; ')}`);
      }
      expect(failures).toEqual([]);
    },
    ALL ? 3_600_000 : 900_000,
  );
});
