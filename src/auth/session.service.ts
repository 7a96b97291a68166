import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { PolicyService } from '../policy/policy.service';
import { SessionsRepository, type OidcSessionPrincipal } from '../persistence/sessions.repository';
import { ApiKeyService } from './api-key.service';
import { AuthError } from './auth.error';
import { oidcPrincipal } from './oidc-principal';
import type { Principal } from './principal';
import { SignInGate } from './sign-in-gate.service';

export interface SessionInfo {
  principal: Principal;
  /** Sent back by the console in X-CSRF-Token on every state-changing request. */
  csrfToken: string;
  expiresAt: Date;
}

/** Methods that change nothing; every other method made with the session cookie needs the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Console sign-in: an API key is exchanged for an opaque random session token (the cookie). The
 * session holds the SHA-256 of the key, so the role is always the key's current one, and a key
 * taken out of RUNBOOKD_API_KEYS ends its sessions. Revoked by sign-out, ended by expiry.
 */
@Injectable()
export class SessionService {
  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly sessions: SessionsRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly policy: PolicyService,
    private readonly gate: SignInGate,
  ) {}

  get ttlSeconds(): number {
    return this.config.auth.sessionTtlSeconds;
  }

  /**
   * Throws AuthError('UNAUTHENTICATED') for a key that is not configured, SIGN_IN_THROTTLED while
   * `source` or the key's prefix is locked out (SignInGate); the key is never echoed. Audited either way.
   */
  async signIn(apiKey: string, source: string): Promise<SessionInfo & { token: string }> {
    await this.gate.admit('api-key', source, apiKey);
    let principal: Principal;
    try {
      principal = this.apiKeys.authenticate(`Bearer ${apiKey}`);
    } catch (err) {
      if (err instanceof AuthError) {
        await this.gate.refused('api-key', source, apiKey, typeof err.details.reason === 'string' ? err.details.reason : err.code);
        throw new AuthError('UNAUTHENTICATED', 'API key not recognized: sign in with a key listed in RUNBOOKD_API_KEYS', {
          reason: 'unknown_key',
          field: 'apiKey',
        });
      }
      throw err;
    }
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.auth.sessionTtlSeconds * 1000);
    await this.sessions.insert({ tokenHash: sha256Hex(token), keyDigest: sha256Hex(apiKey), csrfToken, expiresAt }, now);
    await this.gate.succeeded('api-key', source, principal);
    return { token, principal, csrfToken, expiresAt };
  }

  /** The same cookie session, for a person the identity provider vouched for (OidcSignInService checked them). */
  async openForOidc(oidc: OidcSessionPrincipal, principal: Principal): Promise<SessionInfo & { token: string }> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.auth.sessionTtlSeconds * 1000);
    await this.sessions.insert({ tokenHash: sha256Hex(token), keyDigest: null, oidc, csrfToken, expiresAt }, now);
    return { token, principal, csrfToken, expiresAt };
  }

  /**
   * The session behind a cookie, checked for expiry, sign-out and (for a state-changing method)
   * the CSRF header. Throws AuthError: UNAUTHENTICATED for no usable session, FORBIDDEN for CSRF.
   */
  async authenticate(token: string, method: string, csrfHeader: string | undefined): Promise<SessionInfo> {
    const session = await this.current(token);
    if (!SAFE_METHODS.has(method.toUpperCase()) && !sameSecret(csrfHeader, session.csrfToken)) {
      throw new AuthError(
        'FORBIDDEN',
        'a request that changes something with the console session cookie must carry the X-CSRF-Token header that sign-in (or GET /v1/session) returned',
        { reason: 'csrf' },
      );
    }
    return session;
  }

  async current(token: string): Promise<SessionInfo> {
    const row = await this.sessions.get(sha256Hex(token));
    if (row === null || row.revokedAt !== null || row.expiresAt.getTime() <= this.clock.nowMs()) {
      throw new AuthError('UNAUTHENTICATED', 'the console session has ended (signed out or expired): sign in again', { reason: 'session_ended' });
    }
    if (row.oidc) {
      // Mapped again on every request: a group taken out of the policy ends what it gave at once.
      const p = oidcPrincipal(this.policy, row.oidc.subject, row.oidc.name, row.oidc.claimGroups);
      if (p === undefined) {
        throw new AuthError('UNAUTHENTICATED', 'the policy no longer places this SSO user in any group: sign in again', { reason: 'session_ended' });
      }
      return { principal: p, csrfToken: row.csrfToken, expiresAt: row.expiresAt };
    }
    const principal = row.keyDigest === null ? undefined : this.apiKeys.principalForDigest(Buffer.from(row.keyDigest, 'hex'));
    if (principal === undefined) {
      throw new AuthError('UNAUTHENTICATED', 'the API key this session was opened with is no longer configured: sign in again', { reason: 'session_ended' });
    }
    return { principal, csrfToken: row.csrfToken, expiresAt: row.expiresAt };
  }

  async signOut(token: string): Promise<void> {
    await this.sessions.revoke(sha256Hex(token), this.clock.now());
  }
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
