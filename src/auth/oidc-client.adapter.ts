import { Injectable } from '@nestjs/common';
import * as oidc from 'openid-client';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import type { OidcConfig } from '../config/oidc.config';
import { AuthError } from './auth.error';

/** What the provider vouched for, once the code was exchanged and the ID token checked. */
export interface OidcIdentity {
  subject: string;
  /** email, preferred_username or sub: what people recognise. */
  label: string;
  /** The values of the configured group claim (ID token, else userinfo); [] when absent. */
  claimGroups: string[];
}

/** Why a callback was refused; the HTML page and the JSON error both say it. */
export type OidcRefusal = 'bad_state' | 'idp_error' | 'code_rejected' | 'id_token_invalid' | 'unknown_group' | 'idp_unavailable';

/**
 * The one place runbookd talks to the OpenID provider (openid-client v6, function-based): the
 * provider's metadata (read once, again after a failure), the authorization URL, and the code
 * exchange with its checks (state, PKCE, issuer, audience, expiry, nonce, signature). Every
 * failure leaves as an AuthError naming what was wrong; none carries the client secret or a token.
 */
@Injectable()
export class OidcClientAdapter {
  private server: Promise<oidc.ServerMetadata> | undefined;
  private jwks: oidc.ExportedJWKSCache | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  private get settings(): OidcConfig {
    // The controller answers 404 before anything reaches here when SSO is off.
    if (this.config.oidc === undefined) throw new Error('OidcClientAdapter used while SSO is not configured');
    return this.config.oidc;
  }

  async authorizationUrl(p: { state: string; nonce: string; codeVerifier: string }): Promise<URL> {
    const c = await this.configuration();
    const s = this.settings;
    return oidc.buildAuthorizationUrl(c, {
      redirect_uri: s.redirectUrl,
      scope: s.scopes.join(' '),
      state: p.state,
      nonce: p.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(p.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /** `query` is the callback's query string as the browser sent it. */
  async exchange(query: string, checks: { state: string; nonce: string; codeVerifier: string }): Promise<OidcIdentity> {
    const c = await this.configuration();
    const s = this.settings;
    // The redirect URL as configured (never the Host header), so redirect_uri matches what the provider registered.
    const current = new URL(s.redirectUrl);
    current.search = query;
    let claims: oidc.IDToken;
    let accessToken: string | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(c, current, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (idClaims === undefined) throw refused('id_token_invalid', 'the identity provider sent no ID token');
      claims = idClaims;
      accessToken = tokens.access_token;
    } catch (err) {
      throw this.translate(err);
    } finally {
      this.jwks = oidc.getJwksCache(c) ?? this.jwks;
    }
    let groupsValue: unknown = claims[s.groupsClaim];
    // Many providers put groups only in userinfo; ask there when the ID token has none.
    if (groupsValue === undefined && accessToken !== undefined && c.serverMetadata().userinfo_endpoint !== undefined) {
      try {
        groupsValue = (await oidc.fetchUserInfo(c, accessToken, claims.sub))[s.groupsClaim];
      } catch (err) {
        throw this.translate(err);
      }
    }
    const label = [claims.email, claims.preferred_username, claims.sub].find((v): v is string => typeof v === 'string' && v !== '') ?? claims.sub;
    return { subject: claims.sub, label: label.slice(0, 200), claimGroups: groupList(groupsValue) };
  }

  /**
   * A Configuration per request over the metadata read once: openid-client fixes the clock skew
   * when one is made, and the skew comes from runbookd's Clock (time is a side effect a test
   * steers; an expired ID token is judged by the same clock as everything else).
   */
  private async configuration(): Promise<oidc.Configuration> {
    const s = this.settings;
    const server = await this.metadata(s);
    const c = new oidc.Configuration(
      server,
      s.clientId,
      { [oidc.clockSkew]: Math.round((this.clock.nowMs() - Date.now()) / 1000), [oidc.clockTolerance]: s.clockToleranceSeconds },
      oidc.ClientSecretBasic(s.clientSecret),
    );
    c.timeout = Math.ceil(s.timeoutMs / 1000);
    if (new URL(s.issuer).protocol === 'http:') oidc.allowInsecureRequests(c);
    if (this.jwks !== undefined) oidc.setJwksCache(c, this.jwks);
    return c;
  }

  private metadata(s: OidcConfig): Promise<oidc.ServerMetadata> {
    if (this.server === undefined) {
      const insecure = new URL(s.issuer).protocol === 'http:';
      this.server = oidc
        .discovery(new URL(s.issuer), s.clientId, undefined, oidc.ClientSecretBasic(s.clientSecret), {
          timeout: Math.ceil(s.timeoutMs / 1000),
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        })
        .then((c) => c.serverMetadata());
      // A provider that was down is asked again at the next sign-in, not remembered as down.
      this.server.catch(() => (this.server = undefined));
    }
    return this.server.catch((err: unknown) => {
      throw new AuthError('IDP_UNAVAILABLE', `could not read the identity provider's configuration from ${s.issuer}: ${describe(err)}`, {
        reason: 'idp_unavailable' satisfies OidcRefusal,
      });
    });
  }

  private translate(err: unknown): AuthError {
    if (err instanceof AuthError) return err;
    if (err instanceof oidc.AuthorizationResponseError) {
      return refused('idp_error', `the identity provider did not sign you in: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`);
    }
    if (err instanceof oidc.ResponseBodyError) {
      // invalid_grant: a code used before, expired, or not issued for this verifier and redirect.
      return refused(
        'code_rejected',
        `the identity provider refused the authorization code: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`,
      );
    }
    if (err instanceof oidc.ClientError) {
      const code = String(err.code ?? '');
      // openid-client words the category; the check that failed ("aud", "exp", nonce ...) is in its cause.
      const why = err.cause instanceof Error ? err.cause.message : err.message;
      if (code === 'OAUTH_INVALID_RESPONSE' && /state/i.test(why)) return refused('bad_state', `the sign-in's state does not match: ${why}`);
      if (code.startsWith('OAUTH_JWT') || code.startsWith('OAUTH_JWS') || code === 'OAUTH_INVALID_RESPONSE' || code === 'OAUTH_MISSING_REQUIRED_CLAIM') {
        return refused('id_token_invalid', `the ID token was refused: ${why}`);
      }
    }
    return new AuthError('IDP_UNAVAILABLE', `the identity provider could not be asked: ${describe(err)}`, { reason: 'idp_unavailable' satisfies OidcRefusal });
  }
}

export function refused(reason: OidcRefusal, message: string): AuthError {
  return new AuthError(reason === 'unknown_group' ? 'FORBIDDEN' : 'UNAUTHENTICATED', message, { reason });
}

function groupList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string').slice(0, 500);
  return [];
}

/** A failure's own words, with its cause (fetch failures say "fetch failed" and hide the why there). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`.slice(0, 300);
}
