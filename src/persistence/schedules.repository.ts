import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';

type Row = Record<string, any>;

export interface ScheduleStateRecord {
  id: string;
  runbookId: string;
  scheduleId: string;
  registeredAt: Date;
  lastTickAt: Date | null;
  pausedAt: Date | null;
  pausedBy: string | null;
}

export interface ScheduleTickRecord {
  scheduleId: string;
  tickAt: Date;
  /** 'refused': the tick came while acceptance refused every run (stop-all); recorded, no run. */
  decision: 'run' | 'skipped' | 'refused';
  reason: string | null;
  runId: string | null;
  decidedAt: Date;
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/** Schedule state (last tick, pause) and the decision taken for every tick. */
@Injectable()
export class SchedulesRepository {
  constructor(private readonly db: Database) {}

  /** Registers a schedule the first time it is loaded; an existing row keeps its history. */
  async ensure(id: string, runbookId: string, scheduleId: string): Promise<void> {
    await this.db.query(`INSERT INTO schedules (id, runbook_id, schedule_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [id, runbookId, scheduleId]);
  }

  async get(id: string, q: Queryable = this.db): Promise<ScheduleStateRecord | null> {
    const rows = await q.query<Row>('SELECT * FROM schedules WHERE id = $1', [id]);
    return rows[0] ? toState(rows[0]) : null;
  }

  /** Locks the schedule's row for the transaction: one replica at a time decides its ticks. */
  async lock(id: string, tx: Queryable): Promise<ScheduleStateRecord | null> {
    const rows = await tx.query<Row>('SELECT * FROM schedules WHERE id = $1 FOR UPDATE', [id]);
    return rows[0] ? toState(rows[0]) : null;
  }

  async all(): Promise<ScheduleStateRecord[]> {
    return (await this.db.query<Row>('SELECT * FROM schedules ORDER BY id')).map(toState);
  }

  /** Records a decision unless one exists; returns the decision that stands for the tick. */
  async decide(
    scheduleId: string,
    tickAt: Date,
    decision: 'run' | 'skipped',
    reason: string | null,
    tx: Queryable,
  ): Promise<{ tick: ScheduleTickRecord; created: boolean }> {
    const inserted = await tx.query<Row>(
      `INSERT INTO schedule_ticks (schedule_id, tick_at, decision, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (schedule_id, tick_at) DO NOTHING RETURNING *`,
      [scheduleId, tickAt.toISOString(), decision, reason],
    );
    if (inserted[0]) {
      await tx.query(`UPDATE schedules SET last_tick_at = GREATEST(COALESCE(last_tick_at, $2::timestamptz), $2::timestamptz) WHERE id = $1`, [
        scheduleId,
        tickAt.toISOString(),
      ]);
      return { tick: toTick(inserted[0]), created: true };
    }
    const existing = await tx.query<Row>('SELECT * FROM schedule_ticks WHERE schedule_id = $1 AND tick_at = $2', [scheduleId, tickAt.toISOString()]);
    return { tick: toTick(existing[0]), created: false };
  }

  async setRunId(scheduleId: string, tickAt: Date, runId: string): Promise<void> {
    await this.db.query('UPDATE schedule_ticks SET run_id = $3 WHERE schedule_id = $1 AND tick_at = $2', [scheduleId, tickAt.toISOString(), runId]);
  }

  /** Ticks decided 'run' whose run was never recorded (a crash between the decision and the accept). */
  async unstarted(scheduleId: string, tx: Queryable = this.db): Promise<ScheduleTickRecord[]> {
    const rows = await tx.query<Row>(`SELECT * FROM schedule_ticks WHERE schedule_id = $1 AND decision = 'run' AND run_id IS NULL ORDER BY tick_at`, [
      scheduleId,
    ]);
    return rows.map(toTick);
  }

  async markSkipped(scheduleId: string, tickAt: Date, reason: string, decision: 'skipped' | 'refused' = 'skipped'): Promise<void> {
    await this.db.query(`UPDATE schedule_ticks SET decision = $4, reason = $3 WHERE schedule_id = $1 AND tick_at = $2 AND run_id IS NULL`, [
      scheduleId,
      tickAt.toISOString(),
      reason,
      decision,
    ]);
  }

  async recentTicks(scheduleId: string, limit: number): Promise<ScheduleTickRecord[]> {
    const rows = await this.db.query<Row>('SELECT * FROM schedule_ticks WHERE schedule_id = $1 ORDER BY tick_at DESC LIMIT $2', [scheduleId, limit]);
    return rows.map(toTick);
  }

  /**
   * This replica's heartbeat: it declares (still) naming these schedules now. Rows of schedules it
   * no longer names are dropped, so its declaration is exactly its runbook files'.
   */
  async declare(replicaId: string, scheduleIds: string[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM schedule_declarations WHERE replica_id = $1 AND NOT (schedule_id = ANY($2::text[]))', [replicaId, scheduleIds]);
      if (scheduleIds.length > 0) {
        await tx.query(
          `INSERT INTO schedule_declarations (replica_id, schedule_id, seen_at) SELECT $1, unnest($2::text[]), now()
           ON CONFLICT (replica_id, schedule_id) DO UPDATE SET seen_at = now()`,
          [replicaId, scheduleIds],
        );
      }
    });
  }

  /** A replica that stops says so: its schedules are no longer kept alive by it. */
  async withdraw(replicaId: string): Promise<void> {
    await this.db.query('DELETE FROM schedule_declarations WHERE replica_id = $1', [replicaId]);
  }

  /** Schedule ids some replica declared within the last `liveMs` (the database's clock). */
  async declaredByLiveReplicas(liveMs: number): Promise<Set<string>> {
    const rows = await this.db.query<Row>(
      `SELECT DISTINCT schedule_id FROM schedule_declarations WHERE seen_at > now() - ($1::text || ' milliseconds')::interval`,
      [String(liveMs)],
    );
    // Declarations of replicas long gone are only history: dropped as they are passed over.
    await this.db.query(`DELETE FROM schedule_declarations WHERE seen_at < now() - ($1::text || ' milliseconds')::interval`, [String(liveMs * 10)]);
    return new Set(rows.map((r) => r.schedule_id as string));
  }

  async setPaused(id: string, by: string | null, tx: Queryable = this.db): Promise<void> {
    if (by === null) {
      // Ticks that fell into the pause were not missed: the catch-up starts from the resume.
      await tx.query('UPDATE schedules SET paused_at = NULL, paused_by = NULL, last_tick_at = GREATEST(COALESCE(last_tick_at, now()), now()) WHERE id = $1', [
        id,
      ]);
    } else {
      await tx.query('UPDATE schedules SET paused_at = now(), paused_by = $2 WHERE id = $1', [id, by]);
    }
  }
}

function toState(r: Row): ScheduleStateRecord {
  return {
    id: r.id,
    runbookId: r.runbook_id,
    scheduleId: r.schedule_id,
    registeredAt: date(r.registered_at)!,
    lastTickAt: date(r.last_tick_at),
    pausedAt: date(r.paused_at),
    pausedBy: r.paused_by,
  };
}

function toTick(r: Row): ScheduleTickRecord {
  return {
    scheduleId: r.schedule_id,
    tickAt: date(r.tick_at)!,
    decision: r.decision,
    reason: r.reason,
    runId: r.run_id,
    decidedAt: date(r.decided_at)!,
  };
}
