import { Injectable } from '@nestjs/common';
import { ACTIVE_STATES } from '../model/run.types';
import { Database } from './database';

export interface LeftoverCount {
  type: string;
  state: 'found' | 'removed' | 'not-removed';
  count: number;
}

/**
 * What the janitor needs to know about runs (which are still active) and what /metrics reports
 * about the last sweep: the counts its `sweep` step recorded, read back from the step results.
 */
@Injectable()
export class LeftoversRepository {
  constructor(private readonly db: Database) {}

  /** The run ids among these whose run has not ended (or is unknown here: a run of another installation is left alone). */
  async notEnded(runIds: readonly string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const rows = await this.db.query<{ id: string }>('SELECT id FROM runs WHERE id = ANY($1::text[]) AND state <> ALL($2::text[])', [runIds, ACTIVE_STATES]);
    const ended = new Set(rows.map((r) => r.id));
    return new Set(runIds.filter((id) => !ended.has(id)));
  }

  /** Counts from the newest janitor sweep that ran for real (not a dry run). */
  async lastSweep(): Promise<LeftoverCount[]> {
    const rows = await this.db.query<{ output: { counts?: LeftoverCount[] } | null }>(
      `SELECT s.output FROM step_results s JOIN runs r ON r.id = s.run_id
        WHERE r.runbook_id = 'janitor' AND NOT r.dry_run AND s.uses = 'janitor.delete-expired' AND s.state = 'succeeded'
        ORDER BY s.ended_at DESC LIMIT 1`,
    );
    return rows[0]?.output?.counts ?? [];
  }
}
