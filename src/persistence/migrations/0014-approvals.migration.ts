import { Migration } from '../migration.types';

export const migration: Migration = {
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
};
