import { Client } from 'pg';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app.config';
import { RunEventsService } from '../../src/engine/run-events.service';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * The console's session cookie and the run event stream, over plain HTTP: what a browser (or a
 * forger) can send, without the browser. The browser itself is driven in console.e2e.spec.ts.
 */
describe('console sessions (cookie, CSRF, sign-out) and GET /v1/runs/:id/events', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      role: 'all',
      seed: false,
      runbooksDir: path.join(ROOT, 'test', 'e2e', 'fixtures', 'sleep'),
      env: { RUNBOOKD_EVENTS_POLL_MS: '200' },
    });
  });
  afterAll(async () => h?.close());

  async function signIn(apiKey: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${h.baseUrl}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ apiKey }),
    });
    const body = (await res.json()) as any;
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { status: res.status, body, setCookie, cookie: setCookie.split(';')[0] };
  }

  const withCookie = (method: string, url: string, cookie: string, headers: Record<string, string> = {}, body?: unknown) =>
    h.request(method, url, { key: null, headers: { cookie, ...headers }, body });

  const runCount = async () => (await h.request('GET', '/v1/runs?limit=200')).body.items.length;

  it('exchanges a configured key for an httpOnly, SameSite=Strict, expiring cookie; refuses an unknown key without a cookie', async () => {
    const bad = await signIn('rbd_not_a_key');
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('UNAUTHENTICATED');
    expect(bad.setCookie).toBe('');
    expect(JSON.stringify(bad.body)).not.toContain('rbd_not_a_key');

    const missing = await fetch(`${h.baseUrl}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as any).error.code).toBe('INVALID_REQUEST');

    const ok = await signIn(h.keys.operator);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ name: 'otto', role: 'operator', groups: ['operator'], may: ['view', 'run', 'approve', 'cancel'] });
    expect(typeof ok.body.csrfToken).toBe('string');
    const attrs = ok.setCookie.split(';').map((a) => a.trim());
    expect(attrs[0]).toMatch(/^runbookd_session=[A-Za-z0-9_-]{43}$/);
    expect(attrs).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=28800']));
    expect(attrs).not.toContain('Secure'); // plain http here
    // The key is not in the cookie, and the database holds only a hash of the token.
    expect(ok.setCookie).not.toContain(h.keys.operator);
    const token = attrs[0].split('=')[1];
    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      const rows = (await db.query('SELECT * FROM console_sessions')).rows;
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(JSON.stringify(rows)).not.toContain(h.keys.operator);
    } finally {
      await db.end();
    }

    const me = await withCookie('GET', '/v1/session', ok.cookie);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: 'otto', role: 'operator', csrfToken: ok.body.csrfToken });
  });

  it('sets Secure when the service is reached over https', async () => {
    const s = await signIn(h.keys.viewer, { 'x-forwarded-proto': 'https' });
    expect(s.setCookie.split(';').map((a) => a.trim())).toContain('Secure');
  });

  it('refuses a state-changing request made with the cookie unless it carries the CSRF token; starts nothing', async () => {
    const s = await signIn(h.keys.operator);
    const before = await runCount();
    const body = { parameters: {}, dryRun: true };
    for (const headers of [{} as Record<string, string>, { 'x-csrf-token': 'forged' }, { 'x-csrf-token': `${s.body.csrfToken}x` }]) {
      const res = await withCookie('POST', '/v1/runbooks/sleepy/runs', s.cookie, headers, body);
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', details: { reason: 'csrf' } });
    }
    // Another session's token does not do either.
    const other = await signIn(h.keys.operator);
    expect((await withCookie('POST', '/v1/runbooks/sleepy/runs', s.cookie, { 'x-csrf-token': other.body.csrfToken }, body)).status).toBe(403);
    expect(await runCount()).toBe(before);

    const ok = await withCookie('POST', '/v1/runbooks/sleepy/runs', s.cookie, { 'x-csrf-token': s.body.csrfToken }, body);
    expect(ok.status).toBe(202);
    expect(ok.body.actor).toBe('otto');
    await h.waitForRun(ok.body.id);
  });

  it('gives the cookie exactly the role of its key, and opens report links with it', async () => {
    const viewer = await signIn(h.keys.viewer);
    const start = await withCookie('POST', '/v1/runbooks/sleepy/runs', viewer.cookie, { 'x-csrf-token': viewer.body.csrfToken }, { parameters: {} });
    expect(start.status).toBe(403);
    expect(start.body.error.details).toMatchObject({ action: 'run', groups: ['viewer'] });

    const run = await h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { parameters: {}, dryRun: true } });
    await h.waitForRun(run.body.id);
    const html = await withCookie('GET', `/v1/runs/${run.body.id}/report?format=html`, viewer.cookie);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect((await withCookie('GET', `/v1/runs/${run.body.id}/report?format=md`, viewer.cookie)).status).toBe(200);
    // Without a cookie or key the same link is refused.
    expect((await h.request('GET', `/v1/runs/${run.body.id}/report?format=html`, { key: null })).status).toBe(401);
  });

  it('refuses a forged, signed-out or expired session; a bearer key still works beside any cookie', async () => {
    const forged = await withCookie('GET', '/v1/runs', 'runbookd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(forged.status).toBe(401);

    const s = await signIn(h.keys.admin);
    expect((await withCookie('GET', '/v1/runs', s.cookie)).status).toBe(200);
    // Sign-out is state-changing too.
    expect((await withCookie('DELETE', '/v1/session', s.cookie)).status).toBe(403);
    const out = await withCookie('DELETE', '/v1/session', s.cookie, { 'x-csrf-token': s.body.csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    // A copy of the cookie kept after sign-out is dead too.
    const after = await withCookie('GET', '/v1/runs', s.cookie);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHENTICATED');

    const e = await signIn(h.keys.admin);
    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      await db.query(`UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE csrf_token = $1`, [e.body.csrfToken]);
    } finally {
      await db.end();
    }
    expect((await withCookie('GET', '/v1/runs', e.cookie)).status).toBe(401);

    const bearer = await h.request('GET', '/v1/runs', { key: h.keys.viewer, headers: { cookie: s.cookie } });
    expect(bearer.status).toBe(200);
  });

  it('lets a session made on one API replica work on another, and ends the sessions of a key taken out of the configuration', async () => {
    const operator = await signIn(h.keys.operator);
    const viewer = await signIn(h.keys.viewer);
    // A second API process on the same database whose configuration no longer lists the operator key.
    const sha = (k: string) => createHash('sha256').update(k).digest('hex');
    const config = loadConfig({ ...h.env, RUNBOOKD_ROLE: 'api', RUNBOOKD_API_KEYS: `vera:viewer:${sha(h.keys.viewer)}` });
    const other = await createApp(config);
    await other.listen(0, '127.0.0.1');
    try {
      const base = await other.getUrl();
      const get = (cookie: string) =>
        fetch(`${base}/v1/runs`, { headers: { cookie } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      expect((await get(viewer.cookie)).status).toBe(200);
      const gone = await get(operator.cookie);
      expect(gone.status).toBe(401);
      expect(gone.body.error.message).toContain('no longer configured');
      // The replica that still lists the key accepts it.
      expect((await withCookie('GET', '/v1/runs', operator.cookie)).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it("streams a run's state and step changes as Server-Sent Events and ends when the run ends", async () => {
    const run = await h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { parameters: {} } });
    expect(run.status).toBe(202);
    const res = await fetch(`${h.baseUrl}/v1/runs/${run.body.id}/events`, { headers: { authorization: `Bearer ${h.keys.viewer}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    // The stream ends by itself when the run ends: reading it to the end must finish.
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('event: '))
      .map((block) => ({ type: /event: (\w+)/.exec(block)![1], data: JSON.parse(/data: (.*)/.exec(block)![1]) }));
    const runStates = events.filter((e) => e.type === 'run').map((e) => e.data.state);
    expect(runStates[0]).toMatch(/queued|running|waiting/);
    expect(runStates[runStates.length - 1]).toBe('succeeded');
    expect(runStates).toContain('waiting'); // the 3 s nap was seen live
    const napStates = events.filter((e) => e.type === 'step' && e.data.id === 'nap').map((e) => e.data.state);
    expect(napStates).toEqual(expect.arrayContaining(['waiting', 'succeeded']));
    expect(events[events.length - 1]).toEqual({ type: 'end', data: { id: run.body.id, state: 'succeeded' } });
    // A run event carries no steps (they come one by one).
    expect(events.find((e) => e.type === 'run')!.data.steps).toBeUndefined();
  });

  it('stops polling for a stream whose client went away while the run goes on', async () => {
    const events = h.app.get(RunEventsService);
    const run = await h.request('POST', '/v1/runbooks/sleepy/runs', { key: h.keys.operator, body: { parameters: {} } });
    const gone = new AbortController();
    const res = await fetch(`${h.baseUrl}/v1/runs/${run.body.id}/events`, { headers: { authorization: `Bearer ${h.keys.viewer}` }, signal: gone.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: run');
    expect(events.openStreams).toBe(1);
    gone.abort();
    await eventually(() => (events.openStreams === 0 ? true : undefined), 2000, 'the stream to be let go');
    // It was the client leaving, not the run ending, that ended it.
    expect((await h.request('GET', `/v1/runs/${run.body.id}`)).body.state).not.toBe('succeeded');
    await h.waitForRun(run.body.id);
  });

  it('answers the stream of an unknown run with a JSON 404, and no key with 401', async () => {
    const missing = await h.request('GET', '/v1/runs/r-nope/events', { key: h.keys.viewer });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('RUN_NOT_FOUND');
    expect((await h.request('GET', '/v1/runs/r-nope/events', { key: null })).status).toBe(401);
  });

  it("serves the console at / from this origin only, and still answers unknown paths with the API's JSON 404", async () => {
    const index = await fetch(`${h.baseUrl}/`);
    expect(index.status).toBe(200);
    const html = await index.text();
    expect(html).toContain('<div id="root">');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    // Nothing is loaded from elsewhere: every src/href is a local path.
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    for (const r of refs) expect(r).toMatch(/^(\/|data:)/);
    const asset = refs.find((r) => r.endsWith('.js'))!;
    const js = await fetch(`${h.baseUrl}${asset}`);
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);
    const unknown = await h.request('GET', '/v1/nothing-here', { key: null });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
  });
});
