import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { PUBLIC_ROUTE_KEY, REQUIRED_PERMISSION_KEY, type RequiredPermission } from '../../src/auth/permission.decorator';
import { decideAccess, type PolicyActor } from '../../src/policy/policy-access';
import { PolicyService } from '../../src/policy/policy.service';
import type { PolicyAction } from '../../src/policy/policy.types';
import { Harness, REGION } from '../support/runbookd';

interface Route {
  method: string;
  path: string;
  where: string;
  action: PolicyAction | 'public' | null;
}

const POLICY = `
version: 1
approvals: []
groups:
  dba: { keys: [dana] }
grants:
  - { group: viewer, may: [view] }
  - { group: operator, may: [view, run, approve, cancel] }
  - { group: admin, may: [view, run, approve, cancel, admin] }
  # The DBAs may fail over and cancel, on failover runbooks, in staging only: staging is the cluster's own tag.
  - { group: dba, may: [view, run, cancel], runbooks: ["failover-*"], environments: [staging] }
  # A bot key that may only read and start canary rollbacks.
  - { key: release-bot, may: [view] }
  - { key: release-bot, may: [run], runbooks: [canary-rollback] }
`;

/**
 * The policy decides every route: the route table is read from the application (every controller
 * Nest registered), every principal the policy and the keys define is tried on every route, and
 * the answer must be what the policy says (401 without a credential, 403 without the action,
 * past the guard with it). Then run and cancel are decided on the target's own facts: a DBA whose
 * grant is for staging cannot fail over a cluster tagged production by passing `environment=staging`.
 */
