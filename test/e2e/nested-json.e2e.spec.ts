import { request as httpRequest } from 'node:http';
import { Harness } from '../support/runbookd';

/**
 * A body nested deeper than the limit is a 400 naming the depth on every route that takes a body,
 * with or without a key, and no depth (63 ... 100,000) ever gets a 5xx. Framework-level refusals
 * (bad URL, media type, size, broken JSON) leave in runbookd's one error shape.
 */
const LIMIT = 64;
const DEPTHS = [63, 64, 65, 3_300, 100_000];

/** `{"a":{"a":...{}}}` with `depth` levels of objects; `[[...]]` for arrays. */
function nested(depth: number, kind: 'object' | 'array'): string {
  return kind === 'object' ? '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1) : '['.repeat(depth) + ']'.repeat(depth);
}

/** Bodies whose total nesting is `depth`: the whole body, or its parameters, reason or apiKey field. */
function bodies(depth: number): Array<{ shape: string; text: string }> {
  return [
    { shape: 'object', text: nested(depth, 'object') },
    { shape: 'array', text: nested(depth, 'array') },
    { shape: 'parameters', text: `{"dryRun":true,"parameters":${nested(depth - 1, 'object')}}` },
    { shape: 'reason', text: `{"dryRun":true,"reason":${nested(depth - 1, 'array')}}` },
    { shape: 'apiKey', text: `{"apiKey":${nested(depth - 1, 'object')}}` },
  ];
}

describe('deeply nested JSON', () => {
  let h: Harness;
  let routes: Array<{ method: string; path: string }>;

  beforeAll(async () => {
    h = await Harness.start({ role: 'api', seed: false });
    const doc = await h.request('GET', '/docs/openapi.json', { key: null });
    routes = [];
    for (const [p, ops] of Object.entries(doc.body.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) {
        if (['post', 'put', 'patch', 'delete'].includes(m))
          routes.push({ method: m.toUpperCase(), path: p.replace('{id}', p.startsWith('/v1/runbooks') ? 'capacity-report' : 'r_nope') });
      }
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finds every route that takes a body in the API description, webhooks included', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    expect(names).toEqual(
      expect.arrayContaining(['POST /v1/session', 'POST /v1/runbooks/capacity-report/runs', 'POST /v1/runs/r_nope/approve', 'POST /v1/webhooks/sns']),
    );
    expect(routes.length).toBeGreaterThanOrEqual(8);
  });

  it('answers every depth on every route below 500, and refuses more than 64 levels with 400 naming the depth', async () => {
    const failures: string[] = [];
    let refusedForDepth = 0;
    for (const route of routes) {
      const contentTypes = route.path === '/v1/webhooks/sns' ? ['application/json', 'text/plain; charset=UTF-8'] : ['application/json'];
      for (const depth of DEPTHS) {
        for (const { shape, text } of bodies(depth)) {
          for (const key of [h.keys.admin, null]) {
            for (const contentType of contentTypes) {
              const headers: Record<string, string> = { 'content-type': contentType };
              if (key) headers.authorization = `Bearer ${key}`;
              const res = await fetch(`${h.baseUrl}${route.path}`, { method: route.method, headers, body: text });
              const answer = await res.text();
              const where = `${route.method} ${route.path} ${contentType} depth ${depth} (${shape}) ${key ? 'with' : 'without'} a key`;
              if (res.status === 204 && answer === '') continue;
              let parsed: any;
              try {
                parsed = JSON.parse(answer);
              } catch {
                failures.push(`${where}: answer is not JSON: ${answer.slice(0, 120)}`);
                continue;
              }
              if (res.status >= 500) failures.push(`${where}: ${res.status} ${answer.slice(0, 200)}`);
              if (res.status >= 400 && typeof parsed?.error?.code !== 'string') failures.push(`${where}: not runbookd's error shape: ${answer.slice(0, 200)}`);
              const deepRefusal = res.status === 400 && parsed?.error?.details?.limit === LIMIT;
              if (depth <= LIMIT && deepRefusal) failures.push(`${where}: refused for depth at ${depth}`);
              // 100,000 levels of objects exceed the body size limit (413) before anyone counts them.
              if (depth > LIMIT && res.status !== 413) {
                if (
                  !deepRefusal ||
                  !['INVALID_REQUEST', 'SNS_MESSAGE_INVALID'].includes(parsed.error.code) ||
                  !/nest/.test(parsed.error.message) ||
                  !String(parsed.error.message).includes(String(LIMIT))
                ) {
                  failures.push(`${where}: expected 400 naming the depth, got ${res.status} ${answer.slice(0, 200)}`);
                } else refusedForDepth++;
              }
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(refusedForDepth).toBeGreaterThan(routes.length * 2 * 3);
  }, 240_000);

  it('keeps a body at the limit working: a 64-deep parameter is judged by the schema, not refused for depth', async () => {
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', {
      key: h.keys.operator,
      body: { dryRun: true, parameters: JSON.parse(nested(LIMIT - 1, 'object')) },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('PARAMETERS_INVALID');
  });

  it("maps a malformed URL into runbookd's error shape", async () => {
    const res = await rawRequest('GET', '/v1/runs/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'INVALID_REQUEST', details: {} } });
  });

  it('maps media type, empty, broken and oversized JSON bodies into the error shape', async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${h.baseUrl}/v1/session`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: JSON.parse(await r.text()) }));
    const xml = await post({ 'content-type': 'application/xml' }, '<a/>');
    expect(xml).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
    const empty = await post({ 'content-type': 'application/json' }, '');
    expect(empty).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    const broken = await post({ 'content-type': 'application/json' }, '{"apiKey":');
    expect(broken).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    const proto = await post({ 'content-type': 'application/json' }, '{"__proto__":{"x":1},"apiKey":"k"}');
    expect(proto).toMatchObject({ status: 400, body: { error: { code: 'INVALID_REQUEST' } } });
    const large = await post({ 'content-type': 'application/json' }, JSON.stringify({ apiKey: 'k'.repeat(300 * 1024) }));
    expect(large).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    for (const r of [xml, empty, broken, proto, large]) expect(Object.keys(r.body)).toEqual(['error']);
  });

  /** fetch normalizes URLs; this sends the path exactly as written. */
  function rawRequest(method: string, path: string): Promise<{ status: number; body: string }> {
    const url = new URL(h.baseUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }
});
