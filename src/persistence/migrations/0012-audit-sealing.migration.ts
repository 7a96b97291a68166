import { Migration } from '../migration.types';

export const migration: Migration = {
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
};
