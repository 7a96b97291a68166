import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import * as path from 'node:path';
import { keyIdentity } from '../../src/auth/sign-in-gate.service';
import { eventually, Harness, ROOT } from '../support/runbookd';

/**
 * Sign-in is audited and rate-limited: a flood of wrong keys from one address is answered 429
 * with Retry-After after a few refusals, every refusal is in the audit log (never the key), and
 * a right key from another address still signs in. Addresses are real: the whole of 127/8 is
 * loopback, so a client bound to 127.0.0.2 is another source address, with no header to forge.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One HTTP request from the given local (source) address. */
function send(baseUrl: string, from: string, method: string, url: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const target = new URL(url, baseUrl);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method,
        localAddress: from,
        agent: false,
        headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...(opts.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const REAL_LIMITS = {
  RUNBOOKD_SIGN_IN_ADDRESS_FAILURES: '5',
  RUNBOOKD_SIGN_IN_KEY_FAILURES: '10',
  RUNBOOKD_SIGN_IN_BASE_DELAY_SECONDS: '1',
  RUNBOOKD_SIGN_IN_MAX_DELAY_SECONDS: '900',
  RUNBOOKD_SIGN_IN_WINDOW_SECONDS: '900',
};

/** A wrong key shaped like a runbookd key, its prefix (rbd_ + 4) never that of a configured key (rbd_v_, rbd_o_, rbd_a_). */
const wrongKey = () => `rbd_W${randomBytes(32).toString('base64url')}`;

async function auditRows(dbUrl: string, kind: string): Promise<Array<{ actor: string; data: any }>> {
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  try {
    return (await db.query('SELECT actor, data FROM audit_events WHERE kind = $1 ORDER BY seq', [kind])).rows;
  } finally {
    await db.end();
  }
}

async function allAuditText(dbUrl: string): Promise<string> {
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  try {
    return JSON.stringify((await db.query('SELECT * FROM audit_events')).rows);
  } finally {
    await db.end();
  }
}

describe('sign-in: audited and rate-limited per address and key prefix', () => {
  let h: Harness;
  const logged: string[] = [];
  const original = { out: process.stdout.write, err: process.stderr.write };
  const canary = `rbd_CANARY${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    // Every line the service writes is kept, at debug level, to look for the canary key in.
    process.stdout.write = (chunk: unknown, ...rest: unknown[]) => {
      logged.push(String(chunk));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    };
    process.stderr.write = (chunk: unknown, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return (original.err as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
    };
    h = await Harness.start({
      role: 'api',
      seed: false,
      runbooksDir: path.join(ROOT, 'test', 'e2e', 'fixtures', 'sleep'),
      env: { ...REAL_LIMITS, RUNBOOKD_LOG_LEVEL: 'debug' },
    });
  });
  afterAll(async () => {
    await h?.close();
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  });

  it('300 wrong keys from one address: 429 with Retry-After after a few refusals, each refusal audited; a right key from another address signs in', async () => {
    const statuses: number[] = [];
    let throttled: Answer | undefined;
    for (let i = 0; i < 300; i++) {
      const a = await send(h.baseUrl, '127.0.0.1', 'POST', '/v1/session', { body: { apiKey: i === 0 ? canary : wrongKey() } });
      statuses.push(a.status);
      if (a.status === 429 && throttled === undefined) throttled = a;
      expect([401, 429]).toContain(a.status);
    }
    const refusedCount = statuses.filter((s) => s === 401).length;
    const throttledCount = statuses.filter((s) => s === 429).length;
    // The first five are plain refusals; the sixth starts a lockout.
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses[6]).toBe(429);
    // The lockout doubles with every refusal after it ends (1 s, 2 s, 4 s ...): only a few more get a key looked at.
    expect(throttledCount).toBeGreaterThan(250);
    expect(refusedCount).toBeLessThan(20);

    expect(throttled).toBeDefined();
    const retryAfter = Number(throttled!.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    expect(throttled!.body).toEqual({
      error: {
        code: 'SIGN_IN_THROTTLED',
        message: expect.stringMatching(/too many refused sign-ins from 127\.0\.0\.1: wait \d+ s/),
        details: { reason: 'rate_limited', scope: 'address', retryAfterSeconds: retryAfter },
      },
    });

    // The right key from the locked-out address is refused too, unread: the lockout is of the address.
    const sameAddress = await send(h.baseUrl, '127.0.0.1', 'POST', '/v1/session', { body: { apiKey: h.keys.operator } });
    expect(sameAddress.status).toBe(429);
    expect(sameAddress.headers['set-cookie']).toBeUndefined();

    // ... while from another address it signs in, at once.
    const other = await send(h.baseUrl, '127.0.0.2', 'POST', '/v1/session', { body: { apiKey: h.keys.operator } });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ name: 'otto', role: 'operator' });
    expect(String(other.headers['set-cookie'])).toMatch(/^runbookd_session=/);

    // Every refusal whose key was looked at is one audit record, with the address and the key's prefix and fingerprint only.
    const refusals = (await auditRows(h.db.url, 'auth.sign-in.refused')).filter((r) => r.data.method === 'api-key' && r.data.source === '127.0.0.1');
    const unknown = refusals.filter((r) => r.data.reason === 'unknown_key');
    expect(unknown).toHaveLength(refusedCount);
    expect(unknown.map((r) => r.data.failures)).toEqual(Array.from({ length: refusedCount }, (_, i) => i + 1));
    expect(unknown[0]).toMatchObject({ actor: 'anonymous', data: { ...keyIdentity(canary), keyPrefix: 'rbd_CANA', lockedOutSeconds: 0 } });
    expect(unknown[5].data.lockedOutSeconds).toBe(1);
    // The 429s are audited once per lockout, and each later refusal says how many came between: every attempt is accounted for.
    const limited = refusals.filter((r) => r.data.reason === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length).toBeLessThanOrEqual(refusedCount);
    const accounted = unknown.reduce((n, r) => n + Number(r.data.throttled), 0);
    expect(accounted).toBeLessThanOrEqual(throttledCount + 1); // +1: the right key's 429 above
    // Once the lockout ends, the next refusal's record counts the 429s answered since the one before.
    await eventually(
      async () => ((await send(h.baseUrl, '127.0.0.1', 'POST', '/v1/session', { body: { apiKey: wrongKey() } })).status === 401 ? true : undefined),
      20_000,
    );
    const after = (await auditRows(h.db.url, 'auth.sign-in.refused')).filter(
      (r) => r.data.method === 'api-key' && r.data.source === '127.0.0.1' && r.data.reason === 'unknown_key',
    );
    expect(Number(after[after.length - 1].data.throttled)).toBeGreaterThan(0);

    // The success: audited with its address and the principal's name.
    const ok = (await auditRows(h.db.url, 'auth.sign-in.succeeded')).filter((r) => r.data.source === '127.0.0.2');
    expect(ok).toEqual([{ actor: 'otto', data: { method: 'api-key', source: '127.0.0.2', via: 'key', groups: ['operator'] } }]);
  });

  it('a bearer key is a sign-in too: wrong bearer keys are refused, audited and locked out per address; no success is audited per call', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const a = await send(h.baseUrl, '127.0.0.3', 'GET', '/v1/runs', { headers: { authorization: `Bearer ${i === 0 ? canary : wrongKey()}` } });
      statuses.push(a.status);
    }
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses).toContain(429);
    const locked = await send(h.baseUrl, '127.0.0.3', 'GET', '/v1/runs', { headers: { authorization: `Bearer ${h.keys.viewer}` } });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('SIGN_IN_THROTTLED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Another address with the right key is served, and API calls with a key add no sign-in record.
    const before = (await auditRows(h.db.url, 'auth.sign-in.succeeded')).length;
    for (let i = 0; i < 3; i++)
      expect((await send(h.baseUrl, '127.0.0.4', 'GET', '/v1/runs', { headers: { authorization: `Bearer ${h.keys.viewer}` } })).status).toBe(200);
    expect((await auditRows(h.db.url, 'auth.sign-in.succeeded')).length).toBe(before);

    const refusals = (await auditRows(h.db.url, 'auth.sign-in.refused')).filter(
      (r) => r.data.method === 'bearer' && r.data.source === '127.0.0.3' && r.data.reason === 'unknown_key',
    );
    expect(refusals).toHaveLength(statuses.filter((s) => s === 401).length);
    // No Authorization header at all is not a sign-in attempt: not counted, not audited (a browser before sign-in).
    const none = await send(h.baseUrl, '127.0.0.4', 'GET', '/v1/runs');
    expect(none.status).toBe(401);
  });

  it('a forged X-Forwarded-For does not buy a fresh address: it is ignored unless RUNBOOKD_TRUSTED_PROXIES names the peer', async () => {
    for (let i = 0; i < 6; i++) await send(h.baseUrl, '127.0.0.5', 'POST', '/v1/session', { body: { apiKey: wrongKey() } });
    const forged = await send(h.baseUrl, '127.0.0.5', 'POST', '/v1/session', {
      body: { apiKey: h.keys.viewer },
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    expect(forged.status).toBe(429);
    const audited = (await auditRows(h.db.url, 'auth.sign-in.refused')).filter((r) => r.data.source === '203.0.113.9');
    expect(audited).toEqual([]);
  });

  it('many addresses guessing under one key prefix lock that prefix out, not the addresses’ other keys', async () => {
    // rbd_Pxyz… from 11 addresses: the prefix has 10 free failures, the 11th starts its lockout.
    const prefixed = () => `rbd_Pxyz${randomBytes(30).toString('base64url')}`;
    for (let i = 0; i < 11; i++) expect((await send(h.baseUrl, `127.0.1.${i + 1}`, 'POST', '/v1/session', { body: { apiKey: prefixed() } })).status).toBe(401);
    const next = await send(h.baseUrl, '127.0.1.50', 'POST', '/v1/session', { body: { apiKey: prefixed() } });
    expect(next.status).toBe(429);
    expect(next.body.error.details).toMatchObject({ scope: 'key' });
    expect(next.body.error.message).toMatch(/with this key prefix/);
    // The same fresh address with a key of another prefix is let in.
    expect((await send(h.baseUrl, '127.0.1.50', 'POST', '/v1/session', { body: { apiKey: h.keys.admin } })).status).toBe(200);
  });

  it('the canary key is in no audit record, no response and no log line', async () => {
    // Sent once more, in every way a key can be sent, from a fresh address so it is looked at.
    const r1 = await send(h.baseUrl, '127.0.0.9', 'POST', '/v1/session', { body: { apiKey: canary } });
    const r2 = await send(h.baseUrl, '127.0.0.9', 'GET', '/v1/runs', { headers: { authorization: `Bearer ${canary}` } });
    const r3 = await send(h.baseUrl, '127.0.0.9', 'GET', '/v1/runs', { headers: { authorization: canary } });
    expect([r1.status, r2.status, r3.status]).toEqual([401, 401, 401]);
    for (const r of [r1, r2, r3]) expect(JSON.stringify(r)).not.toContain(canary.slice(8));
    await eventually(async () =>
      (await auditRows(h.db.url, 'auth.sign-in.refused')).filter((r) => r.data.source === '127.0.0.9').length === 3 ? true : undefined,
    );
    const audit = await allAuditText(h.db.url);
    expect(audit).toContain(keyIdentity(canary).keyFingerprint); // the records are there...
    expect(audit).not.toContain(canary.slice(8)); // ...and hold no more of the key than its first 8 characters
    expect(logged.join('').length).toBeGreaterThan(0);
    expect(logged.join('')).not.toContain(canary.slice(8));
  });
});
