import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { Clock } from '../../src/common/clock';
import { Harness, ROOT } from '../support/runbookd';

const POLICY = `
version: 1
groups:
  operator: { oidcGroups: [sre] }
  viewer: { oidcGroups: [readers] }
grants:
  - { group: viewer, may: [view] }
  - { group: operator, may: [view, run, approve, cancel] }
  - { group: admin, may: [view, run, approve, cancel, admin] }
  # A person named by their subject alone, in no group: the policy can name an OIDC subject.
  - { subject: u-vic, may: [view] }
`;

const CLIENT_SECRET = `test-secret-${randomBytes(8).toString('hex')}`;
const OTHER_SECRET = `other-secret-${randomBytes(8).toString('hex')}`;
const OTHER_REDIRECT = 'http://127.0.0.1:9/other-app/callback';

/** The IdP's people: subject → claims. */
const PEOPLE: Record<string, { email: string; groups: string[] }> = {
  'u-olga': { email: 'olga@example.com', groups: ['sre', 'everyone'] },
  'u-mark': { email: 'mark@example.com', groups: ['marketing'] },
  'u-vic': { email: 'vic@example.com', groups: [] },
};

/** A browser's cookie jar and redirect following, over fetch: cookies per host (not port), with Path. */
class Browser {
  private readonly jar = new Map<string, { value: string; path: string }>();

  cookieHeader(url: URL): string {
    return [...this.jar.entries()]
      .filter(([k, c]) => k.startsWith(`${url.hostname} `) && url.pathname.startsWith(c.path))
      .map(([k, c]) => `${k.split(' ')[1]}=${c.value}`)
      .join('; ');
  }

  async get(url: string, accept = 'text/html,application/xhtml+xml'): Promise<Response> {
    const u = new URL(url);
    const res = await fetch(u, { redirect: 'manual', headers: { accept, cookie: this.cookieHeader(u) } });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const p = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const maxAge = attrs.find((a) => a.toLowerCase().startsWith('max-age='));
      const expired = (maxAge !== undefined && Number(maxAge.slice(8)) <= 0) || attrs.some((a) => /^expires=.*1970/i.test(a));
      if (expired || pair.slice(eq + 1) === '') this.jar.delete(`${u.hostname} ${name}`);
      else this.jar.set(`${u.hostname} ${name}`, { value: pair.slice(eq + 1), path: p });
    }
    return res;
  }

  /** Follows redirects from `url` until one points at a URL starting with `stopAt`; returns that URL. */
  async followUntil(url: string, stopAt: string): Promise<string> {
    let next = url;
    for (let i = 0; i < 15; i++) {
      if (next.startsWith(stopAt)) return next;
      const res = await this.get(next);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null)
        throw new Error(`${next} answered ${res.status} without a redirect: ${(await res.text()).slice(0, 300)}`);
      next = new URL(location, next).href;
    }
    throw new Error(`too many redirects from ${url}`);
  }

  has(host: string, name: string): boolean {
    return this.jar.has(`${host} ${name}`);
  }
}

/**
 * SSO sign-in against a real OpenID provider (oidc-provider) on 127.0.0.1, the login interaction
 * driven over HTTP: the good path (a session with the group's permissions), then every refusal
 * the issue names, each a page saying why, with no session opened.
 */
