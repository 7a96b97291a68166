import { Injectable } from '@nestjs/common';
import { ACTIVE_STATES, type ChildRunState, type RunRecord, type RunState, type StepResultRecord } from '../model/run.types';
import { Database, Queryable } from './database';

type Row = Record<string, any>;

export interface NewRun {
  id: string;
  runbookId: string;
  runbookDigest: string;
  definition: unknown;
  parameters: Record<string, unknown>;
  dryRun: boolean;
  reason: string | null;
  trigger: Record<string, unknown>;
  actor: string;
  dedupeKey: string | null;
  requestHash: string | null;
  concurrencyKey: string | null;
  expiresAt: Date;
  /** Set for a child run started by a composite runbook's step. */
  parentRunId?: string | null;
}

export interface RunListFilter {
  runbookId?: string;
  state?: RunState;
  /** The trigger's kind (rest, cli, alarm, schedule, parent). */
  triggerKind?: string;
  /** Exclusive position: runs strictly older than this (createdAt, id). */
  before?: { createdAt: string; id: string };
  /** Words that must each appear (any case) in the id, runbook, actor, reason or parameters. */
  text?: string;
  /** Accepted at or after `since` and before `until`. */
  since?: Date;
  until?: Date;
  limit: number;
}

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

/** All SQL about runs and their step results. Stateless; every method may take a transaction. */
@Injectable()
export class RunsRepository {
  /** A `runs` row as read with `SELECT *` (or `RETURNING *`) into a record. */
  static fromRow(row: Record<string, unknown>): RunRecord {
    return toRun(row);
  }

  constructor(private readonly db: Database) {}

  async insert(run: NewRun, q: Queryable = this.db): Promise<RunRecord> {
    const rows = await q.query<Row>(
      `INSERT INTO runs (id, runbook_id, runbook_digest, definition, parameters, dry_run, reason, trigger, actor,
         dedupe_key, request_hash, concurrency_key, state, expires_at, parent_run_id)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,'queued',$13,$14) RETURNING *`,
      [
        run.id,
        run.runbookId,
        run.runbookDigest,
        json(run.definition),
        json(run.parameters),
        run.dryRun,
        run.reason,
        json(run.trigger),
        run.actor,
        run.dedupeKey,
        run.requestHash,
        run.concurrencyKey,
        run.expiresAt.toISOString(),
        run.parentRunId ?? null,
      ],
    );
    return toRun(rows[0]);
  }

