import { Injectable } from '@nestjs/common';
import { Database } from './database';

/** A started SSO sign-in, as the callback needs it (migration 18). State and binding arrive hashed. */
export interface OidcLoginRecord {
  stateHash: string;
  bindingHash: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: Date;
}

type Row = Record<string, any>;

@Injectable()
export class OidcLoginsRepository {
  constructor(private readonly db: Database) {}

  async insert(l: OidcLoginRecord, now: Date): Promise<void> {
    // Started sign-ins nobody finished would pile up: each start sweeps the expired ones.
    await this.db.query(`DELETE FROM oidc_logins WHERE expires_at < $1`, [now.toISOString()]);
    await this.db.query(`INSERT INTO oidc_logins (state_hash, binding_hash, nonce, code_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
      l.stateHash,
      l.bindingHash,
      l.nonce,
      l.codeVerifier,
      now.toISOString(),
      l.expiresAt.toISOString(),
    ]);
  }

  /**
   * Removes and returns the sign-in a state names, in one statement: of two callbacks racing with
   * one state, exactly one gets the row. Null when there is none (unknown, or already taken).
   */
  async take(stateHash: string): Promise<OidcLoginRecord | null> {
    const rows = await this.db.query<Row>(`DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *`, [stateHash]);
    const r = rows[0];
    if (!r) return null;
    return { stateHash: r.state_hash, bindingHash: r.binding_hash, nonce: r.nonce, codeVerifier: r.code_verifier, expiresAt: new Date(r.expires_at) };
  }
}
