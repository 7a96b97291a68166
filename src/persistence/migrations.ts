/**
 * Versioned schema migrations, applied in order at boot under an advisory lock so replicas
 * starting together apply each once. The same SQL runs on PostgreSQL and PGlite. Never edit a
 * migration that has shipped: add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
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
  },
  {
    version: 2,
    name: 'SNS messages received by the webhook (exactly-once alarm delivery)',
    sql: `
-- One row per SNS MessageId handled to the end; SNS delivers at least once, and a repeat finds
-- its row here. The alarm key (alarm + state + StateChangeTime) catches the same state change
-- arriving under another MessageId (two topics, a re-publish).
CREATE TABLE sns_messages (
  message_id   text PRIMARY KEY,
  type         text NOT NULL,
  topic_arn    text NOT NULL,
  alarm_key    text,
  outcome      text NOT NULL,
  run_ids      jsonb NOT NULL DEFAULT '[]'::jsonb,
  received_at  timestamptz NOT NULL
);
CREATE INDEX sns_messages_by_alarm_key ON sns_messages (alarm_key) WHERE alarm_key IS NOT NULL;
`,
  },
  {
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
  },
  {
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
  },
  {
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
  },
  {
    version: 15,
    name: 'web console sign-in sessions',
    sql: `
-- One row per console sign-in. The cookie holds a random token; only its SHA-256 is stored, so a
-- copy of this table signs nobody in. key_digest (the SHA-256 the API key config holds) ties the
-- session to its key: a key removed from the configuration ends its sessions at the next request.
CREATE TABLE console_sessions (
  token_hash  text PRIMARY KEY,
  key_digest  text NOT NULL,
  csrf_token  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
`,
  },
  {
    version: 14,
    name: 'approvals, and the final state rejected',
    sql: `
-- A run whose approval is rejected or expires ends in a state of its own (not failed: nothing broke).
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check CHECK (state IN ('queued','running','waiting','succeeded','failed','aborted','cancelled','rejected'));
ALTER TABLE runs DROP CONSTRAINT runs_outcome_check;
ALTER TABLE runs ADD CONSTRAINT runs_outcome_check CHECK (outcome IN ('succeeded','failed','aborted','cancelled','rejected'));

-- One row per approval request of a gate (the runbook's own, or a core.approve step). A request
-- whose plan changed before it was used is voided and a new one made, so history stays.
CREATE TABLE approvals (
  id             bigserial PRIMARY KEY,
  run_id         text NOT NULL REFERENCES runs(id),
  gate           text NOT NULL,
  state          text NOT NULL CHECK (state IN ('pending','approved','rejected','expired','void')),
  requested_by   text NOT NULL,
  approvers      jsonb NOT NULL,
  min_approvals  integer NOT NULL CHECK (min_approvals >= 1),
  message        text,
  -- What the approver is shown and agrees to: resolved parameters and the exact AWS calls planned.
  plan           jsonb NOT NULL,
  plan_hash      text NOT NULL,
  -- [{ actor, role, decision, comment, at }], one per actor.
  decisions      jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  reason         text
);
-- At most one live request per gate: two workers reaching a gate together make one request.
CREATE UNIQUE INDEX approvals_one_live ON approvals (run_id, gate) WHERE state IN ('pending','approved');
CREATE INDEX approvals_pending ON approvals (created_at) WHERE state = 'pending';
CREATE INDEX approvals_by_run ON approvals (run_id, id);

-- An approval request goes out through the runbook's notify targets too: one notification per
-- run, channel and event (the run's end has no approval id).
ALTER TABLE notifications ADD COLUMN approval_id bigint REFERENCES approvals(id);
ALTER TABLE notifications DROP CONSTRAINT notifications_run_id_channel_key;
CREATE UNIQUE INDEX notifications_one_per_event ON notifications (run_id, channel, (COALESCE(approval_id, 0)));
`,
  },
  {
    version: 12,
    name: 'audit: records written without a lock, sealed into the chain later; signed digests outbox',
    sql: `
-- Until v12 every append took one cluster-wide lock to read the chain head. Now a record is
-- written plainly in its caller's transaction (seq from a sequence, no hash yet) and one sealer at
-- a time links committed records into the chain in batches: it sets chain_pos (1, 2, 3, ... with
-- no gaps, the order of the chain), prev_hash and hash. seq keeps identifying a record (and is
-- still hashed); it may have gaps where a transaction rolled back.
CREATE SEQUENCE audit_events_seq;
SELECT setval('audit_events_seq', COALESCE((SELECT max(seq) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq');
ALTER SEQUENCE audit_events_seq OWNED BY audit_events.seq;
ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_events ALTER COLUMN hash DROP NOT NULL;
ALTER TABLE audit_events ADD COLUMN chain_pos bigint UNIQUE;
-- One-way migration of the existing chain: its records were numbered without gaps under the old
-- lock, so their position is their seq and their hashes stay valid (the hash formula is unchanged).
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
UPDATE audit_events SET chain_pos = seq;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE chain_pos IS NULL;

-- Still append-only: the one UPDATE allowed is the sealer's, once per record, which fills the
-- chain columns of an unsealed record and changes nothing it recorded.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.chain_pos IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
     AND NEW.chain_pos IS NOT NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
     AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.kind = OLD.kind
     AND NEW.run_id IS NOT DISTINCT FROM OLD.run_id AND NEW.actor = OLD.actor AND NEW.data = OLD.data THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$fn$;

-- Outbox of signed digests (chain head, record count, time, previous digest). The copy that
-- counts is the one in the external store (S3 Object Lock or an append-only file); this table only
-- makes publication survive a restart or an unreachable store.
CREATE TABLE audit_digests (
  number           bigint PRIMARY KEY,
  position         bigint NOT NULL,
  head_hash        text,
  body             text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  published_at     timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text
);
CREATE INDEX audit_digests_unpublished ON audit_digests (number) WHERE published_at IS NULL;
`,
  },
];
