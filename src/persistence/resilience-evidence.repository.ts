import { Injectable } from '@nestjs/common';
import { Database } from './database';

/** The newest ended run of a runbook for one subject (as its parameters name it), with the findings its steps recorded. */
export interface EvidenceRunRow {
  runId: string;
  runbookId: string;
  state: 'succeeded' | 'failed';
  parameters: Record<string, unknown>;
  endedAt: string;
  findings: unknown[];
}

/**
 * What posture reads from recorded runs: for each evidence runbook and subject, only the newest
 * ended run (succeeded or failed; never a dry run, which proves nothing), and the findings of its
 * steps. One statement for the runs and one for their steps, whatever the number of resources.
 */
@Injectable()
export class ResilienceEvidenceRepository {
  constructor(private readonly db: Database) {}

  async newestRuns(runbookIds: readonly string[]): Promise<EvidenceRunRow[]> {
    if (runbookIds.length === 0) return [];
    const runs = await this.db.query<{ id: string; runbook_id: string; state: 'succeeded' | 'failed'; parameters: unknown; ended_at: Date | string }>(
      `SELECT DISTINCT ON (runbook_id, parameters->>'clusterIdentifier', parameters->>'dbInstanceIdentifier', parameters->>'tableName',
                           parameters->>'region', parameters->>'roleArn')
              id, runbook_id, state, parameters, ended_at
         FROM runs
        WHERE runbook_id = ANY($1::text[]) AND NOT dry_run AND state IN ('succeeded', 'failed') AND ended_at IS NOT NULL
        ORDER BY runbook_id, parameters->>'clusterIdentifier', parameters->>'dbInstanceIdentifier', parameters->>'tableName',
                 parameters->>'region', parameters->>'roleArn', ended_at DESC, id DESC`,
      [runbookIds],
    );
    if (runs.length === 0) return [];
    const steps = await this.db.query<{ run_id: string; findings: unknown }>(
      `SELECT run_id, output->'findings' AS findings FROM step_results
        WHERE run_id = ANY($1::text[]) AND jsonb_typeof(output->'findings') = 'array'
        ORDER BY run_id, phase, position`,
      [runs.map((r) => r.id)],
    );
    const findings = new Map<string, unknown[]>();
    for (const s of steps) {
      const list = findings.get(s.run_id) ?? [];
      const value = typeof s.findings === 'string' ? JSON.parse(s.findings) : s.findings;
      if (Array.isArray(value)) list.push(...value);
      findings.set(s.run_id, list);
    }
    return runs.map((r) => ({
      runId: r.id,
      runbookId: r.runbook_id,
      state: r.state,
      parameters: (typeof r.parameters === 'string' ? JSON.parse(r.parameters) : r.parameters) ?? {},
      endedAt: (r.ended_at instanceof Date ? r.ended_at : new Date(r.ended_at)).toISOString(),
      findings: findings.get(r.id) ?? [],
    }));
  }
}
