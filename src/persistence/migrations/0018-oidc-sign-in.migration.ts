import { Migration } from '../migration.types';

export const migration: Migration = {
  version: 18,
  name: 'console sign-in through OpenID Connect',
  sql: `
-- A sign-in started at the identity provider and not yet finished. The browser holds the state
-- (in the provider's redirect) and a binding token (a cookie); only their SHA-256 are kept here,
-- beside the nonce and PKCE verifier the callback needs. A row is taken once: a replayed callback
-- finds nothing.
CREATE TABLE oidc_logins (
  state_hash    text PRIMARY KEY,
  binding_hash  text NOT NULL,
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);

-- A console session is opened either with an API key (key_digest) or by an SSO sign-in: then the
-- subject, the name shown and audited, and the group-claim values as the provider sent them, so
-- the policy maps them again on every request (a policy change applies to open sessions).
ALTER TABLE console_sessions ALTER COLUMN key_digest DROP NOT NULL;
ALTER TABLE console_sessions ADD COLUMN oidc_subject text;
ALTER TABLE console_sessions ADD COLUMN oidc_name text;
ALTER TABLE console_sessions ADD COLUMN oidc_groups jsonb;
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_one_principal
  CHECK ((key_digest IS NOT NULL) <> (oidc_subject IS NOT NULL));
`,
};
