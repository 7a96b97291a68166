import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 16,
  name: 'stop switch (stop-all / resume-all)',
  sql: `
-- The stop button's state: one row, so every API and worker process reads the same switch and a
-- restart keeps it. stopped_at set = stopped; resume-all clears it and keeps who lifted it.
CREATE TABLE stop_switch (
  id          smallint PRIMARY KEY CHECK (id = 1),
  stopped_at  timestamptz,
  stopped_by  text,
  reason      text,
  resumed_at  timestamptz,
  resumed_by  text
);
INSERT INTO stop_switch (id) VALUES (1);

-- A run stopped by stop-all is cancelled through the ordinary cancel request, with the stop's
-- code and reason kept on the run, so it ends STOPPED (naming who and why) even after a resume.
ALTER TABLE runs ADD COLUMN cancel_code text;
ALTER TABLE runs ADD COLUMN cancel_reason text;

-- A tick that fires while everything is stopped is recorded as refused, not silently dropped.
ALTER TABLE schedule_ticks DROP CONSTRAINT IF EXISTS schedule_ticks_decision_check;
ALTER TABLE schedule_ticks ADD CONSTRAINT schedule_ticks_decision_check CHECK (decision IN ('run','skipped','refused'));
`,
};
