import { Injectable } from '@nestjs/common';
import { Database } from './database';

/** Who an SSO session belongs to (migration 18): the subject, the name shown, the group-claim values as sent. */
export interface OidcSessionPrincipal {
  subject: string;
  name: string;
  claimGroups: string[];
}

export interface SessionRecord {
  tokenHash: string;
  /** Set for a session opened with an API key; null for an SSO session (then `oidc` is set). */
  keyDigest: string | null;
  oidc?: OidcSessionPrincipal | null;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

type Row = Record<string, any>;

/** Console sign-in sessions (migration 15). Tokens arrive here already hashed. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly db: Database) {}

  async insert(s: Omit<SessionRecord, 'revokedAt' | 'createdAt'>, now: Date): Promise<void> {
    // Sign-ins are rare; sweeping sessions ended a day ago here keeps the table small without a timer.
    await this.db.query(`DELETE FROM console_sessions WHERE expires_at < $1::timestamptz - interval '1 day'`, [now.toISOString()]);
    await this.db.query(
      `INSERT INTO console_sessions (token_hash, key_digest, csrf_token, created_at, expires_at, oidc_subject, oidc_name, oidc_groups) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
      [
        s.tokenHash,
        s.keyDigest,
        s.csrfToken,
        now.toISOString(),
        s.expiresAt.toISOString(),
        s.oidc?.subject ?? null,
        s.oidc?.name ?? null,
        s.oidc ? JSON.stringify(s.oidc.claimGroups) : null,
      ],
    );
  }

  async get(tokenHash: string): Promise<SessionRecord | null> {
    const rows = await this.db.query<Row>(`SELECT * FROM console_sessions WHERE token_hash = $1`, [tokenHash]);
    const r = rows[0];
    if (!r) return null;
    return {
      tokenHash: r.token_hash,
      keyDigest: r.key_digest,
      csrfToken: r.csrf_token,
      createdAt: new Date(r.created_at),
      expiresAt: new Date(r.expires_at),
      revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
      oidc: r.oidc_subject ? { subject: r.oidc_subject, name: r.oidc_name, claimGroups: jsonList(r.oidc_groups) } : null,
    };
  }

  async revoke(tokenHash: string, now: Date): Promise<void> {
    await this.db.query(`UPDATE console_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL`, [tokenHash, now.toISOString()]);
  }
}

function jsonList(v: unknown): string[] {
  const parsed: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}