describe('console SSO: OpenID Connect sign-in against oidc-provider', () => {
  let h: Harness;
  let dir: string;
  let idp: http.Server;
  let issuer: string;
  let callbackUrl: string;
  let db: Client;
  /** Who logs in at the IdP's interaction. */
  let loginAs = 'u-olga';
  /** When set, the IdP's token endpoint hands out this ID token instead of the one it minted. */
  let swapIdToken: string | undefined;
  let provider: any;

  const sessionRows = async () => Number((await db.query('SELECT count(*)::int AS n FROM console_sessions')).rows[0].n);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-oidc-'));
    const policyFile = path.join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);

    // Both ports first: the IdP registers runbookd's redirect URL, runbookd is configured with the issuer.
    idp = http.createServer((req, res) => void handle(req, res));
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const apiPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    callbackUrl = `http://127.0.0.1:${apiPort}/v1/session/oidc/callback`;

    const { default: Provider } = await import('oidc-provider');
    provider = new Provider(issuer, {
      clients: [
        { client_id: 'runbookd', client_secret: CLIENT_SECRET, redirect_uris: [callbackUrl], response_types: ['code'], grant_types: ['authorization_code'] },
        { client_id: 'other-app', client_secret: OTHER_SECRET, redirect_uris: [OTHER_REDIRECT], response_types: ['code'], grant_types: ['authorization_code'] },
      ],
      scopes: ['openid', 'profile', 'email', 'groups'],
      claims: { openid: ['sub'], email: ['email'], profile: ['name'], groups: ['groups'] },
      // The groups claim in the ID token itself (the first place runbookd looks).
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      cookies: { keys: ['oidc-e2e-cookie-key'] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      findAccount: async (_ctx: unknown, sub: string) =>
        PEOPLE[sub] === undefined ? undefined : { accountId: sub, claims: async () => ({ sub, email: PEOPLE[sub].email, groups: PEOPLE[sub].groups }) },
      // No consent screen: every client gets the scopes it asks for (the provider's documented recipe).
      loadExistingGrant: async (ctx: any) => {
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid profile email groups');
        await grant.save();
        return grant;
      },
    });
    provider.use(async (ctx: any, next: () => Promise<void>) => {
      await next();
      if (ctx.path === '/token' && swapIdToken !== undefined && ctx.body?.id_token) ctx.body.id_token = swapIdToken;
    });
    const callback = provider.callback();
    async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
      try {
        if (req.url?.startsWith('/interaction/')) {
          await provider.interactionFinished(req, res, { login: { accountId: loginAs } }, { mergeWithLastSubmission: false });
          return;
        }
        callback(req, res);
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
    }

    h = await Harness.start({
      role: 'api',
      seed: false,
      policy: policyFile,
      port: apiPort,
      runbooksDir: path.join(ROOT, 'test', 'e2e', 'fixtures', 'sleep'),
      env: {
        RUNBOOKD_OIDC_ISSUER: issuer,
        RUNBOOKD_OIDC_CLIENT_ID: 'runbookd',
        RUNBOOKD_OIDC_CLIENT_SECRET: CLIENT_SECRET,
        RUNBOOKD_OIDC_REDIRECT_URL: callbackUrl,
        RUNBOOKD_OIDC_SCOPES: 'openid profile email groups',
        RUNBOOKD_OIDC_PROVIDER_NAME: 'Test IdP',
      },
    });
    db = new Client({ connectionString: h.db.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await h?.close();
    await new Promise<void>((r) => (idp ? idp.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts at runbookd, logs in at the IdP as `loginAs`, stops at the callback (not yet opened). */
  async function toCallback(b: Browser): Promise<string> {
    return b.followUntil(`${h.baseUrl}/v1/session/oidc/start`, callbackUrl);
  }

  async function expectRefusal(b: Browser, url: string, status: number, reason: string, why: RegExp): Promise<void> {
    const before = await sessionRows();
    const res = await b.get(url);
    const page = (await res.text())
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    expect({ status: res.status, type: res.headers.get('content-type') }).toEqual({ status, type: 'text/html; charset=utf-8' });
    expect(page).toContain('Sign-in refused');
    expect(page).toContain(reason);
    expect(page).toMatch(why);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('runbookd_session='))).toBe(false);
    expect(b.has('127.0.0.1', 'runbookd_session')).toBe(false);
    expect(await sessionRows()).toBe(before);
  }

  const audits = async (kind: string) => (await h.request('GET', `/v1/audit?kind=${kind}&limit=100`)).body.items as any[];

  it('the console is told SSO is on, and by which provider', async () => {
    const res = await h.request('GET', '/v1/session/oidc', { key: null });
    expect(res.body).toEqual({ configured: true, provider: 'Test IdP', startUrl: '/v1/session/oidc/start' });
  });

  let goodCallback = '';
  let goodCookie = '';

  it('signs in: the start redirects with state, nonce and S256 PKCE; the callback opens the usual session with the group claim mapped to the policy', async () => {
    const b = new Browser();
    const start = await b.get(`${h.baseUrl}/v1/session/oidc/start`);
    expect(start.status).toBe(302);
    const auth = new URL(start.headers.get('location') ?? '');
    expect(auth.origin).toBe(issuer);
    expect(Object.fromEntries(['client_id', 'response_type', 'redirect_uri', 'code_challenge_method'].map((k) => [k, auth.searchParams.get(k)]))).toEqual({
      client_id: 'runbookd',
      response_type: 'code',
      redirect_uri: callbackUrl,
      code_challenge_method: 'S256',
    });
    for (const k of ['state', 'nonce', 'code_challenge']) expect(auth.searchParams.get(k)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    // The verifier, nonce and state stay server-side, hashed where they are secrets; the browser holds only a binding cookie.
    expect(start.headers.getSetCookie()[0]).toMatch(/^runbookd_oidc=[A-Za-z0-9_-]{43}; Path=\/v1\/session\/oidc; HttpOnly; SameSite=Lax; Max-Age=600$/);
    const stored = (await db.query('SELECT * FROM oidc_logins')).rows;
    expect(JSON.stringify(stored)).not.toContain(auth.searchParams.get('state'));

    goodCallback = await b.followUntil(auth.href, callbackUrl);
    const res = await b.get(goodCallback);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/#/');
    const session = res.headers.getSetCookie().find((c) => c.startsWith('runbookd_session=')) ?? '';
    expect(session).toMatch(/^runbookd_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    goodCookie = session.split(';')[0];

    const me = await h.request('GET', '/v1/session', { key: null, headers: { cookie: goodCookie } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: 'sso:olga@example.com', role: 'operator', groups: ['operator'], may: ['view', 'run', 'approve', 'cancel'] });
    const runs = await h.request('GET', '/v1/runs', { key: null, headers: { cookie: goodCookie } });
    expect(runs.status).toBe(200);
    expect(Array.isArray(runs.body.items)).toBe(true);
    // Operator, not admin: an admin route is refused by the policy for this session.
    const stop = await h.request('POST', '/v1/stop-all', {
      key: null,
      headers: { cookie: goodCookie, 'x-csrf-token': me.body.csrfToken },
      body: { reason: 'not allowed' },
    });
    expect(stop.status).toBe(403);
    expect(stop.body.error.message).toContain('sso:olga@example.com');

    const ok = (await audits('auth.sign-in.succeeded')).filter((a) => a.actor === 'sso:olga@example.com');
    expect(ok).toHaveLength(1);
    expect(ok[0].data).toMatchObject({ method: 'oidc', subject: 'u-olga', groups: ['operator'], source: '127.0.0.1' });
    expect(JSON.stringify(await audits('auth.'))).not.toContain(CLIENT_SECRET);
  });

  it('refuses a replayed callback (its state was used) and a used code under a fresh state (the IdP refuses it): no session', async () => {
    const b = new Browser();
    await toCallback(b); // this browser has a sign-in of its own under way (its binding cookie)
    await expectRefusal(b, goodCallback, 401, 'bad_state', /already used/);

    // The same code again, with a state (and verifier) runbookd does know: the exchange reaches the IdP, which refuses it.
    const fresh = new URL(await toCallback(b));
    const replay = new URL(goodCallback);
    replay.searchParams.set('state', fresh.searchParams.get('state') ?? '');
    await expectRefusal(b, replay.href, 401, 'code_rejected', /refused the authorization code: invalid_grant/);
  });

  it('refuses a bad state, and a callback carried to another browser', async () => {
    const b = new Browser();
    const cb = new URL(await toCallback(b));
    const forged = new URL(cb);
    forged.searchParams.set('state', 'forged-state-0000000000000000000000000000000000');
    await expectRefusal(b, forged.href, 401, 'bad_state', /unknown or was already used/);
    const missing = new URL(cb);
    missing.searchParams.delete('state');
    await expectRefusal(b, missing.href, 401, 'bad_state', /carries no state/);
    // The real callback, opened by someone else's browser (no binding cookie): refused, and it used the state up.
    await expectRefusal(new Browser(), cb.href, 401, 'bad_state', /started in another browser/);
  });

  it('refuses an ID token issued to another client (wrong audience)', async () => {
    const b = new Browser();
    const start = await b.get(`${h.baseUrl}/v1/session/oidc/start`);
    const auth = new URL(start.headers.get('location') ?? '');
    // A genuine ID token from the same IdP for the same person and nonce, but for client "other-app".
    const verifier = randomBytes(32).toString('base64url');
    const otherAuth = new URL(`${issuer}/auth`);
    for (const [k, v] of Object.entries({
      client_id: 'other-app',
      response_type: 'code',
      redirect_uri: OTHER_REDIRECT,
      scope: 'openid email groups',
      state: 'other-state',
      nonce: auth.searchParams.get('nonce') ?? '',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }))
      otherAuth.searchParams.set(k, v);
    const otherCode = new URL(await new Browser().followUntil(otherAuth.href, OTHER_REDIRECT)).searchParams.get('code') ?? '';
    const tokenRes = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`other-app:${OTHER_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: otherCode, redirect_uri: OTHER_REDIRECT, code_verifier: verifier }),
    });
    const other = (await tokenRes.json()) as { id_token: string };
    expect(JSON.parse(Buffer.from(other.id_token.split('.')[1], 'base64url').toString()).aud).toBe('other-app');

    const cb = await b.followUntil(auth.href, callbackUrl);
    swapIdToken = other.id_token;
    try {
      await expectRefusal(b, cb, 401, 'id_token_invalid', /"aud" \(audience\)/);
    } finally {
      swapIdToken = undefined;
    }
  });

  it("refuses an expired ID token (runbookd's clock past its exp and the tolerance)", async () => {
    const b = new Browser();
    const cb = await toCallback(b);
    const clock = h.app.get(Clock);
    // The IdP mints ID tokens for an hour; runbookd's clock (what every time check asks) is moved 2 hours on.
    const real = clock.nowMs.bind(clock);
    const spy = jest.spyOn(clock, 'nowMs').mockImplementation(() => real() + 2 * 3600_000);
    try {
      // Only the ID token is to be late here: the started sign-in's own deadline moves with the clock.
      await db.query(`UPDATE oidc_logins SET expires_at = expires_at + interval '3 hours'`);
      await expectRefusal(b, cb, 401, 'id_token_invalid', /"exp" \(expiration time\)/);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a person whose groups the policy does not know (no sso.defaultGroup), naming the claim values', async () => {
    loginAs = 'u-mark';
    try {
      const b = new Browser();
      const cb = await toCallback(b);
      await expectRefusal(b, cb, 403, 'unknown_group', /sso:mark@example\.com is in no group the policy knows: the "groups" claim says "marketing"/);
    } finally {
      loginAs = 'u-olga';
    }
    const refused = (await audits('auth.sign-in.refused')).find((a) => a.actor === 'sso:mark@example.com');
    expect(refused?.data).toMatchObject({ method: 'oidc', reason: 'unknown_group', subject: 'u-mark', source: '127.0.0.1' });
  });

  it('lets in a subject the policy names directly, with only that grant', async () => {
    loginAs = 'u-vic';
    try {
      const b = new Browser();
      const res = await b.get(await toCallback(b));
      expect(res.status).toBe(303);
      const cookie = (res.headers.getSetCookie().find((c) => c.startsWith('runbookd_session=')) ?? '').split(';')[0];
      const me = await h.request('GET', '/v1/session', { key: null, headers: { cookie } });
      expect(me.body).toMatchObject({ name: 'sso:vic@example.com', groups: [], may: ['view'] });
    } finally {
      loginAs = 'u-olga';
    }
  });

  it('answers an API client with the JSON error, and every refusal above was audited with its reason', async () => {
    const res = await fetch(`${h.baseUrl}/v1/session/oidc/callback?code=x&state=y`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'bad_state' } });
    const reasons = (await audits('auth.sign-in.refused')).map((a) => a.data.reason);
    for (const r of ['bad_state', 'code_rejected', 'id_token_invalid', 'unknown_group']) expect(reasons).toContain(r);
  });
});
