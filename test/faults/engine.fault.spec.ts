import * as path from 'node:path';
import { Client } from 'pg';
import { eventually, Harness } from '../support/runbookd';
import { auditOf, killWorkers } from './fault-support';

/**
 * The engine's own invariants under faults that are not AWS's: a failed step can never be
 * followed by a succeeded run, and a run whose executions keep failing ends instead of looping.
 */
describe('engine invariants under faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      role: 'api',
      seed: false,
      runbooksDir: path.join(__dirname, 'fixtures', 'engine'),
      env: { RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS: '2' },
    });
  }, 90_000);
  afterAll(async () => h?.close(), 60_000);
  afterEach(async () => killWorkers(h));

  it('a main step found failed on resume (the process stopped right after recording it) ends the run failed, never succeeded', async () => {
    // No worker yet: the run is accepted and waits in the queue.
    const res = await h.request('POST', '/v1/runbooks/three-steps/runs', { key: h.keys.operator, body: { reason: 'fault suite' } });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    // What a crash between a step's failure and the phase change leaves: the step failed, the run still in its main phase.
    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO step_results (run_id, step_id, phase, position, uses, mutates, state, attempts, started_at, ended_at, error, memory)
         VALUES ($1, 'middle', 'main', 1, 'core.noop', false, 'failed', 1, now(), now(), $2, '{}'::jsonb)`,
        [runId, JSON.stringify({ code: 'STEP_CRASHED', message: 'recorded before the crash' })],
      );
    } finally {
      await db.end();
    }
    await h.startWorker();
    const run = await h.waitForRun(runId, undefined, 40_000);
    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('STEP_CRASHED');
    const last = run.steps.find((s: any) => s.id === 'last');
    expect(last?.state ?? 'never run').toBe('never run');
  }, 90_000);

  it('a run whose executions keep failing below its steps is dead-lettered: cleanup runs, it ends failed with RUN_DEAD_LETTERED, audited and counted', async () => {
    await h.startWorker({ RUNBOOKD_FAULT_INJECT: 'throw@step:doomed:before' });
    const res = await h.request('POST', '/v1/runbooks/doomed/runs', { key: h.keys.operator, body: { reason: 'fault suite' } });
    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    const run = await h.waitForRun(runId, undefined, 80_000);
    expect(run.state).toBe('failed');
    expect(run.error).toMatchObject({ code: 'RUN_DEAD_LETTERED', details: { failedExecutions: 2, phase: 'main' } });
    expect(run.steps.find((s: any) => s.id === 'tidy')?.state).toBe('succeeded');
    const audit = await auditOf(h, runId);
    expect(audit.filter((e) => e.kind === 'run.dead-lettered')).toHaveLength(1);
    expect(audit.filter((e) => e.kind === 'run.ended')).toHaveLength(1);
    const metrics = await eventually(async () => {
      const m = await h.request('GET', '/metrics');
      return m.status === 200 ? m.text : undefined;
    });
    expect(metrics).toMatch(/^runbookd_runs_dead_lettered 1$/m);
  }, 120_000);
});