describe("policy: route × principal matrix, and run/cancel decided from the target's facts", () => {
  let h: Harness;
  let dir: string;
  let routes: Route[];
  const keys = { dana: `rbd_d_${'1'.repeat(24)}`, bot: `rbd_b_${'2'.repeat(24)}` };
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-policy-access-'));
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    // The API alone: accepted runs stay queued, so cancel has something to act on and nothing reaches AWS but reads.
    h = await Harness.start({ role: 'api', policy, extraApiKeys: [`dana:dba:${sha(keys.dana)}`, `release-bot:viewer:${sha(keys.bot)}`] });
    const rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'scratch-aurora',
        Engine: 'aurora-postgresql',
        MasterUsername: 'admin_user',
        MasterUserPassword: 'sandbox-only-password',
        Tags: [{ Key: 'environment', Value: 'staging' }],
      }),
    );
    for (const n of [1, 2])
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: `scratch-aurora-${n}`,
          DBClusterIdentifier: 'scratch-aurora',
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.r6g.large',
        }),
      );
    rds.destroy();

    routes = [];
    for (const mod of h.app.get(ModulesContainer).values()) {
      for (const wrapper of mod.controllers.values()) {
        const cls = wrapper.metatype as (new (...a: unknown[]) => unknown) | undefined;
        if (!cls) continue;
        const base = String(Reflect.getMetadata(PATH_METADATA, cls) ?? '');
        for (const name of Object.getOwnPropertyNames(cls.prototype)) {
          const handler = cls.prototype[name];
          if (name === 'constructor' || typeof handler !== 'function') continue;
          const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
          if (method === undefined) continue;
          const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
          const p = `/${[base, sub].filter((x) => x && x !== '/').join('/')}`.replace(/\/+/g, '/');
          const isPublic = Reflect.getMetadata(PUBLIC_ROUTE_KEY, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE_KEY, cls);
          const required = (Reflect.getMetadata(REQUIRED_PERMISSION_KEY, handler) ?? Reflect.getMetadata(REQUIRED_PERMISSION_KEY, cls)) as
            RequiredPermission | undefined;
          routes.push({ method: RequestMethod[method], path: p, where: `${cls.name}.${name}`, action: isPublic ? 'public' : (required?.action ?? null) });
        }
      }
    }
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the routes; every one declares @Public() or a policy action; nothing that changes state needs only "view"', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => r.action === null).map((r) => `${r.method} ${r.path} (${r.where})`)).toEqual([]);
    // Signing out and the webhooks (their own signatures) are the only writes a viewer or nobody may make.
    const writes = routes.filter((r) => r.method !== 'GET' && (r.action === 'view' || r.action === 'public'));
    expect(writes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      [
        'DELETE /v1/session',
        'POST /v1/session',
        ...routes.filter((r) => r.path.startsWith('/v1/webhooks') && r.method !== 'GET').map((r) => `${r.method} ${r.path}`),
      ].sort(),
    );
  });

  it('answers every route as the policy says, for every principal', async () => {
    const policy = h.app.get(PolicyService).policy;
    const who: Array<[string, string | null, PolicyActor | null]> = [
      ['no key', null, null],
      ['bad key', 'rbd_not_a_key_0000000000000000', null],
      ['vera (viewer)', h.keys.viewer, { name: 'vera', via: 'key', groups: ['viewer'] }],
      ['otto (operator)', h.keys.operator, { name: 'otto', via: 'key', groups: ['operator'] }],
      ['ada (admin)', h.keys.admin, { name: 'ada', via: 'key', groups: ['admin'] }],
      ['dana (dba)', keys.dana, { name: 'dana', via: 'key', groups: ['dba'] }],
      ['release-bot (viewer + own grants)', keys.bot, { name: 'release-bot', via: 'key', groups: ['viewer'] }],
    ];
    const matrix: string[] = [];
    const wrong: string[] = [];
    for (const r of routes) {
      // Path parameters get values that exist nowhere: past the guard, the answer is a 404 or 400, never work done.
      const url = r.path.replace(/:[A-Za-z]+/g, 'r0000000000000000nonexistent');
      const row: string[] = [];
      for (const [name, key, actor] of who) {
        const res = await fetch(`${h.baseUrl}${url}`, {
          method: r.method,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
          },
          body: r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}',
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        let expected: string;
        if (r.action === 'public') expected = 'past';
        else if (actor === null) expected = '401';
        else expected = decideAccess(policy, actor, r.action as PolicyAction).allowed ? 'past' : '403';
        // A 403 past the guard would be a service's decision (a scoped grant on a runbook): none of these URLs names a real one.
        const got = res.status === 401 ? '401' : res.status === 403 ? '403' : 'past';
        row.push(`${name}=${got}`);
        if (got !== expected && !(r.action === 'public' && r.path.startsWith('/v1/webhooks')))
          wrong.push(`${r.method} ${r.path} (${r.action}) as ${name}: ${res.status} ${text.slice(0, 160)}, expected ${expected}`);
        if (res.status >= 500) wrong.push(`${r.method} ${r.path} as ${name}: ${res.status}`);
      }
      matrix.push(`${r.method} ${r.path} [${r.action}]: ${row.join(' ')}`);
    }
    expect(wrong).toEqual([]);
    // The matrix itself says something: each kind of principal is refused somewhere and let through somewhere.
    for (const [name] of [who[2], who[5], who[6]]) expect(matrix.some((m) => m.includes(`${name}=403`))).toBe(true);
    expect(matrix.some((m) => m.includes('dana (dba)=past') && m.includes('[run]'))).toBe(true);
    expect(matrix.some((m) => m.includes('dana (dba)=403') && m.includes('[approve]'))).toBe(true);
  }, 240_000);

  let stagingRun = '';
  const start = (key: string, parameters: Record<string, unknown>) => h.request('POST', '/v1/runbooks/failover-test/runs', { key, body: { parameters } });

  it('lets a DBA fail over the cluster tagged staging, and refuses the one tagged production whatever they type', async () => {
    const ok = await start(keys.dana, { clusterIdentifier: 'scratch-aurora' });
    expect(ok.status).toBe(202);
    stagingRun = ok.body.id;
    expect(ok.body.trigger).toMatchObject({ actor: 'dana', groups: ['dba'], via: 'key' });

    for (const extra of [{}, { environment: 'staging' }]) {
      const runsBefore = (await h.request('GET', '/v1/runs?runbook=failover-test&limit=100')).body.items.length;
      const refused = await start(keys.dana, { clusterIdentifier: 'orders-aurora', ...extra });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
      expect(refused.body.error.message).toContain('dana may not run failover-test');
      expect(refused.body.error.message).toContain('cluster orders-aurora');
      expect(refused.body.error.message).toContain('environment production');
      // Nothing recorded, nothing changed.
      expect((await h.request('GET', '/v1/runs?runbook=failover-test&limit=100')).body.items.length).toBe(runsBefore);
    }
    expect(h.proxy.count('FailoverDBCluster')).toBe(0);
  }, 120_000);

  it("refuses a runbook outside the grant's globs before reading anything", async () => {
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: keys.dana, body: { parameters: {} } });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/dana may not run capacity-report: .*only on runbooks failover-\*, not capacity-report/);
  });

  it('decides cancel on where the run acts: the DBA may cancel a staging run, not a production one an operator started', async () => {
    const prod = await start(h.keys.operator, { clusterIdentifier: 'orders-aurora' });
    expect(prod.status).toBe(202);

    const refused = await h.request('POST', `/v1/runs/${prod.body.id}/cancel`, { key: keys.dana });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain(`dana may not cancel run ${prod.body.id}`);
    expect((await h.request('GET', `/v1/runs/${prod.body.id}`)).body.cancelRequestedAt).toBeNull();

    // The staging run from above (it still holds its cluster's concurrency key: no worker runs here).
    const ok = await h.request('POST', `/v1/runs/${stagingRun}/cancel`, { key: keys.dana });
    expect(ok.status).toBe(202);
    expect(ok.body.cancelRequestedAt).not.toBeNull();
  }, 120_000);

  it('applies the same policy to the console session cookie', async () => {
    const signIn = await fetch(`${h.baseUrl}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: keys.dana }),
    });
    expect(signIn.status).toBe(200);
    const session = (await signIn.json()) as { csrfToken: string };
    expect(session).toMatchObject({ name: 'dana', groups: ['dba'] });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
    const headers = { cookie, 'x-csrf-token': session.csrfToken };
    const refused = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: null,
      headers,
      body: { parameters: { clusterIdentifier: 'orders-aurora' } },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('environment production');
  }, 60_000);
});
