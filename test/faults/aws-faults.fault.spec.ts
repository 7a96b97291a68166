import { Harness } from '../support/runbookd';
import { auditOf, endActiveRuns, killWorkers, leftovers, MUTATING_RUNBOOKS, resetSandbox, startRun } from './fault-support';
import type { ProxyFault } from '../support/recording-proxy';

/**
 * AWS faults played by the recording proxy in front of moto. A mutating call the SDK would once
 * have retried on its own (a 500 after AWS acted, a reset connection, no answer in time) must
 * reach AWS exactly once: the engine retries the step, and the step looks before it acts again.
 */
const byName = (name: string) => MUTATING_RUNBOOKS.find((c) => c.runbook === name)!;

interface Case {
  name: string;
  runbook: string;
  operation: string;
  fault: ProxyFault;
  /** The error the audit must show for the faulted call, if any. */
  recordedError?: string;
}

const CASES: Case[] = [
  {
    name: 'FailoverDBCluster acted on, answered 500',
    runbook: 'failover-test',
    operation: 'FailoverDBCluster',
    fault: { kind: 'error', when: 'after-forward', status: 500, code: 'InternalFailure' },
    recordedError: 'AWS_UNAVAILABLE',
  },
  // The SDK names a reset connection a TimeoutError (smithy counts ECONNRESET among its timeout codes): no answer either way.
  {
    name: 'FailoverDBCluster acted on, connection reset before the answer',
    runbook: 'failover-test',
    operation: 'FailoverDBCluster',
    fault: { kind: 'reset', when: 'after-forward' },
    recordedError: 'AWS_TIMEOUT',
  },
  {
    name: 'FailoverDBCluster throttled before AWS saw it',
    runbook: 'failover-test',
    operation: 'FailoverDBCluster',
    fault: { kind: 'error', when: 'before-forward', status: 400, code: 'Throttling' },
    recordedError: 'AWS_THROTTLED',
  },
  {
    name: 'FailoverDBCluster answered after the request timeout',
    runbook: 'failover-test',
    operation: 'FailoverDBCluster',
    fault: { kind: 'slow', when: 'after-forward', ms: 5_000 },
    recordedError: 'AWS_TIMEOUT',
  },
  {
    name: 'UpdateService acted on, answered 503',
    runbook: 'canary-rollback',
    operation: 'UpdateService',
    fault: { kind: 'error', when: 'after-forward', status: 503, code: 'ServiceUnavailableException' },
    recordedError: 'AWS_UNAVAILABLE',
  },
  {
    name: 'RestoreDBInstanceToPointInTime acted on, answered 500',
    runbook: 'point-in-time-restore',
    operation: 'RestoreDBInstanceToPointInTime',
    fault: { kind: 'error', when: 'after-forward', status: 500, code: 'InternalFailure' },
    recordedError: 'AWS_UNAVAILABLE',
  },
  {
    name: 'RestoreDBInstanceFromDBSnapshot acted on, connection reset',
    runbook: 'backup-verification',
    operation: 'RestoreDBInstanceFromDBSnapshot',
    fault: { kind: 'reset', when: 'after-forward' },
    recordedError: 'AWS_TIMEOUT',
  },
];

describe('AWS faults from the recording proxy: each mutating call reaches AWS once', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api', env: { RUNBOOKD_AWS_REQUEST_TIMEOUT_MS: '1500' } });
    await h.startWorker();
  }, 90_000);
  afterAll(async () => {
    await killWorkers(h);
    await h?.close();
  }, 60_000);

  afterEach(async () => endActiveRuns(h));

  it.each(CASES)(
    '$name',
    async (c) => {
      const rc = byName(c.runbook);
      await resetSandbox(h, rc);
      h.proxy.injectFault(c.operation, c.fault);
      const runId = await startRun(h, rc);
      const run = await h.waitForRun(runId, undefined, 60_000);

      expect({ state: run.state, error: run.error?.code }).toEqual({ state: 'succeeded', error: undefined });
      expect(h.proxy.count(c.operation)).toBe(1);
      expect(await leftovers(h)).toEqual([]);
      const audit = await auditOf(h, runId);
      const responses = audit.filter((e) => e.kind === 'aws.response' && e.data.operation === c.operation);
      if (c.recordedError) expect(responses.map((e) => e.data.errorCode)).toContain(c.recordedError);
      expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
      expect((await h.request('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
    },
    90_000,
  );
});
