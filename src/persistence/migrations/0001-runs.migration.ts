import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 1,
  name: 'runs, step results, append-only audit log',
  sql: `
CREATE TABLE runs (
  id               text PRIMARY KEY,
  runbook_id       text NOT NULL,
  runbook_digest   text NOT NULL,
  -- The definition the run was accepted with: a resumed run follows the steps it started with.
  definition       jsonb NOT NULL,
  parameters       jsonb NOT NULL,
  dry_run          boolean NOT NULL DEFAULT false,
  reason           text,
  trigger          jsonb NOT NULL,
  actor            text NOT NULL,
  dedupe_key       text UNIQUE,
  request_hash     text,
  concurrency_key  text,
  state            text NOT NULL CHECK (state IN ('queued','running','waiting','succeeded','failed','aborted','cancelled')),
  phase            text NOT NULL DEFAULT 'main' CHECK (phase IN ('main','cleanup','done')),
  -- How the main phase ended, decided before cleanup runs; the final state follows from it.
  outcome          text CHECK (outcome IN ('succeeded','failed','aborted','cancelled')),
  error            jsonb,
  cancel_requested_at timestamptz,
  cancel_requested_by text,
  -- Millisecond precision so a cursor built from a JS Date matches the stored value exactly.
  created_at       timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  started_at       timestamptz,
  ended_at         timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  timeout_at       timestamptz,
  expires_at       timestamptz NOT NULL,
  report           jsonb
);
-- One active run per concurrency key: the lock is the run itself, released by its terminal state,
-- so there is no separate lock to leak when a worker dies.
CREATE UNIQUE INDEX runs_active_concurrency_key ON runs (concurrency_key)
  WHERE concurrency_key IS NOT NULL AND state IN ('queued','running','waiting');
CREATE INDEX runs_listing ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_runbook ON runs (runbook_id, created_at DESC, id DESC);
CREATE INDEX runs_unfinished ON runs (updated_at) WHERE state IN ('queued','running','waiting');

CREATE TABLE step_results (
  run_id      text NOT NULL REFERENCES runs(id),
  step_id     text NOT NULL,
  phase       text NOT NULL CHECK (phase IN ('main','cleanup')),
  position    integer NOT NULL,
  uses        text NOT NULL,
  mutates     boolean NOT NULL,
  state       text NOT NULL CHECK (state IN ('running','waiting','succeeded','failed','skipped','planned')),
  attempts    integer NOT NULL DEFAULT 0,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  input       jsonb,
  output      jsonb,
  error       jsonb,
  memory      jsonb NOT NULL DEFAULT '{}'::jsonb,
  note        text,
  PRIMARY KEY (run_id, step_id)
);

CREATE TABLE audit_events (
  seq        bigint PRIMARY KEY,
  at         timestamptz NOT NULL,
  kind       text NOT NULL,
  run_id     text,
  actor      text NOT NULL,
  data       jsonb NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL UNIQUE
);
CREATE INDEX audit_events_by_run ON audit_events (run_id, seq);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$fn$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
`,
};
