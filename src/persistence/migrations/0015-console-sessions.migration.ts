import { Migration } from '../migration.types';

export const migration: Migration = {
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
};
