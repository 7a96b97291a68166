import { Harness } from '../support/runbookd';

/** The embedded default (no DATABASE_URL): the same migrations, engine and audit chain on PGlite. */
describe('failover-test on the embedded PGlite database', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all', pglite: true });
  }, 120_000);
  afterAll(async () => h?.close());

  it('runs the failover, refuses a second run on the cluster meanwhile, and keeps a verifiable audit chain', async () => {
    h.proxy.holdResponses('FailoverDBCluster', 1500);
    const first = await h.request('POST', '/v1/runbooks/failover-test/runs', { body: { parameters: { clusterIdentifier: 'orders-aurora' } } });
    expect(first.status).toBe(202);
    const second = await h.request('POST', '/v1/runbooks/failover-test/runs', { body: { parameters: { clusterIdentifier: 'orders-aurora' } } });
    expect(second.status).toBe(409);
    expect(second.body.error.details.holder.runId).toBe(first.body.id);

    const run = await h.waitForRun(first.body.id);
    expect(run.state).toBe('succeeded');
    expect(run.steps.find((s: any) => s.id === 'verify').output.writer).toBe('orders-aurora-2');
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);

    const verify = await h.request('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: true });
    expect(verify.body.records).toBeGreaterThan(5);
  });
});
