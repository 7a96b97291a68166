import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { PUBLIC_ROUTE_KEY, REQUIRED_ROLE_KEY, type RequiredRole } from '../../src/auth/roles.decorator';
import { Harness } from '../support/runbookd';

interface Route {
  method: string;
  path: string;
  where: string;
  role: 'public' | 'viewer' | 'operator' | 'admin' | null;
}

const RANK = { viewer: 1, operator: 2, admin: 3 } as const;

/**
 * Generated from the application's own route table: every route is tried with no key, a bad key,
 * and each role's key. A route added without `@Public()` or `@RequireRole(...)` fails the first
 * test by name, so no endpoint's access is left to a default nobody chose.
 */
describe('authorization of every route, from the route table', () => {
  let h: Harness;
  let routes: Route[];

  beforeAll(async () => {
    h = await Harness.start({ role: 'api', seed: false });
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
          const path = `/${[base, sub].filter((p) => p && p !== '/').join('/')}`.replace(/\/+/g, '/');
          const isPublic = Reflect.getMetadata(PUBLIC_ROUTE_KEY, handler) ?? Reflect.getMetadata(PUBLIC_ROUTE_KEY, cls);
          const required = (Reflect.getMetadata(REQUIRED_ROLE_KEY, handler) ?? Reflect.getMetadata(REQUIRED_ROLE_KEY, cls)) as RequiredRole | undefined;
          routes.push({ method: RequestMethod[method], path, where: `${cls.name}.${name}`, role: isPublic ? 'public' : (required?.role ?? null) });
        }
      }
    }
  });
  afterAll(async () => h?.close());

  it('finds the routes, and every one declares @Public() or @RequireRole()', () => {
    expect(routes.length).toBeGreaterThan(10);
    expect(routes.filter((r) => r.role === null).map((r) => `${r.method} ${r.path} (${r.where})`)).toEqual([]);
  });

  it('answers every protected route 401 without a key or with a bad key, 403 below its role, and past auth at or above it', async () => {
    const wrong: string[] = [];
    const keys: Array<[string, string | null, number]> = [
      ['no key', null, 0], ['bad key', 'rbd_not_a_key_0000000000000000', 0],
      ['viewer', h.keys.viewer, 1], ['operator', h.keys.operator, 2], ['admin', h.keys.admin, 3],
    ];
    for (const r of routes) {
      // Path parameters get values that exist nowhere: past auth, the answer is a 404 or 400, never work done.
      const url = r.path.replace(/:[A-Za-z]+/g, 'r0000000000000000nonexistent');
      for (const [who, key, rank] of keys) {
        const res = await fetch(`${h.baseUrl}${url}`, {
          method: r.method,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
          },
          body: r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}',
          signal: AbortSignal.timeout(5000),
        });
        await res.body?.cancel();
        let expected: string;
        if (r.role === 'public') expected = 'past auth';
        else if (rank === 0) expected = '401';
        else expected = rank >= RANK[r.role as keyof typeof RANK] ? 'past auth' : '403';
        const got = res.status === 401 ? '401' : res.status === 403 ? '403' : 'past auth';
        if (got !== expected && !(r.role === 'public' && r.path.startsWith('/v1/webhooks')))
          wrong.push(`${r.method} ${r.path} as ${who}: ${res.status}, expected ${expected}`);
        if (res.status >= 500) wrong.push(`${r.method} ${r.path} as ${who}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
