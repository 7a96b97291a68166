import type { EnvReader } from './env-reader';
/**
 * Console sign-in through an OpenID Connect provider (authorization code with PKCE). Off unless
 * RUNBOOKD_OIDC_ISSUER is set; then the client id, secret and a redirect URL the provider knows
 * are required. The client secret is kept here and handed to the token request only: no problem
 * message, log line or audit record ever carries it.
 */
export interface OidcConfig {
  /** The issuer identifier; its `/.well-known/openid-configuration` is read at the first sign-in. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: `<public url>/v1/session/oidc/callback` unless set. */
  redirectUrl: string;
  /** The ID token claim whose values are matched against the policy groups' `oidcGroups`. */
  groupsClaim: string;
  /** Scopes asked for; always includes `openid`. */
  scopes: string[];
  /** What the console's button says: "Sign in with <providerName>". */
  providerName: string;
  /** How long a started sign-in may take at the provider before its state is refused. */
  loginTtlSeconds: number;
  /** Tolerated clock difference when checking the ID token's iat/exp. */
  clockToleranceSeconds: number;
  /** How long a call to the provider (discovery, token, keys) may take. */
  timeoutMs: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const CLAIM = /^[A-Za-z0-9_.:/-]{1,200}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/;

/**
 * Undefined when SSO is not configured. Every refusal names the variable; none quotes the secret.
 * http is accepted only for a provider on this machine (a test or a local IdP): anywhere else an
 * authorization code and ID token would cross the network in the clear.
 */
export function loadOidcConfig(r: EnvReader, publicUrl: string): OidcConfig | undefined {
  const problems = r.problems;
  const get = (name: string): string | undefined => r.trimmed(name);
  const issuer = get('RUNBOOKD_OIDC_ISSUER');
  const others = [
    'RUNBOOKD_OIDC_CLIENT_ID',
    'RUNBOOKD_OIDC_CLIENT_SECRET',
    'RUNBOOKD_OIDC_REDIRECT_URL',
    'RUNBOOKD_OIDC_GROUPS_CLAIM',
    'RUNBOOKD_OIDC_SCOPES',
    'RUNBOOKD_OIDC_PROVIDER_NAME',
  ];
  if (issuer === undefined) {
    const stray = others.filter((n) => get(n) !== undefined);
    if (stray.length > 0)
      problems.push(
        `${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but RUNBOOKD_OIDC_ISSUER is not: set the issuer to turn SSO on, or unset them`,
      );
    return undefined;
  }
  const urlOf = (name: string, value: string): URL | undefined => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      problems.push(`${name} is not a URL: "${value}"`);
      return undefined;
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
      problems.push(`${name} must be an https URL (http only for 127.0.0.1 or localhost), got "${u.protocol}//${u.host}"`);
    }
    if (u.username !== '' || u.password !== '') problems.push(`${name} must not carry a user name or password`);
    return u;
  };
  const issuerUrl = urlOf('RUNBOOKD_OIDC_ISSUER', issuer);
  if (issuerUrl && (issuerUrl.search !== '' || issuerUrl.hash !== ''))
    problems.push('RUNBOOKD_OIDC_ISSUER must have no query or fragment (it is the issuer identifier)');

  const clientId = get('RUNBOOKD_OIDC_CLIENT_ID');
  if (clientId === undefined) problems.push('RUNBOOKD_OIDC_CLIENT_ID is required when RUNBOOKD_OIDC_ISSUER is set');
  else if (clientId.length > 255 || /\s/.test(clientId)) problems.push('RUNBOOKD_OIDC_CLIENT_ID must be one word of at most 255 characters');
  const clientSecret = get('RUNBOOKD_OIDC_CLIENT_SECRET');
  // The length only: the value is a secret and never quoted back.
  if (clientSecret === undefined) problems.push('RUNBOOKD_OIDC_CLIENT_SECRET is required when RUNBOOKD_OIDC_ISSUER is set (a confidential client)');
  else if (clientSecret.length < 8) problems.push(`RUNBOOKD_OIDC_CLIENT_SECRET is ${clientSecret.length} characters long; a client secret has at least 8`);

  const redirectUrl = get('RUNBOOKD_OIDC_REDIRECT_URL') ?? `${publicUrl.replace(/\/+$/, '')}/v1/session/oidc/callback`;
  const redirect = urlOf('RUNBOOKD_OIDC_REDIRECT_URL', redirectUrl);
  if (redirect && !redirect.pathname.endsWith('/v1/session/oidc/callback')) {
    problems.push(`RUNBOOKD_OIDC_REDIRECT_URL must end in /v1/session/oidc/callback (the route that finishes sign-in), got path "${redirect.pathname}"`);
  }
  if (redirect && redirect.hash !== '') problems.push('RUNBOOKD_OIDC_REDIRECT_URL must have no fragment');

  const groupsClaim = get('RUNBOOKD_OIDC_GROUPS_CLAIM') ?? 'groups';
  if (!CLAIM.test(groupsClaim))
    problems.push(`RUNBOOKD_OIDC_GROUPS_CLAIM must be a claim name (letters, digits and _ . : / -), got "${groupsClaim.slice(0, 200)}"`);

  const scopes = (get('RUNBOOKD_OIDC_SCOPES') ?? 'openid profile groups').split(/[\s,]+/).filter(Boolean);
  for (const s of scopes) if (!SCOPE.test(s)) problems.push(`RUNBOOKD_OIDC_SCOPES: "${s.slice(0, 100)}" is not a scope token`);
  if (!scopes.includes('openid')) scopes.unshift('openid');

  return {
    issuer,
    clientId: clientId ?? '',
    clientSecret: clientSecret ?? '',
    redirectUrl,
    groupsClaim,
    scopes,
    providerName: get('RUNBOOKD_OIDC_PROVIDER_NAME')?.slice(0, 80) ?? issuerUrl?.hostname ?? issuer,
    loginTtlSeconds: r.int('RUNBOOKD_OIDC_LOGIN_TTL_SECONDS', 600, 30, 3600),
    clockToleranceSeconds: r.int('RUNBOOKD_OIDC_CLOCK_TOLERANCE_SECONDS', 30, 0, 300),
    timeoutMs: r.int('RUNBOOKD_OIDC_TIMEOUT_MS', 5000, 100, 60_000),
  };
}
