import { Injectable } from '@nestjs/common';
import type { RunRecord, StepResultRecord } from '../model/run.types';
import { AuditRowSigner, type AuditRowInput, storedAuditRows } from './audit-rows';
import { Database } from './database';
import { insertAuditRowsSql, stepRow, upsertStepRowsSql } from './step-rows';

/** Run columns an executor changes as the run goes (a subset of `RunsRepository.update`'s). */
export type RunFields = Partial<Pick<RunRecord, 'state' | 'phase' | 'outcome' | 'error' | 'startedAt' | 'endedAt' | 'timeoutAt' | 'report'>>;

/** One executor's record: written only while its lease (run id + epoch) holds, all or nothing. */
export interface ExecutorWrite {
  runId: string;
  epoch: number;
  /** Columns of the run to set (`updated_at` moves with them). */
  run?: RunFields;
  /** Step rows to insert or update (distinct steps of this run). */
  steps?: readonly StepResultRecord[];
  events?: readonly AuditRowInput[];
  /** Gives the lease back in the same commit (a wait, the run's end). */
  release?: boolean;
  /** False lets the commit skip the wait for the WAL flush (a read-only step, run again if lost). */
  durable: boolean;
}

const RUN_COLUMNS = `run_id text, epoch int, release boolean, touch boolean, state text, phase text, outcome text, set_error boolean,
  error jsonb, started_at timestamptz, ended_at timestamptz, timeout_at timestamptz, report jsonb`;

/**
 * The executor's hot write: for many runs at once, in one statement and one commit, each run's
 * lease fence (renewed, or released, only at the epoch its executor took; the row held until
 * commit so a successor's take waits), its run columns, step rows and audit records — written
 * only for the runs whose fence held. What `RunLeaseService.record` does for one run in a
 * transaction of four to six statements.
 */
@Injectable()
export class ExecutorWritesRepository {
  constructor(
    private readonly db: Database,
    private readonly mac: AuditRowSigner,
  ) {}

  /** Returns the ids of the runs whose lease held (their rows are written; the others' are not). */
  async write(items: readonly ExecutorWrite[], leaseMs: number, at: Date): Promise<Set<string>> {
    // Rows locked in one order by every batch, so two batches cannot deadlock on each other.
    const runs = items.map((i) => runRow(i)).sort((a, b) => (a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : 0));
    const steps = items.flatMap((i) => (i.steps ?? []).map(stepRow));
    // `ord` fixes the records' sequence numbers to the order given (a step's start before its end).
    const events = storedAuditRows(
      items.flatMap((i) => i.events ?? []),
      at,
      this.mac,
    ).map((e, ord) => ({ ...e, owner: e.run_id, ord }));
    const durable = items.some((i) => i.durable);
    const rows = await this.db.query<{ id: string }>(
      `WITH held AS (
         UPDATE runs r SET
           lease_until = CASE WHEN l.release THEN NULL ELSE now() + $3 * interval '1 millisecond' END,
           lease_owner = CASE WHEN l.release THEN NULL ELSE r.lease_owner END,
           state = COALESCE(l.state, r.state), phase = COALESCE(l.phase, r.phase), outcome = COALESCE(l.outcome, r.outcome),
           error = CASE WHEN l.set_error THEN l.error ELSE r.error END,
           started_at = COALESCE(l.started_at, r.started_at), ended_at = COALESCE(l.ended_at, r.ended_at),
           timeout_at = COALESCE(l.timeout_at, r.timeout_at), report = COALESCE(l.report, r.report),
           updated_at = CASE WHEN l.touch THEN now() ELSE r.updated_at END
           FROM jsonb_to_recordset($1::jsonb) AS l(${RUN_COLUMNS})
          WHERE r.id = l.run_id AND r.epoch = l.epoch
         RETURNING r.id
       ),
       steps AS (
         ${upsertStepRowsSql('$2', 'SELECT id FROM held')}
       ),
       events AS (
         ${insertAuditRowsSql('$4', 'SELECT id FROM held')}
       )
       ${durable ? 'SELECT id FROM held' : `SELECT id, (SELECT set_config('synchronous_commit', 'off', true)) AS async FROM held`}`,
      [JSON.stringify(runs), JSON.stringify(steps), leaseMs, JSON.stringify(events)],
    );
    return new Set(rows.map((r) => r.id));
  }
}

function runRow(i: ExecutorWrite) {
  const f = i.run ?? {};
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return {
    run_id: i.runId,
    epoch: i.epoch,
    release: !!i.release,
    touch: Object.values(f).some((v) => v !== undefined),
    state: f.state ?? null,
    phase: f.phase ?? null,
    outcome: f.outcome ?? null,
    set_error: f.error !== undefined,
    error: f.error ?? null,
    started_at: iso(f.startedAt),
    ended_at: iso(f.endedAt),
    timeout_at: iso(f.timeoutAt),
    report: f.report ?? null,
  };
}
