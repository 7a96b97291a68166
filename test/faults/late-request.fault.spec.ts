import { eventually, Harness } from '../support/runbookd';
import { auditOf, endActiveRuns, killWorkers, leftovers, logOf, MUTATING_RUNBOOKS, resetSandbox, saidOrDied, startRun } from './fault-support';

/**
 * Issue 23, hole 3: a request that reaches AWS after its sender lost the run. Worker A sends the
 * restore; the network (the recording proxy) holds the request 20 s before delivering it, longer
 * than the 2 s lease; A stalls (SIGSTOP) meanwhile, so B takes the run over, looks, finds nothing
 * yet and sends its own restore, which the network holds too. A's request lands first; B hears
 * "already exists" for the copy named after the run. That copy is the run's own: the step reads
 * it, sees it is this run's, adopts it and goes on. One copy is made, and cleanup deletes it once.
 */
const HOLD_MS = 20_000;

const CASES = [
  { runbook: 'backup-verification', operation: 'RestoreDBInstanceFromDBSnapshot', awsCode: 'DBInstanceAlreadyExistsFault' },
  { runbook: 'point-in-time-restore', operation: 'RestoreDBInstanceToPointInTime', awsCode: 'DBInstanceAlreadyExistsFault' },
];

describe('a request delivered after its sender lost the run (held by the network past the lease)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 90_000);
  afterAll(async () => h?.close(), 60_000);
  afterEach(async () => {
    h.proxy.holdRequests('*', 0);
    await killWorkers(h);
    await endActiveRuns(h);
  });

  it.each(CASES)(
    '$runbook: the successor hears "already exists" for its own copy, adopts it, and the run succeeds with one copy made',
    async (c) => {
      const rc = MUTATING_RUNBOOKS.find((x) => x.runbook === c.runbook)!;
      await resetSandbox(h, rc);
      h.proxy.holdRequests(c.operation, HOLD_MS);
      const a = await h.startWorker();
      let stalled = false;
      h.proxy.onRequest(
        c.operation,
        () => {
          if (stalled) return;
          stalled = true;
          a.kill('SIGSTOP');
        },
        'received',
      );
      const runId = await startRun(h, rc);
      await eventually(() => (stalled ? true : undefined), 60_000, `${c.operation} to reach the proxy`);

      await h.startWorker();
      const run = await h.waitForRun(runId, undefined, 90_000);
      a.kill('SIGCONT');
      await saidOrDied(h, a, 'LEASE_LOST', 20_000).catch(() => undefined);

      expect({ state: run.state, error: run.error?.code }).toEqual({ state: 'succeeded', error: undefined });
      // Both requests reached AWS; the second was refused, so one copy was made (and deleted once).
      expect(h.proxy.count(c.operation)).toBe(2);
      expect(h.proxy.count('DeleteDBInstance')).toBe(1);
      expect(await leftovers(h)).toEqual([]);
      const audit = await auditOf(h, runId);
      const answers = audit.filter((e) => e.kind === 'aws.response' && e.data.operation === c.operation);
      expect(answers.map((e) => e.data.awsCode)).toContain(c.awsCode);
      const detail = (await h.request('GET', `/v1/runs/${runId}`)).body;
      expect(detail.steps.find((s: any) => s.id === 'restore').output.resumed).toBe(true);
      expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
      expect(logOf(h, a)).toMatch(/LEASE_LOST|newer executor|ran out/);
    },
    240_000,
  );
});
