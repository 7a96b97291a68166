import { Injectable } from '@nestjs/common';
import type { LeftoverCount } from '../model/step-output.types';
import { Database } from './database';

/**
 * What /metrics reports about the janitor's last sweep: the counts its `sweep` step recorded,
 * read back from the step results. (Which runs are still active, the janitor's steps ask through
 * the engine's `RunReader`.)
 */
@Injectable()
export class LeftoversRepository {
  constructor(private readonly db: Database) {}

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
