import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 3,
  name: 'schedules and their ticks, parent links of child runs, notifications outbox',
  sql: `
-- One row per schedule trigger ever loaded; '<runbook>:<schedule>' is the BullMQ job scheduler id.
CREATE TABLE schedules (
  id             text PRIMARY KEY,
  runbook_id     text NOT NULL,
  schedule_id    text NOT NULL,
  -- Ticks before this are not "missed": the schedule did not exist yet.
  registered_at  timestamptz NOT NULL DEFAULT now(),
  -- Newest tick decided (run or skipped): the catch-up on boot starts after it.
  last_tick_at   timestamptz,
  paused_at      timestamptz,
  paused_by      text
);
-- What became of each tick. The primary key is what makes one decision per tick across replicas.
CREATE TABLE schedule_ticks (
  schedule_id  text NOT NULL REFERENCES schedules(id),
  tick_at      timestamptz NOT NULL,
  decision     text NOT NULL CHECK (decision IN ('run','skipped')),
  reason       text,
  run_id       text,
  decided_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_id, tick_at)
);
CREATE INDEX schedule_ticks_newest ON schedule_ticks (schedule_id, tick_at DESC);

ALTER TABLE runs ADD COLUMN parent_run_id text;
CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at) WHERE parent_run_id IS NOT NULL;

-- Written in the transaction that ends the run, so a run that ended is notified even if the
-- process dies right after; delivered (and retried) by any worker.
CREATE TABLE notifications (
  id               bigserial PRIMARY KEY,
  run_id           text NOT NULL REFERENCES runs(id),
  channel          text NOT NULL CHECK (channel IN ('sns','webhook')),
  target           text NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','sent','failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  UNIQUE (run_id, channel)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
`,
};
