import { Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { OidcLoginsRepository } from '../persistence/oidc-logins.repository';
import { PolicyService } from '../policy/policy.service';
import { AuthError } from './auth.error';
import { OidcClientAdapter, refused, type OidcIdentity } from './oidc-client.adapter';
import { oidcPrincipal, ssoName } from './oidc-principal';
import type { Principal } from './principal';
import { SessionService, type SessionInfo } from './session.service';

export interface OidcStart {
  /** The provider's authorization URL to send the browser to. */
  url: URL;
  /** The browser's half of the sign-in: set as a cookie, checked by the callback. */
  binding: string;
}

/**
 * SSO sign-in, authorization code with PKCE. `start` keeps the state's hash, the nonce and the
 * PKCE verifier server-side (oidc_logins) and gives the browser a binding token; `finish` takes
 * that row once (a replayed callback finds nothing), checks the binding (a callback URL carried
 * to another browser does not sign that browser in), lets the provider adapter exchange the code
 * and check the ID token, maps the group claim to policy groups and opens the usual session.
 * Every outcome is audited with the source address.
 */
@Injectable()
export class OidcSignInService {
  private readonly logger = new Logger('OidcSignIn');

  constructor(
    private readonly config: AppConfig,
    private readonly provider: OidcClientAdapter,
    private readonly logins: OidcLoginsRepository,
    private readonly sessions: SessionService,
    private readonly policy: PolicyService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.config.oidc !== undefined;
  }

  get providerName(): string | undefined {
    return this.config.oidc?.providerName;
  }

  async start(): Promise<OidcStart> {
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    const url = await this.provider.authorizationUrl({ state, nonce, codeVerifier });
    const now = this.clock.now();
    const ttl = this.config.oidc?.loginTtlSeconds ?? 600;
    await this.logins.insert(
      { stateHash: sha256Hex(state), bindingHash: sha256Hex(binding), nonce, codeVerifier, expiresAt: new Date(now.getTime() + ttl * 1000) },
      now,
    );
    return { url, binding };
  }

  /** Throws AuthError naming why (details.reason an OidcRefusal), after auditing the refusal. */
  async finish(query: URLSearchParams, binding: string | undefined, source: string): Promise<SessionInfo & { token: string }> {
    let identity: OidcIdentity | undefined;
    try {
      const state = query.get('state');
      if (state === null || state === '') throw refused('bad_state', 'the callback carries no state: start the sign-in again from the console');
      const login = await this.logins.take(sha256Hex(state));
      if (login === null) {
        throw refused(
          'bad_state',
          'the sign-in state is unknown or was already used (a callback opened twice, or a forged one): start the sign-in again from the console',
        );
      }
      if (login.expiresAt.getTime() <= this.clock.nowMs())
        throw refused('bad_state', 'the sign-in took too long at the identity provider and its state expired: start again');
      if (binding === undefined || !sameHash(sha256Hex(binding), login.bindingHash)) {
        throw refused('bad_state', 'this sign-in was started in another browser (its cookie is missing here): start the sign-in again from this browser');
      }
      identity = await this.provider.exchange(query.toString(), { state, nonce: login.nonce, codeVerifier: login.codeVerifier });
      const name = ssoName(identity.label);
      const principal: Principal | undefined = oidcPrincipal(this.policy, identity.subject, name, identity.claimGroups);
      if (principal === undefined) {
        const claim = this.config.oidc?.groupsClaim ?? 'groups';
        throw refused(
          'unknown_group',
          `${name} is in no group the policy knows: the "${claim}" claim says ${identity.claimGroups.length === 0 ? 'nothing' : identity.claimGroups.map((g) => `"${g}"`).join(', ')}, ` +
            `and no group of ${this.policy.policy.source} lists these under oidcGroups or this subject under subjects (and the policy sets no sso.defaultGroup)`,
        );
      }
      const session = await this.sessions.openForOidc({ subject: identity.subject, name, claimGroups: identity.claimGroups }, principal);
      await this.audit.append({
        kind: 'auth.sign-in.succeeded',
        actor: name,
        data: { method: 'oidc', subject: identity.subject, groups: principal.groups, source },
      });
      return session;
    } catch (err) {
      if (err instanceof AuthError) {
        const actor = identity ? ssoName(identity.label) : 'anonymous';
        await this.audit
          .append({
            kind: 'auth.sign-in.refused',
            actor,
            data: { method: 'oidc', reason: err.details.reason ?? err.code, message: err.message, subject: identity?.subject ?? null, source },
          })
          .catch((e: unknown) => this.logger.error(`could not audit a refused sign-in: ${(e as Error).message}`));
      }
      throw err;
    }
  }
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
