import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';

type Row = Record<string, any>;

export interface StopSwitchState {
  stopped: boolean;
  stoppedAt: Date | null;
  stoppedBy: string | null;
  reason: string | null;
  resumedAt: Date | null;
  resumedBy: string | null;
}

const date = (v: unknown) => (v ? new Date(v as string) : null);

function toState(r: Row | undefined): StopSwitchState {
  return {
    stopped: !!r?.stopped_at,
    stoppedAt: date(r?.stopped_at),
    stoppedBy: r?.stopped_by ?? null,
    reason: r?.reason ?? null,
    resumedAt: date(r?.resumed_at),
    resumedBy: r?.resumed_by ?? null,
  };
}

/** The stop switch's one row (migration 17) and the marking of every active run it stops. */
@Injectable()
export class StopSwitchRepository {
  constructor(private readonly db: Database) {}

  async state(q: Queryable = this.db): Promise<StopSwitchState> {
    return toState((await q.query<Row>('SELECT * FROM stop_switch WHERE id = 1'))[0]);
  }

  /** Holds the switch's row until the transaction ends, so two presses are decided one after the other. */
  async lock(tx: Queryable): Promise<StopSwitchState> {
    return toState((await tx.query<Row>('SELECT * FROM stop_switch WHERE id = 1 FOR UPDATE'))[0]);
  }

  async stop(actor: string, reason: string, tx: Queryable): Promise<StopSwitchState> {
    const rows = await tx.query<Row>(
      `UPDATE stop_switch SET stopped_at = now(), stopped_by = $1, reason = $2, resumed_at = NULL, resumed_by = NULL WHERE id = 1 RETURNING *`,
      [actor, reason],
    );
    return toState(rows[0]);
  }

  async resume(actor: string, tx: Queryable): Promise<StopSwitchState> {
    const rows = await tx.query<Row>(`UPDATE stop_switch SET stopped_at = NULL, resumed_at = now(), resumed_by = $1 WHERE id = 1 RETURNING *`, [actor]);
    return toState(rows[0]);
  }

  /**
   * Asks every active run to stop, through the ordinary cancel request (so the executor's checks
   * before mutating steps and at every look during a wait see it), keeping stop-all's code and
   * reason. A run already asked to cancel keeps its first request. Returns the ids marked.
   */
  async markActiveRuns(actor: string, reason: string, tx: Queryable): Promise<string[]> {
    const rows = await tx.query<Row>(
      `UPDATE runs SET cancel_requested_at = now(), cancel_requested_by = $1, cancel_code = 'STOPPED', cancel_reason = $2, updated_at = now()
        WHERE state IN ('queued','running','waiting') AND cancel_requested_at IS NULL RETURNING id`,
      [actor, reason],
    );
    return rows.map((r) => String(r.id));
  }
}
