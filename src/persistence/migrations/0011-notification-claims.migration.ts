import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 11,
  name: 'notification claim tokens; schedule declarations per replica',
  sql: `
-- One claim covers one send: the holder records its outcome only while the token is still its own.
ALTER TABLE notifications ADD COLUMN claim_token text;
-- Which schedules each live replica's runbook files name, refreshed by a heartbeat: a scheduler
-- is removed only when no replica seen recently declares it (a rolling deploy runs two sets).
CREATE TABLE schedule_declarations (
  replica_id   text NOT NULL,
  schedule_id  text NOT NULL,
  seen_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (replica_id, schedule_id)
);
CREATE INDEX schedule_declarations_by_schedule ON schedule_declarations (schedule_id, seen_at);
`,
};
