import { Clock } from '../../src/common/clock';
import { FaultInjector } from '../../src/faults/fault-injector';
import { EngineError } from '../../src/engine/engine.error';
import { RunLeaseService } from '../../src/engine/run-lease.service';
import type { StepResultRecord } from '../../src/model/run.types';
import { ExecutorWritesRepository } from '../../src/persistence/executor-writes.repository';
import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { auditParts, type AuditParts } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The executor's group-committed writes: many runs' records share one statement and one commit,
 * and the lease fence must still hold per run. These try to make a stale executor's record land
 * beside a live one's, one bad record fail its neighbours, and a batch reorder a run's records.
 */
describe('group-committed executor writes (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let db: PgDatabase;
  let runs: RunsRepository;
  let audit: AuditParts;
  let leases: RunLeaseService;

  const step = (runId: string, stepId: string, state: string, extra: Partial<StepResultRecord> = {}): StepResultRecord => ({
    runId,
    stepId,
    phase: 'main',
    position: 0,
    uses: 'core.noop',
    mutates: false,
    state: state as StepResultRecord['state'],
    attempts: 1,
    startedAt: new Date(),
    endedAt: state === 'running' ? null : new Date(),
    input: { n: 1 },
    output: { ok: true },
    error: null,
    memory: {},
    note: null,
    ...extra,
  });

  async function newRun(id: string): Promise<void> {
    await runs.insert({
      id,
      runbookId: 'rb',
      runbookDigest: 'd',
      definition: { id: 'rb', steps: [], cleanup: [], guards: {} },
      parameters: {},
      dryRun: false,
      reason: null,
      trigger: { kind: 'cli', actor: 't' },
      actor: 't',
      dedupeKey: null,
      requestHash: null,
      concurrencyKey: null,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
  }

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = new PgDatabase(tdb.url, 10);
    await migrate(db);
    runs = new RunsRepository(db);
    audit = auditParts(db, { env: { RUNBOOKD_WORKER_LOCK_MS: '5000' } });
    leases = new RunLeaseService(
      db,
      runs,
      audit.service,
      audit.config,
      new FaultInjector(audit.config),
      new ExecutorWritesRepository(db, audit.mac),
      new Clock(),
    );
  });

  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  async function take(id: string) {
    const t = await leases.take(id);
    if (t.kind !== 'taken') throw new Error(`could not take ${id}: ${t.kind}`);
    leases.stop(t.execution.lease);
    return t.execution.lease;
  }

  it('a stale executor sharing a batch with live ones writes nothing and gets LEASE_LOST; the live ones commit', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `gc-live-${i}`);
    for (const id of [...ids, 'gc-stale']) await newRun(id);
    const live = await Promise.all(ids.map(take));
    const stale = await take('gc-stale');
    // A successor takes the run (the stale executor stalled): its epoch moves on.
    await runs.releaseLease('gc-stale', stale.epoch);
    const successor = await take('gc-stale');
    expect(successor.epoch).toBe(stale.epoch + 1);

    // All submitted in the same tick: they go out as one or two statements.
    const results = await Promise.allSettled([
      ...live.map((l, i) =>
        leases.write(l, { steps: [step(ids[i], 's1', 'succeeded')], events: [{ kind: 'step.ended', runId: ids[i], actor: 't', data: { i } }], durable: false }),
      ),
      leases.write(stale, {
        run: { state: 'failed' },
        steps: [step('gc-stale', 's1', 'succeeded')],
        events: [{ kind: 'step.ended', runId: 'gc-stale', actor: 't', data: { stale: true } }],
        durable: false,
      }),
    ]);
    expect(results.slice(0, 8).map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    const refused = results[8];
    expect(refused.status).toBe('rejected');
    expect(((refused as PromiseRejectedResult).reason as EngineError).code).toBe('LEASE_LOST');

    for (const id of ids) expect((await runs.steps(id)).map((s) => s.state)).toEqual(['succeeded']);
    expect(await runs.steps('gc-stale')).toEqual([]);
    expect((await runs.get('gc-stale'))!.state).toBe('queued');
    const staleAudit = await db.query(`SELECT 1 FROM audit_events WHERE run_id = 'gc-stale'`);
    expect(staleAudit).toHaveLength(0);
    // The successor still writes.
    await leases.write(successor, { steps: [step('gc-stale', 's1', 'succeeded')], durable: true });
    expect((await runs.steps('gc-stale')).map((s) => s.state)).toEqual(['succeeded']);
  });

  it('one record the database refuses fails alone; the records it shared a statement with commit', async () => {
    const ids = ['gc-ok-1', 'gc-bad', 'gc-ok-2'];
    for (const id of ids) await newRun(id);
    const [a, bad, b] = await Promise.all(ids.map(take));
    const results = await Promise.allSettled([
      leases.write(a, { steps: [step('gc-ok-1', 's1', 'succeeded')], durable: false }),
      // A state the step_results CHECK refuses: the whole multi-run statement fails with it.
      leases.write(bad, { steps: [step('gc-bad', 's1', 'exploded')], durable: false }),
      leases.write(b, { steps: [step('gc-ok-2', 's1', 'succeeded')], durable: false }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await runs.steps('gc-ok-1')).map((s) => s.state)).toEqual(['succeeded']);
    expect((await runs.steps('gc-ok-2')).map((s) => s.state)).toEqual(['succeeded']);
    expect(await runs.steps('gc-bad')).toEqual([]);
  });

  it("a run's records keep their order in the log, and a release gives the run back in the same commit", async () => {
    await newRun('gc-order');
    const lease = await take('gc-order');
    const others = Array.from({ length: 5 }, (_, i) => `gc-order-other-${i}`);
    for (const id of others) await newRun(id);
    const otherLeases = await Promise.all(others.map(take));
    await Promise.all([
      leases.write(lease, {
        run: { state: 'waiting' },
        release: true,
        durable: false,
        events: [1, 2, 3, 4].map((n) => ({ kind: n % 2 ? ('step.started' as const) : ('step.ended' as const), runId: 'gc-order', actor: 't', data: { n } })),
      }),
      ...otherLeases.map((l, i) => leases.write(l, { events: [{ kind: 'step.ended', runId: others[i], actor: 't', data: {} }], durable: false })),
    ]);
    const rows = await db.query<{ n: number }>(`SELECT (data->>'n')::int AS n FROM audit_events WHERE run_id = 'gc-order' ORDER BY seq`);
    expect(rows.map((r) => r.n)).toEqual([1, 2, 3, 4]);
    const run = (await runs.get('gc-order'))!;
    expect(run.state).toBe('waiting');
    // Released: the next executor takes it at once instead of waiting the lease out.
    const next = await leases.take('gc-order');
    expect(next.kind).toBe('taken');
    if (next.kind === 'taken') leases.stop(next.execution.lease);
    // And the sealer links what the batches wrote into a chain that verifies.
    const verified = await audit.service.verify();
    expect(verified.ok).toBe(true);
  });
});