  async get(id: string, q: Queryable = this.db): Promise<RunRecord | null> {
    const rows = await q.query<Row>('SELECT * FROM runs WHERE id = $1', [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async getForUpdate(id: string, q: Queryable): Promise<RunRecord | null> {
    const rows = await q.query<Row>('SELECT * FROM runs WHERE id = $1 FOR UPDATE', [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async findByDedupeKey(key: string, q: Queryable = this.db): Promise<RunRecord | null> {
    const rows = await q.query<Row>('SELECT * FROM runs WHERE dedupe_key = $1', [key]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async findActiveByConcurrencyKey(key: string, q: Queryable = this.db): Promise<RunRecord | null> {
    const rows = await q.query<Row>(`SELECT * FROM runs WHERE concurrency_key = $1 AND state IN ('queued','running','waiting')`, [key]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async list(filter: RunListFilter): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.runbookId) where.push(`runbook_id = $${params.push(filter.runbookId)}`);
    if (filter.state) where.push(`state = $${params.push(filter.state)}`);
    if (filter.triggerKind) where.push(`trigger->>'kind' = $${params.push(filter.triggerKind)}`);
    if (filter.before) {
      where.push(`(created_at, id) < ($${params.push(filter.before.createdAt)}::timestamptz, $${params.push(filter.before.id)})`);
    }
    // Parameters are searched as stored: writeOnly values are sealed envelopes there, so a search never finds a secret.
    for (const word of (filter.text ?? '').split(/\s+/).filter(Boolean).slice(0, 8)) {
      const p = `$${params.push(`%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`;
      where.push(`(id ILIKE ${p} OR runbook_id ILIKE ${p} OR actor ILIKE ${p} OR COALESCE(reason, '') ILIKE ${p} OR parameters::text ILIKE ${p})`);
    }
    if (filter.since) where.push(`created_at >= $${params.push(filter.since.toISOString())}::timestamptz`);
    if (filter.until) where.push(`created_at < $${params.push(filter.until.toISOString())}::timestamptz`);
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY created_at DESC, id DESC LIMIT $${params.push(filter.limit)}`;
    return (await this.db.query<Row>(sql, params)).map(toRun);
  }

  /** Child runs a composite run started, oldest first. */
  async children(parentRunId: string): Promise<RunRecord[]> {
    const rows = await this.db.query<Row>('SELECT * FROM runs WHERE parent_run_id = $1 ORDER BY created_at, id', [parentRunId]);
    return rows.map(toRun);
  }

  /** A parent's children without their definitions, parameters or reports: what a fleet counts on every look. */
  async childStates(parentRunId: string): Promise<ChildRunState[]> {
    const rows = await this.db.query<Row>(
      `SELECT id, dedupe_key, state, phase, error, created_at, started_at, ended_at FROM runs WHERE parent_run_id = $1 ORDER BY created_at, id`,
      [parentRunId],
    );
    return rows.map((r) => ({
      id: r.id,
      dedupeKey: r.dedupe_key,
      state: r.state,
      phase: r.phase,
      error: r.error,
      createdAt: date(r.created_at)!,
      startedAt: date(r.started_at),
      endedAt: date(r.ended_at),
    }));
  }

  /** The run ids among these whose run has not ended (or is unknown here: a run of another installation is left alone). */
  async notEnded(runIds: readonly string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const rows = await this.db.query<{ id: string }>('SELECT id FROM runs WHERE id = ANY($1::text[]) AND state <> ALL($2::text[])', [runIds, ACTIVE_STATES]);
    const ended = new Set(rows.map((r) => r.id));
    return new Set(runIds.filter((id) => !ended.has(id)));
  }

  /** The newest ended, non-dry runs of a runbook with their stored reports (drill trends). */
  async endedWithReports(runbookId: string, limit: number, q: Queryable = this.db): Promise<RunRecord[]> {
    const rows = await q.query<Row>(
      `SELECT * FROM runs WHERE runbook_id = $1 AND phase = 'done' AND dry_run = false AND report IS NOT NULL
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [runbookId, limit],
    );
    return rows.map(toRun);
  }

  /** Runs not yet finished, oldest first: what the reconciler checks against the queue. */
  async listUnfinished(limit: number): Promise<RunRecord[]> {
    const rows = await this.db.query<Row>(`SELECT * FROM runs WHERE state IN ('queued','running','waiting') ORDER BY updated_at ASC LIMIT $1`, [limit]);
    return rows.map(toRun);
  }

  /** Cluster-wide figures for /metrics, read from the source of truth. */
  async stats(): Promise<{ byState: Array<{ runbookId: string; state: string; count: number }>; oldestActiveSeconds: number | null; deadLettered: number }> {
    const [byState, oldest, dead] = await Promise.all([
      this.db.query<Row>('SELECT runbook_id, state, count(*)::int AS n FROM runs GROUP BY runbook_id, state ORDER BY runbook_id, state'),
      this.db.query<Row>(`SELECT EXTRACT(EPOCH FROM (now() - min(created_at)))::float8 AS age FROM runs WHERE state IN ('queued','running','waiting')`),
      this.db.query<Row>(`SELECT count(*)::int AS n FROM runs WHERE error->>'code' = 'RUN_DEAD_LETTERED'`),
    ]);
    return {
      byState: byState.map((r) => ({ runbookId: r.runbook_id, state: r.state, count: Number(r.n) })),
      oldestActiveSeconds: oldest[0]?.age === null || oldest[0]?.age === undefined ? null : Number(oldest[0].age),
      deadLettered: Number(dead[0]?.n ?? 0),
    };
  }

  async update(
    id: string,
    fields: Partial<Pick<RunRecord, 'state' | 'phase' | 'outcome' | 'error' | 'startedAt' | 'endedAt' | 'timeoutAt' | 'report'>>,
    q: Queryable = this.db,
  ): Promise<void> {
    const sets: string[] = ['updated_at = now()'];
    const params: unknown[] = [id];
    const col: Record<string, string> = {
      state: 'state',
      phase: 'phase',
      outcome: 'outcome',
      error: 'error',
      startedAt: 'started_at',
      endedAt: 'ended_at',
      timeoutAt: 'timeout_at',
      report: 'report',
    };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const v = value instanceof Date ? value.toISOString() : key === 'error' || key === 'report' ? json(value) : value;
      sets.push(`${col[key]} = $${params.push(v)}`);
    }
    await q.query(`UPDATE runs SET ${sets.join(', ')} WHERE id = $1`, params);
  }

  /**
   * Takes the run for one executor: the epoch moves on (fencing every earlier holder), the lease
   * runs for `leaseMs`, and a run found `running` (its last executor died or threw mid-run) counts
   * one more failed execution. Refused (null) while another holder's lease is still running, or
   * when the run has ended.
   */
  /**
   * Takes the run (a new epoch and a lease) and reads its step rows in the same statement: one
   * round trip per pick-up, which every advance of every run pays.
   */
  async take(id: string, owner: string, leaseMs: number): Promise<{ run: RunRecord; steps: StepResultRecord[] } | null> {
    const rows = await this.db.query<Row>(
      `UPDATE runs SET epoch = epoch + 1, lease_owner = $2, lease_until = now() + $3 * interval '1 millisecond',
         failed_executions = failed_executions + CASE WHEN state = 'running' THEN 1 ELSE 0 END
       WHERE id = $1 AND phase <> 'done' AND (lease_until IS NULL OR lease_until <= now())
       RETURNING *, (SELECT COALESCE(json_agg(s ORDER BY CASE s.phase WHEN 'main' THEN 0 ELSE 1 END, s.position), '[]'::json)
                       FROM step_results s WHERE s.run_id = runs.id) AS taken_steps`,
      [id, owner, leaseMs],
    );
    if (!rows[0]) return null;
    return { run: toRun(rows[0]), steps: (rows[0].taken_steps as Row[]).map(toStep) };
  }

  /**
   * How long another executor's lease still runs (ms; 0 when it was released meanwhile), or null
   * when the run has ended (or does not exist).
   */
  async leaseRemainingMs(id: string): Promise<number | null> {
    const rows = await this.db.query<Row>(
      `SELECT phase, COALESCE(GREATEST(0, EXTRACT(EPOCH FROM (lease_until - now())) * 1000), 0)::float8 AS remaining FROM runs WHERE id = $1`,
      [id],
    );
    if (!rows[0] || rows[0].phase === 'done') return null;
    return Number(rows[0].remaining);
  }

  /**
   * The fence every record of an executor passes: true (and the lease renewed) only while the run
   * is still at `epoch`. Inside a transaction it also holds the run's row, so a successor's take
   * waits for this transaction and then sees what it wrote.
   */
  async holdLease(id: string, epoch: number, leaseMs: number, q: Queryable = this.db): Promise<boolean> {
    const rows = await q.query(`UPDATE runs SET lease_until = now() + $3 * interval '1 millisecond' WHERE id = $1 AND epoch = $2 RETURNING 1`, [
      id,
      epoch,
      leaseMs,
    ]);
    return rows.length > 0;
  }

  /** Gives the lease back (a wait, an end, a failed execution) so the next take need not wait it out. */
  async releaseLease(id: string, epoch: number, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE runs SET lease_until = NULL, lease_owner = NULL WHERE id = $1 AND epoch = $2`, [id, epoch]);
  }

  /** A fresh budget of failed executions (the dead-lettered main phase's cleanup gets its own). */
  async resetFailedExecutions(id: string, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE runs SET failed_executions = 0 WHERE id = $1`, [id]);
  }

  /** Counts a re-queue by the reconciler as a failed execution (the job gave up or vanished). */
  async countFailedExecution(id: string): Promise<void> {
    await this.db.query(`UPDATE runs SET failed_executions = failed_executions + 1 WHERE id = $1 AND phase <> 'done'`, [id]);
  }

  /** Marks a cancel request; returns false when the run had already ended. */
  async requestCancel(id: string, actor: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, now()),
         cancel_requested_by = COALESCE(cancel_requested_by, $2), updated_at = now()
       WHERE id = $1 AND state IN ('queued','running','waiting') RETURNING id`,
      [id, actor],
    );
    return rows.length > 0;
  }

  /**
   * Who asked to cancel the run (a person, or stop-all with its reason), or null; a narrow read,
   * done before every mutating step. The stop switch is read in the same statement: a run
   * accepted while stop-all was marking the active runs is not among those it marked, and is
   * stopped here, at its first safe point, all the same.
   */
  async cancelRequest(id: string): Promise<{ at: Date; by: string | null; code: string | null; reason: string | null } | null> {
    const rows = await this.db.query<Row>(
      `SELECT r.cancel_requested_at, r.cancel_requested_by, r.cancel_code, r.cancel_reason, s.stopped_at, s.stopped_by, s.reason AS stop_reason
         FROM runs r LEFT JOIN stop_switch s ON s.stopped_at IS NOT NULL WHERE r.id = $1`,
      [id],
    );
    const r = rows[0];
    if (r?.cancel_requested_at)
      return { at: new Date(r.cancel_requested_at), by: r.cancel_requested_by, code: r.cancel_code ?? null, reason: r.cancel_reason ?? null };
    if (r?.stopped_at) return { at: new Date(r.stopped_at), by: r.stopped_by, code: 'STOPPED', reason: r.stop_reason };
    return null;
  }

  async steps(runId: string, q: Queryable = this.db): Promise<StepResultRecord[]> {
    const rows = await q.query<Row>(`SELECT * FROM step_results WHERE run_id = $1 ORDER BY CASE phase WHEN 'main' THEN 0 ELSE 1 END, position`, [runId]);
    return rows.map(toStep);
  }

  async upsertStep(s: StepResultRecord, q: Queryable = this.db): Promise<void> {
    await q.query(
      `INSERT INTO step_results (run_id, step_id, phase, position, uses, mutates, state, attempts, started_at, ended_at,
         input, output, error, memory, note)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (run_id, step_id) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
         ended_at = EXCLUDED.ended_at, input = EXCLUDED.input, output = EXCLUDED.output, error = EXCLUDED.error,
         memory = EXCLUDED.memory, note = EXCLUDED.note`,
      [
        s.runId,
        s.stepId,
        s.phase,
        s.position,
        s.uses,
        s.mutates,
        s.state,
        s.attempts,
        s.startedAt.toISOString(),
        s.endedAt?.toISOString() ?? null,
        json(s.input),
        json(s.output),
        json(s.error),
        json(s.memory),
        s.note,
      ],
    );
  }
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

function toRun(r: Row): RunRecord {
  return {
    id: r.id,
    runbookId: r.runbook_id,
    runbookDigest: r.runbook_digest,
    definition: r.definition,
    parameters: r.parameters,
    dryRun: r.dry_run,
    reason: r.reason,
    trigger: r.trigger,
    actor: r.actor,
    dedupeKey: r.dedupe_key,
    requestHash: r.request_hash,
    concurrencyKey: r.concurrency_key,
    state: r.state,
    phase: r.phase,
    outcome: r.outcome,
    error: r.error,
    cancelRequestedAt: date(r.cancel_requested_at),
    cancelRequestedBy: r.cancel_requested_by,
    cancelCode: r.cancel_code ?? null,
    cancelReason: r.cancel_reason ?? null,
    createdAt: date(r.created_at)!,
    startedAt: date(r.started_at),
    endedAt: date(r.ended_at),
    updatedAt: date(r.updated_at)!,
    timeoutAt: date(r.timeout_at),
    expiresAt: date(r.expires_at)!,
    report: r.report,
    parentRunId: r.parent_run_id ?? null,
    epoch: r.epoch ?? 0,
    failedExecutions: r.failed_executions ?? 0,
  };
}

function toStep(r: Row): StepResultRecord {
  return {
    runId: r.run_id,
    stepId: r.step_id,
    phase: r.phase,
    position: r.position,
    uses: r.uses,
    mutates: r.mutates,
    state: r.state,
    attempts: r.attempts,
    startedAt: date(r.started_at)!,
    endedAt: date(r.ended_at),
    input: r.input,
    output: r.output,
    error: r.error,
    memory: r.memory ?? {},
    note: r.note,
  };
}
