import type { StepResultRecord } from '../model/run.types';

/**
 * Step rows written many at a time from one jsonb parameter (the batched writes of the executor
 * and of acceptance): the row's JSON shape, and the INSERT … ON CONFLICT that reads it.
 */
export function stepRow(s: StepResultRecord) {
  return {
    run_id: s.runId,
    step_id: s.stepId,
    phase: s.phase,
    position: s.position,
    uses: s.uses,
    mutates: s.mutates,
    state: s.state,
    attempts: s.attempts,
    started_at: s.startedAt.toISOString(),
    ended_at: s.endedAt?.toISOString() ?? null,
    input: s.input,
    output: s.output,
    error: s.error,
    memory: s.memory ?? {},
    note: s.note,
  };
}

/** Upserts the step rows in `param` (a jsonb array of `stepRow`s) whose run is in `runIds` (a subquery). */
export function upsertStepRowsSql(param: string, runIds: string): string {
  return `INSERT INTO step_results (run_id, step_id, phase, position, uses, mutates, state, attempts, started_at, ended_at, input, output, error, memory, note)
         SELECT s.run_id, s.step_id, s.phase, s.position, s.uses, s.mutates, s.state, s.attempts, s.started_at, s.ended_at,
                s.input, s.output, s.error, COALESCE(s.memory, '{}'::jsonb), s.note
           FROM jsonb_to_recordset(${param}::jsonb) AS s(run_id text, step_id text, phase text, position int, uses text, mutates boolean,
                state text, attempts int, started_at timestamptz, ended_at timestamptz, input jsonb, output jsonb, error jsonb, memory jsonb, note text)
          WHERE s.run_id IN (${runIds})
         ON CONFLICT (run_id, step_id) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
           ended_at = EXCLUDED.ended_at, input = EXCLUDED.input, output = EXCLUDED.output, error = EXCLUDED.error,
           memory = EXCLUDED.memory, note = EXCLUDED.note`;
}

/** Inserts the audit rows in `param` (stored rows with `owner` and `ord`) whose owner is in `owners`, numbered in `ord` order. */
export function insertAuditRowsSql(param: string, owners: string): string {
  return `INSERT INTO audit_events (seq, at, kind, run_id, actor, data, auth_key_id, auth_mac)
         SELECT nextval('audit_events_seq'), e.at, e.kind, e.run_id, e.actor, e.data, e.auth_key_id, e.auth_mac
           FROM (SELECT a.* FROM jsonb_to_recordset(${param}::jsonb) AS a(at timestamptz, kind text, run_id text, actor text, data jsonb,
                 auth_key_id text, auth_mac text, owner text, ord int)
                  WHERE a.owner IN (${owners}) ORDER BY a.ord) e`;
}
