import { exited, Harness } from '../support/runbookd';
import { SANDBOX_ESTATE } from '../../scripts/sandbox/seed-estate';

/**
 * A mutating aws.call without an idempotency token (rds CreateDBSnapshot) killed between its
 * recorded intent and AWS's answer: the resumed step looks first (the author's lookFirst) and
 * does not send the call again. Workers are child processes the test SIGKILLs.
 */
describe('aws.call resumed after a SIGKILL between intent and answer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'api' });
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('sends CreateDBSnapshot once and finishes the run', async () => {
    const a = await h.startWorker();
    let armed = true;
    // 'answered': moto has made the snapshot; the worker dies before it hears so.
    h.proxy.onRequest(
      'CreateDBSnapshot',
      () => {
        if (!armed) return;
        armed = false;
        h.kill(a);
      },
      'answered',
    );

    const res = await h.request('POST', '/v1/runbooks/rds-manual-snapshot/runs', {
      key: h.keys.operator,
      body: { parameters: { dbInstanceIdentifier: SANDBOX_ESTATE.instance, pollSeconds: 0.5 }, reason: 'resume e2e' },
    });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    await exited(a);
    expect(a.signalCode).toBe('SIGKILL');
    expect(h.proxy.count('rds:CreateDBSnapshot')).toBe(1);

    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 50_000);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('rds:CreateDBSnapshot')).toBe(1);
    const snapshot = run.steps.find((s: any) => s.id === 'snapshot');
    expect(snapshot).toMatchObject({ state: 'succeeded', attempts: 2, output: { snapshotIdentifier: `rbd-${runId}-snap` } });
    // The look the resumed step made before deciding not to send again.
    expect(h.proxy.count('rds:DescribeDBSnapshots')).toBeGreaterThanOrEqual(2);

    const audit = (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items as any[];
    expect(audit.filter((e) => e.kind === 'aws.request' && e.data.operation === 'CreateDBSnapshot')).toHaveLength(1);
    expect(audit.some((e) => e.kind === 'run.resumed')).toBe(true);
  }, 90_000);
});
