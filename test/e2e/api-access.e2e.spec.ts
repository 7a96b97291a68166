import * as path from 'node:path';
import { Client } from 'pg';
import { Harness } from '../support/runbookd';

/**
 * The HTTP API as a client meets it: who may do what, the error shape, paging, the public
 * routes, that a writeOnly parameter never comes back out (API, report, audit, log), and that
 * the audit chain notices a record changed behind the API's back.
 */

const FIXTURES = path.join(__dirname, 'fixtures', 'engine');
const TERMINAL = ['succeeded', 'failed', 'aborted', 'cancelled'];

describe('API access, errors and secrets (all-in-one process)', () => {
  let h: Harness;
  const logged: string[] = [];
  const original = { out: process.stdout.write, err: process.stderr.write };

  beforeAll(async () => {
    // Everything the app writes is kept to search for secrets; stdout (info and debug) is not echoed.
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
    h = await Harness.start({ role: 'all', runbooksDir: FIXTURES, seed: false, env: { RUNBOOKD_LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await h?.close();
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  });

  const trigger = (runbook: string, parameters: Record<string, unknown>, key = h.keys.operator) =>
    h.request('POST', `/v1/runbooks/${runbook}/runs`, { key, body: { parameters } });

  const expectErrorShape = (body: any, code: string) => {
    expect(body).toEqual({ error: { code, message: expect.any(String), details: expect.any(Object) } });
  };

  describe('authentication', () => {
    it('401 without a key, with an unknown key and with another scheme, never echoing the credential', async () => {
      const none = await h.request('GET', '/v1/runs', { key: null });
      expect(none.status).toBe(401);
      expectErrorShape(none.body, 'UNAUTHENTICATED');
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="runbookd"');

      const wrong = await h.request('GET', '/v1/runs', { key: 'rbd_not-a-key-anyone-configured' });
      expect(wrong.status).toBe(401);
      expectErrorShape(wrong.body, 'UNAUTHENTICATED');
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      expect(wrong.text).not.toContain('rbd_not-a-key-anyone-configured');

      // The right key under the wrong scheme is still refused, and not quoted back.
      const basic = await h.request('GET', '/v1/runs', { key: null, headers: { authorization: `Basic ${h.keys.admin}` } });
      expect(basic.status).toBe(401);
      expectErrorShape(basic.body, 'UNAUTHENTICATED');
      expect(basic.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(basic.text).not.toContain(h.keys.admin);

      const cancelNoKey = await h.request('POST', '/v1/runs/r000/cancel', { key: null });
      expect(cancelNoKey.status).toBe(401);
    });

    it('serves health and the OpenAPI document without a key', async () => {
      const live = await h.request('GET', '/health/live', { key: null });
      expect(live.status).toBe(200);
      expect(live.body.status).toBe('ok');
      const ready = await h.request('GET', '/health/ready', { key: null });
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toMatchObject({ database: { ok: true }, redis: { ok: true } });

      const doc = await h.request('GET', '/docs/openapi.json', { key: null });
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/runs', '/v1/runs/{id}/cancel', '/v1/runbooks/{id}/runs']));
      const ui = await h.request('GET', '/docs', { key: null });
      expect(ui.status).toBe(200);
      expect(ui.text).toContain('swagger');
    });
  });

  describe('roles', () => {
    it('lets an operator trigger, records the key name as actor, and keeps viewers to reading', async () => {
      const viewerTry = await trigger('api-noop', { n: 1 }, h.keys.viewer);
      expect(viewerTry.status).toBe(403);
      expectErrorShape(viewerTry.body, 'FORBIDDEN');

      const res = await trigger('api-noop', { n: 1 });
      expect(res.status).toBe(202);
      expect(res.body.actor).toBe('otto');
      const run = await h.waitForRun(res.body.id);
      expect(run.state).toBe('succeeded');

      const viewerCancel = await h.request('POST', `/v1/runs/${run.id}/cancel`, { key: h.keys.viewer });
      expect(viewerCancel.status).toBe(403);
      expectErrorShape(viewerCancel.body, 'FORBIDDEN');

      const read = await h.request('GET', `/v1/runs/${run.id}`, { key: h.keys.viewer });
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(run.id);
      const list = await h.request('GET', '/v1/runs?runbook=api-noop', { key: h.keys.viewer });
      expect(list.status).toBe(200);
      expect(list.body.items.map((r: any) => r.id)).toContain(run.id);
      const report = await h.request('GET', `/v1/runs/${run.id}/report`, { key: h.keys.viewer });
      expect(report.status).toBe(200);

      const audit = await h.request('GET', `/v1/audit?runId=${run.id}`, { key: h.keys.viewer });
      expect(audit.status).toBe(200);
      const accepted = audit.body.items.find((e: any) => e.kind === 'run.accepted');
      expect(accepted.actor).toBe('otto');
      expect(accepted.data.trigger).toMatchObject({ kind: 'rest', actor: 'otto', role: 'operator' });
      // Vera (viewer) tried and was refused: nothing of hers is in the run's audit.
      expect(audit.body.items.some((e: any) => e.actor === 'vera')).toBe(false);
      expect((await h.request('GET', '/v1/audit/verify', { key: h.keys.viewer })).status).toBe(200);
    });
  });

  describe('request errors', () => {
    it('400 for a malformed JSON body, never 500', async () => {
      for (const text of ['{"parameters": {"n": 1', '{parameters: 1}', 'null x']) {
        const res = await fetch(`${h.baseUrl}/v1/runbooks/api-noop/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${h.keys.operator}`, 'content-type': 'application/json' },
          body: text,
        });
        expect(res.status).toBe(400);
        expectErrorShape(await res.json(), 'INVALID_REQUEST');
      }
      const notAnObject = await h.request('POST', '/v1/runbooks/api-noop/runs', { key: h.keys.operator, body: ['n', 1] });
      expect(notAnObject.status).toBe(400);
      const unknownField = await h.request('POST', '/v1/runbooks/api-noop/runs', { key: h.keys.operator, body: { params: { n: 1 } } });
      expect(unknownField.status).toBe(400);
      expect(unknownField.body.error.details.errors.map((e: any) => e.field)).toContain('params');
    });

    it('413 for a body over 256 KB', async () => {
      const res = await h.request('POST', '/v1/runbooks/api-noop/runs', {
        key: h.keys.operator,
        body: { parameters: { n: 1 }, reason: 'x'.repeat(300 * 1024) },
      });
      expect(res.status).toBe(413);
      expectErrorShape(res.body, 'PAYLOAD_TOO_LARGE');
      // Just under the limit is parsed (and then refused for its content, not its size).
      const under = await h.request('POST', '/v1/runbooks/api-noop/runs', {
        key: h.keys.operator,
        body: { parameters: { n: 1 }, reason: 'x'.repeat(200 * 1024) },
      });
      expect(under.status).toBe(400);
    });

    it('404 in the error shape for an unknown route, runbook and run', async () => {
      const route = await h.request('GET', '/v1/nothing-here');
      expect(route.status).toBe(404);
      expectErrorShape(route.body, 'NOT_FOUND');
      const runbook = await h.request('POST', '/v1/runbooks/no-such-runbook/runs', { key: h.keys.operator, body: {} });
      expect(runbook.status).toBe(404);
      expectErrorShape(runbook.body, 'RUNBOOK_NOT_FOUND');
      const run = await h.request('GET', '/v1/runs/r0000000000nosuchrun');
      expect(run.status).toBe(404);
      expectErrorShape(run.body, 'RUN_NOT_FOUND');
    });
  });

  describe('listing', () => {
    it('pages GET /v1/runs with a cursor, visiting each of 5 runs exactly once, newest first', async () => {
      const created: string[] = [];
      for (let n = 0; n < 5; n++) {
        const res = await h.request('POST', '/v1/runbooks/api-noop/runs', { key: h.keys.operator, body: { parameters: { n }, reason: 'paging' } });
        expect(res.status).toBe(202);
        created.push(res.body.id);
      }
      for (const id of created) await h.waitForRun(id);

      const seen: string[] = [];
      const pageSizes: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { status: number; body: any } = await h.request(
          'GET',
          `/v1/runs?runbook=api-noop&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          { key: h.keys.viewer },
        );
        expect(res.status).toBe(200);
        pageSizes.push(res.body.items.length);
        seen.push(...res.body.items.filter((r: any) => r.reason === 'paging').map((r: any) => r.id));
        cursor = res.body.nextCursor;
        expect(++pages).toBeLessThan(20);
      } while (cursor);

      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
      expect([...seen].sort()).toEqual([...created].sort());
      expect(seen).toEqual([...created].reverse());
      expect(pageSizes.every((n) => n <= 2)).toBe(true);

      const bad = await h.request('GET', '/v1/runs?cursor=not-a-cursor');
      expect(bad.status).toBe(400);
      expectErrorShape(bad.body, 'INVALID_REQUEST');
    });
  });

  describe('secrets', () => {
    it('never shows a writeOnly parameter: not in the run, its report, the audit or the log', async () => {
      const canaries = [`whk-canary-${Date.now()}-7f3a9c`, `prk-canary-${Date.now()}-51b2e8`];
      const res = await trigger('api-notify', { channel: '#ops-drills', webhookToken: canaries[0], pagerRoutingKey: canaries[1] });
      expect(res.status).toBe(202);
      const run = await h.waitForRun(res.body.id);
      expect(run.state).toBe('succeeded');
      // The parameters are there, hidden.
      expect(run.parameters).toEqual({ channel: '#ops-drills', webhookToken: '[REDACTED]', pagerRoutingKey: '[REDACTED]' });
      // The secrets did reach the step (under keys that do not look secret) and are hidden there too.
      const notify = run.steps.find((s: any) => s.id === 'notify');
      expect(notify.input.echo).toEqual({ channel: '#ops-drills', auth: '[REDACTED]', routing: 'key=[REDACTED]' });
      expect(notify.output.echo).toEqual(notify.input.echo);

      const seen: Array<[string, string]> = [['POST response', res.text]];
      const get = async (what: string, url: string) => {
        const r = await h.request('GET', url);
        expect(r.status).toBe(200);
        seen.push([what, r.text]);
        return r;
      };
      await get('run', `/v1/runs/${run.id}`);
      await get('run list', '/v1/runs?runbook=api-notify');
      await get('report json', `/v1/runs/${run.id}/report`);
      const md = await get('report md', `/v1/runs/${run.id}/report?format=md`);
      expect(md.text).toContain('#ops-drills');
      await get('report html', `/v1/runs/${run.id}/report?format=html`);
      const audit = await get('audit of run', `/v1/audit?runId=${run.id}`);
      expect(audit.body.items.map((e: any) => e.kind)).toEqual(expect.arrayContaining(['run.accepted', 'step.started', 'run.ended']));
      await get('audit', '/v1/audit?limit=1000');

      const log = logged.join('');
      // The capture works: the app did log this run.
      expect(log).toContain(run.id);
      seen.push(['log', log]);

      const leaks = seen.flatMap(([what, text]) => canaries.filter((c) => text.includes(c)).map((c) => `${c} in ${what}`));
      expect(leaks).toEqual([]);
    });
  });

  describe('composite runs', () => {
    it('a child run keeps the role check of its manual trigger: an operator cannot reach an admin-only runbook through a parent', async () => {
      const byOperator = await trigger('api-composite-parent', {});
      expect(byOperator.status).toBe(202);
      const refused = await h.waitForRun(byOperator.body.id, TERMINAL);
      expect(refused.state).toBe('failed');
      expect(JSON.stringify(refused.steps.find((s: any) => s.id === 'child').error)).toMatch(/admin only/);
      const children = (await h.request('GET', '/v1/runs?runbook=api-admin-child')).body.items;
      expect(children).toEqual([]);

      const byAdmin = await trigger('api-composite-parent', {}, h.keys.admin);
      expect((await h.waitForRun(byAdmin.body.id, TERMINAL)).state).toBe('succeeded');
    });
  });

  describe('secrets nested in object parameters', () => {
    it('hides a writeOnly property inside an object parameter everywhere a viewer, a report, /metrics or the log could show it', async () => {
      const canary = `nested-canary-${Date.now()}-c0ffee`;
      const res = await trigger('api-notify', {
        channel: '#ops-nested',
        webhookToken: 'top-level-1',
        pagerRoutingKey: 'top-level-2',
        escalation: { team: 'dba', pagerKey: canary },
      });
      expect(res.status).toBe(202);
      const run = await h.waitForRun(res.body.id);
      expect(run.state).toBe('succeeded');
      expect(run.parameters.escalation).toEqual({ team: 'dba', pagerKey: '[REDACTED]' });
      // The nested secret did reach its step, and is hidden there too.
      expect(run.steps.find((s: any) => s.id === 'escalate').input.echo).toBe('team=dba key=[REDACTED]');

      const seen: Array<[string, string]> = [['POST response', res.text]];
      for (const [what, url] of [
        ['run (viewer)', `/v1/runs/${run.id}`],
        ['run list (viewer)', '/v1/runs?runbook=api-notify'],
        ['report json', `/v1/runs/${run.id}/report`],
        ['report md', `/v1/runs/${run.id}/report?format=md`],
        ['report html', `/v1/runs/${run.id}/report?format=html`],
        ['audit', '/v1/audit?limit=1000'],
        ['metrics', '/metrics'],
      ]) {
        const r = await h.request('GET', url, { key: what.includes('viewer') ? h.keys.viewer : h.keys.admin });
        seen.push([what, r.text]);
      }
      seen.push(['log', logged.join('')]);
      expect(seen.filter(([, text]) => text.includes(canary)).map(([what]) => what)).toEqual([]);
    });
  });

  it('never shows a writeOnly value written into a schedule in the runbook or schedule views', async () => {
    for (const url of ['/v1/runbooks/api-scheduled-secret', '/v1/schedules', '/v1/schedules/api-scheduled-secret.yearly']) {
      const res = await h.request('GET', url, { key: h.keys.viewer });
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      expect(res.text).not.toContain('yaml-canary-5e1f0c');
      expect(res.text).toContain('plain');
    }
  });

  describe('audit chain', () => {
    it('verifies, then reports the first changed record after a direct edit in the database', async () => {
      const res = await trigger('api-noop', { n: 42 });
      await h.waitForRun(res.body.id, TERMINAL);
      const before = await h.request('GET', '/v1/audit/verify', { key: h.keys.viewer });
      expect(before.status).toBe(200);
      expect(before.body.ok).toBe(true);
      expect(before.body.records).toBeGreaterThan(3);

      const audit = await h.request('GET', `/v1/audit?runId=${res.body.id}`);
      const target = audit.body.items.find((e: any) => e.kind === 'run.accepted');
      // seq may have gaps (a rolled-back append uses a number); the chain position says it was verified.
      expect(target.position).not.toBeNull();
      expect(target.position).toBeLessThanOrEqual(before.body.records);

      const pg = new Client({ connectionString: h.db.url });
      await pg.connect();
      try {
        // The append-only trigger refuses this edit; a superuser who turns it off is what verify is for.
        await expect(pg.query(`UPDATE audit_events SET actor = 'mallory' WHERE seq = $1`, [target.seq])).rejects.toThrow(/append-only/);
        await pg.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
        await pg.query(`UPDATE audit_events SET data = jsonb_set(data, '{reason}', '"nothing to see"') WHERE seq = $1`, [target.seq]);
        await pg.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
      } finally {
        await pg.end();
      }

      const after = await h.request('GET', '/v1/audit/verify', { key: h.keys.viewer });
      expect(after.status).toBe(200);
      expect(after.body.ok).toBe(false);
      expect(after.body.firstBadRecord.seq).toBe(target.seq);
      expect(after.body.firstBadRecord.reason).toMatch(/changed/);
      expect(after.body.records).toBeGreaterThanOrEqual(before.body.records);
    });
  });
});
