import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 4,
  name: 'run lease: fencing epoch, lease holder and expiry, failed executions (dead letter)',
  sql: `
-- Taking a run (first start or resume) increments epoch; every record an executor writes is
-- conditional on the epoch it took, so an executor that stalled and lost the run records nothing.
ALTER TABLE runs ADD COLUMN epoch integer NOT NULL DEFAULT 0;
-- Who holds the run and until when: a successor waits for lease_until before taking it over.
ALTER TABLE runs ADD COLUMN lease_owner text;
ALTER TABLE runs ADD COLUMN lease_until timestamptz;
-- Executions that ended without progress (threw, died mid-run, re-queued by the reconciler):
-- at the configured limit the run is dead-lettered instead of tried forever.
ALTER TABLE runs ADD COLUMN failed_executions integer NOT NULL DEFAULT 0;
`,
};
