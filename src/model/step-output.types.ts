/**
 * What a step's output may carry for the run's report: findings (a check with its verdict) and the
 * resources it created. Steps produce them, the report builder reads them from the recorded
 * outputs; they live here, below both, so the reports need not know the step contract.
 */

export interface Finding {
  id: string;
  title: string;
  passed: boolean;
  /** What was measured, e.g. 4.2 (seconds) or "orders-1 → orders-2". */
  measured?: string | number | boolean | null;
  target?: string | number | null;
  unit?: string;
  detail?: string;
}

/**
 * A resource a step created or saw change, for the report's "Resources created" section: a step
 * output may carry `resources: CreatedResource[]`. Entries are merged by type, region and
 * identifier in step order: the first to name `createdByStepId` says who made it, the last
 * record gives its final state (e.g. restore `creating`, wait `available`, cleanup `deleted`).
 */
export interface CreatedResource {
  /** `<service>:<resource type>`, e.g. `rds:db-instance`. */
  type: string;
  identifier: string;
  region: string;
  arn?: string;
  state: string;
  createdByStepId?: string;
}

/** The janitor sweep's counts per resource type, recorded in its step output and read back for /metrics. */
export interface LeftoverCount {
  type: string;
  state: 'found' | 'removed' | 'not-removed';
  count: number;
}
