import { ConfigError, loadConfig } from '../../src/config/app.config';
import { parsePolicy, PolicyFileError } from '../../src/policy/policy-file';

const SECRET = 'a-very-secret-client-secret-1234';
const GOOD = {
  RUNBOOKD_OIDC_ISSUER: 'https://idp.example.com/realms/ops',
  RUNBOOKD_OIDC_CLIENT_ID: 'runbookd',
  RUNBOOKD_OIDC_CLIENT_SECRET: SECRET,
  RUNBOOKD_PUBLIC_URL: 'https://runbookd.example.com/',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    // The secret is never quoted back, whatever else is wrong.
    expect((err as Error).message).not.toContain(SECRET);
    return (err as ConfigError).problems;
  }
  throw new Error('expected loadConfig to refuse this configuration');
}

describe('SSO configuration (RUNBOOKD_OIDC_*)', () => {
  it('is off when no issuer is set', () => {
    expect(loadConfig({}).oidc).toBeUndefined();
  });

  it('takes issuer, client id and secret; derives the redirect URL from the public URL; defaults the claim and scopes', () => {
    expect(loadConfig(GOOD).oidc).toEqual({
      issuer: 'https://idp.example.com/realms/ops',
      clientId: 'runbookd',
      clientSecret: SECRET,
      redirectUrl: 'https://runbookd.example.com/v1/session/oidc/callback',
      groupsClaim: 'groups',
      scopes: ['openid', 'profile', 'groups'],
      providerName: 'idp.example.com',
      loginTtlSeconds: 600,
      clockToleranceSeconds: 30,
      timeoutMs: 5000,
    });
    const c = loadConfig({ ...GOOD, RUNBOOKD_OIDC_GROUPS_CLAIM: 'roles', RUNBOOKD_OIDC_SCOPES: 'profile email', RUNBOOKD_OIDC_PROVIDER_NAME: 'Okta' }).oidc;
    expect(c).toMatchObject({ groupsClaim: 'roles', scopes: ['openid', 'profile', 'email'], providerName: 'Okta' });
  });

  it('refuses a half configuration, naming each missing variable', () => {
    expect(problems({ RUNBOOKD_OIDC_ISSUER: GOOD.RUNBOOKD_OIDC_ISSUER })).toEqual([
      'RUNBOOKD_OIDC_CLIENT_ID is required when RUNBOOKD_OIDC_ISSUER is set',
      'RUNBOOKD_OIDC_CLIENT_SECRET is required when RUNBOOKD_OIDC_ISSUER is set (a confidential client)',
    ]);
    expect(problems({ RUNBOOKD_OIDC_CLIENT_ID: 'x', RUNBOOKD_OIDC_CLIENT_SECRET: SECRET })).toEqual([
      'RUNBOOKD_OIDC_CLIENT_ID, RUNBOOKD_OIDC_CLIENT_SECRET are set but RUNBOOKD_OIDC_ISSUER is not: set the issuer to turn SSO on, or unset them',
    ]);
  });

  it('refuses plain http except on this machine, and URLs that are not an issuer or the callback', () => {
    expect(problems({ ...GOOD, RUNBOOKD_OIDC_ISSUER: 'http://idp.example.com' })).toEqual([
      'RUNBOOKD_OIDC_ISSUER must be an https URL (http only for 127.0.0.1 or localhost), got "http://idp.example.com"',
    ]);
    expect(loadConfig({ ...GOOD, RUNBOOKD_OIDC_ISSUER: 'http://127.0.0.1:8080' }).oidc?.issuer).toBe('http://127.0.0.1:8080');
    expect(problems({ ...GOOD, RUNBOOKD_OIDC_ISSUER: 'not a url' })).toEqual(['RUNBOOKD_OIDC_ISSUER is not a URL: "not a url"']);
    expect(problems({ ...GOOD, RUNBOOKD_OIDC_ISSUER: 'https://idp.example.com/?tenant=1' })).toEqual([
      'RUNBOOKD_OIDC_ISSUER must have no query or fragment (it is the issuer identifier)',
    ]);
    expect(problems({ ...GOOD, RUNBOOKD_OIDC_REDIRECT_URL: 'https://runbookd.example.com/elsewhere' })).toEqual([
      'RUNBOOKD_OIDC_REDIRECT_URL must end in /v1/session/oidc/callback (the route that finishes sign-in), got path "/elsewhere"',
    ]);
  });

  it('refuses a short secret by its length only, a bad claim name, scope or number', () => {
    const p = problems({
      ...GOOD,
      RUNBOOKD_OIDC_CLIENT_SECRET: 'abc',
      RUNBOOKD_OIDC_GROUPS_CLAIM: 'has space',
      RUNBOOKD_OIDC_SCOPES: 'openid "x"',
      RUNBOOKD_OIDC_LOGIN_TTL_SECONDS: '5',
    });
    expect(p).toEqual([
      'RUNBOOKD_OIDC_CLIENT_SECRET is 3 characters long; a client secret has at least 8',
      'RUNBOOKD_OIDC_GROUPS_CLAIM must be a claim name (letters, digits and _ . : / -), got "has space"',
      'RUNBOOKD_OIDC_SCOPES: ""x"" is not a scope token',
      'RUNBOOKD_OIDC_LOGIN_TTL_SECONDS must be an integer from 30 to 3600, got "5"',
    ]);
    expect(p.join('\n')).not.toContain('abc');
  });
});

describe('policy sso.defaultGroup', () => {
  it('names a known group, or the policy is refused naming the field', () => {
    expect(parsePolicy('sso: { defaultGroup: viewer }', 'p.yaml').sso).toEqual({ defaultGroup: 'viewer' });
    expect(parsePolicy('version: 1', 'p.yaml').sso).toEqual({ defaultGroup: undefined });
    expect(() => parsePolicy('sso: { defaultGroup: nobody }', 'p.yaml')).toThrow(PolicyFileError);
    try {
      parsePolicy('sso: { defaultGroup: nobody, other: 1 }', 'p.yaml');
    } catch (err) {
      expect((err as PolicyFileError).problems).toEqual([
        'p.yaml: sso.other: unknown field (known: defaultGroup)',
        'p.yaml: sso.defaultGroup: unknown group "nobody" (groups: viewer, operator, admin)',
      ]);
    }
  });
});
