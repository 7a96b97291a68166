import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 17,
  name: 'audit: every record authenticated by runbookd when written (a MAC the database cannot make); unauthenticated rows quarantined, not sealed',
  sql: `
-- Until v17 the sealer linked any committed row into the chain, so a row INSERTed by someone with
-- database rights was sealed and then anchored as genuine. Now runbookd writes each record with
-- auth_key_id and auth_mac (HMAC-SHA256 over the record's canonical form, nonce included, with a
-- key derived from the audit signing key, which the database never holds). The sealer checks it
-- and quarantines a row that fails: kept, never linked (quarantine_reason set, chain columns null).
ALTER TABLE audit_events ADD COLUMN auth_key_id text;
ALTER TABLE audit_events ADD COLUMN auth_mac text;
ALTER TABLE audit_events ADD COLUMN quarantine_reason text;
-- The nonce is inside auth_mac, so a genuine row's MAC copied into a new row (a replay) is refused here.
CREATE UNIQUE INDEX audit_events_auth_mac ON audit_events (auth_mac) WHERE auth_mac IS NOT NULL;

-- Rows written before this version were never authenticated: they are marked so, not re-signed
-- (a MAC made now would vouch for rows runbookd cannot know it wrote). The mark is refused on any
-- later INSERT, and the boundary below is fixed, so a new row cannot pass as an old one.
CREATE TABLE audit_auth_start (
  only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  before_seq   bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_auth_start (before_seq) SELECT COALESCE(max(seq), 0) FROM audit_events;
CREATE FUNCTION audit_auth_start_fixed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_auth_start is fixed: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$fn$;
CREATE TRIGGER audit_auth_start_fixed BEFORE INSERT OR UPDATE OR DELETE ON audit_auth_start
  FOR EACH ROW EXECUTE FUNCTION audit_auth_start_fixed();
CREATE TRIGGER audit_auth_start_no_truncate BEFORE TRUNCATE ON audit_auth_start
  FOR EACH STATEMENT EXECUTE FUNCTION audit_auth_start_fixed();

ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
UPDATE audit_events SET auth_key_id = 'before-authentication';
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;

CREATE FUNCTION audit_events_insert_checks() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.auth_key_id = 'before-authentication' THEN
    RAISE EXCEPTION 'audit_events: a new record cannot be marked before-authentication' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$fn$;
CREATE TRIGGER audit_events_insert_checks BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_insert_checks();

-- Two UPDATEs stay allowed, each once per record and changing nothing it recorded: the sealer's
-- link (chain columns from null to set) and its quarantine (reason from null to set, chain columns
-- null: a forged row someone placed in the chain is taken out of it, and stays in the table).
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'UPDATE'
     AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.kind = OLD.kind
     AND NEW.run_id IS NOT DISTINCT FROM OLD.run_id AND NEW.actor = OLD.actor AND NEW.data = OLD.data
     AND NEW.auth_key_id IS NOT DISTINCT FROM OLD.auth_key_id AND NEW.auth_mac IS NOT DISTINCT FROM OLD.auth_mac THEN
    IF OLD.quarantine_reason IS NULL AND NEW.quarantine_reason IS NULL
       AND OLD.chain_pos IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
       AND NEW.chain_pos IS NOT NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL THEN
      RETURN NEW;
    END IF;
    IF OLD.quarantine_reason IS NULL AND NEW.quarantine_reason IS NOT NULL
       AND NEW.chain_pos IS NULL AND NEW.hash IS NULL AND NEW.prev_hash IS NULL THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$fn$;

DROP INDEX audit_events_unsealed;
CREATE INDEX audit_events_unsealed ON audit_events (seq) WHERE chain_pos IS NULL AND quarantine_reason IS NULL;
CREATE INDEX audit_events_quarantined ON audit_events (seq) WHERE quarantine_reason IS NOT NULL;
`,
};
