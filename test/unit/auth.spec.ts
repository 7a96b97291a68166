import 'reflect-metadata';
import { Controller, ExecutionContext, Get, Logger, Post } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService, DEV_ADMIN_KEY_FILE, DEV_ADMIN_KEY_NAME } from '../../src/auth/api-key.service';
import { AuthError } from '../../src/auth/auth.error';
import { AuthGuard, type AuthenticatedRequest, DEFAULT_REQUIRED_ACTION } from '../../src/auth/auth.guard';
import { type Principal, type Role, ROLES, roleAllows, roleOfGroups } from '../../src/auth/principal';
import { principalFromContext } from '../../src/auth/principal.decorator';
import { Public, RequirePermission } from '../../src/auth/permission.decorator';
import { type ApiKeyEntry, AppConfig, ConfigError } from '../../src/config/app.config';
import { EnvReader } from '../../src/config/env-reader';
import { loadSignInLimitConfig } from '../../src/config/sign-in.config';
import { PolicyService } from '../../src/policy/policy.service';
import { parsePolicy } from '../../src/policy/policy-file';

// The built-in defaults: no RUNBOOKD_POLICY.
const policy = () => new PolicyService(Object.assign(new AppConfig(), { scope: { policyFile: undefined } as unknown as AppConfig['scope'] }));
const keyPrincipal = (name: string, role: Role): Principal => ({ name, via: 'key', groups: [role], role });

// Wrapped so a test can count comparisons; behaviour is the real one.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

const CANARY = 'rbd_CANARY-7f3e9a1c-do-not-leak-4b2d8e6f0a9c';
const sha = (key: string) => crypto.createHash('sha256').update(key).digest('hex');

interface CapturedLogger {
  logger: Logger;
  lines: () => string;
}

function captureLogger(): CapturedLogger {
  const calls: unknown[][] = [];
  const record = (...args: unknown[]) => void calls.push(args);
  const logger = { log: record, warn: record, error: record, debug: record, verbose: record, fatal: record } as unknown as Logger;
  return { logger, lines: () => calls.map((c) => c.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')).join('\n') };
}

function makeConfig(over: { apiKeys?: ApiKeyEntry[]; nodeEnv?: string; stateDir?: string } = {}): AppConfig {
  const c = new AppConfig();
  c.nodeEnv = over.nodeEnv ?? 'development';
  c.auth = { apiKeys: over.apiKeys ?? [], sessionTtlSeconds: 8 * 3600, signInLimits: loadSignInLimitConfig(new EnvReader({})) };
  c.stateDir = over.stateDir ?? path.join(os.tmpdir(), 'runbookd-auth-unused');
  return c;
}

const KEYS = { viewer: 'viewer-key-1', operator: 'operator-key-2', admin: 'admin-key-3' };
const ENTRIES: ApiKeyEntry[] = [
  { name: 'grafana', group: 'viewer', sha256: sha(KEYS.viewer) },
  { name: 'ci', group: 'operator', sha256: sha(KEYS.operator) },
  { name: 'alice', group: 'admin', sha256: sha(KEYS.admin) },
  { name: 'canary-holder', group: 'viewer', sha256: sha(CANARY) },
];

function service(config = makeConfig({ apiKeys: ENTRIES }), log = captureLogger()): ApiKeyService {
  const s = new ApiKeyService(config, policy(), log.logger);
  s.onModuleInit();
  return s;
}

function authError(fn: () => unknown): AuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthError) return err;
    throw err;
  }
  throw new Error('expected an AuthError');
}

describe('roles', () => {
  it('ranks viewer < operator < admin', () => {
    const table: [Role, Role, boolean][] = [
      ['viewer', 'viewer', true],
      ['viewer', 'operator', false],
      ['viewer', 'admin', false],
      ['operator', 'viewer', true],
      ['operator', 'operator', true],
      ['operator', 'admin', false],
      ['admin', 'viewer', true],
      ['admin', 'operator', true],
      ['admin', 'admin', true],
    ];
    for (const [have, need, ok] of table) expect([have, need, roleAllows(have, need)]).toEqual([have, need, ok]);
    expect(ROLES).toEqual(['viewer', 'operator', 'admin']);
    expect(roleOfGroups(['viewer', 'admin', 'dba'])).toBe('admin');
    expect(roleOfGroups(['dba'])).toBe('viewer');
  });
});

describe('AuthError', () => {
  it('is a coded error of the auth area', () => {
    const e = new AuthError('FORBIDDEN', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.area).toBe('auth');
    expect(e.name).toBe('AuthError');
    expect(e.toJSON()).toEqual({ code: 'FORBIDDEN', message: 'x', details: {}, retryable: false });
  });
});

describe('ApiKeyService.authenticate', () => {
  const s = service();

  it.each([[`Bearer ${KEYS.operator}`], [`bearer ${KEYS.operator}`], [`BEARER ${KEYS.operator}`], [`  Bearer \t ${KEYS.operator}  `]])(
    'accepts %j',
    (header) => {
      expect(s.authenticate(header)).toEqual(keyPrincipal('ci', 'operator'));
    },
  );

  it('maps each key to its own name and role', () => {
    expect(s.authenticate(`Bearer ${KEYS.viewer}`)).toEqual(keyPrincipal('grafana', 'viewer'));
    expect(s.authenticate(`Bearer ${KEYS.admin}`)).toEqual(keyPrincipal('alice', 'admin'));
  });

  it.each([[undefined], [''], ['   ']])('rejects a missing header %j', (header) => {
    const e = authError(() => s.authenticate(header));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toBe('missing bearer token: send Authorization: Bearer <api key>');
    expect(e.details).toEqual({ reason: 'missing' });
  });

  it.each([['Basic dXNlcjpwYXNz'], ['Token abc'], ['Bearerabc'], [KEYS.admin]])('rejects another scheme %j', (header) => {
    const e = authError(() => s.authenticate(header));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toMatch(/must use the Bearer scheme/);
    expect(e.details).toEqual({ reason: 'malformed' });
  });

  it.each([['Bearer'], ['Bearer    '], ['bearer\t']])('rejects an empty token %j', (header) => {
    const e = authError(() => s.authenticate(header));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toBe('empty bearer token: send Authorization: Bearer <api key>');
  });

  it('rejects a token with spaces inside', () => {
    const e = authError(() => s.authenticate(`Bearer ${KEYS.admin} extra`));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toMatch(/one word/);
  });

  it('rejects an unknown key, and the hash or hex of a key in place of the key', () => {
    for (const token of ['nope', sha(KEYS.admin), `${KEYS.admin}x`, KEYS.admin.toUpperCase()]) {
      const e = authError(() => s.authenticate(`Bearer ${token}`));
      expect(e.code).toBe('UNAUTHENTICATED');
      expect(e.details).toEqual({ reason: 'unknown_key' });
      expect(e.message).toMatch(/^API key not recognized/);
    }
  });

  it('compares against every configured key even after a match', () => {
    const compare = crypto.timingSafeEqual as jest.MockedFunction<typeof crypto.timingSafeEqual>;
    compare.mockClear();
    s.authenticate(`Bearer ${KEYS.viewer}`); // the first entry
    expect(compare).toHaveBeenCalledTimes(ENTRIES.length);
    compare.mockClear();
    authError(() => s.authenticate('Bearer unknown'));
    expect(compare).toHaveBeenCalledTimes(ENTRIES.length);
  });

  it('refuses to run before onModuleInit', () => {
    const fresh = new ApiKeyService(makeConfig({ apiKeys: ENTRIES }), policy(), captureLogger().logger);
    expect(() => fresh.authenticate(`Bearer ${KEYS.admin}`)).toThrow(/before onModuleInit/);
  });

  it('refuses two names for the same key', () => {
    const config = makeConfig({
      apiKeys: [
        { name: 'a', group: 'viewer', sha256: sha('same') },
        { name: 'b', group: 'admin', sha256: sha('same') },
      ],
    });
    expect(() => service(config)).toThrow(ConfigError);
    expect(() => service(config)).toThrow(/"a" and "b" have the same key hash/);
  });

  it('refuses a key in a group the policy does not define, naming the key and the group', () => {
    const config = makeConfig({ apiKeys: [{ name: 'dana', group: 'dba', sha256: sha('d') }] });
    expect(() => service(config)).toThrow(ConfigError);
    expect(() => service(config)).toThrow(/key "dana" names group "dba", which built-in defaults does not define \(groups: viewer, operator, admin\)/);
  });

  it('puts a key in its configured group and in every policy group that lists its name', () => {
    const config = makeConfig({
      apiKeys: [
        { name: 'dana', group: 'dba', sha256: sha('d') },
        { name: 'ci', group: 'operator', sha256: sha('c') },
      ],
    });
    const p = policy();
    (p as { policy: unknown }).policy = parsePolicy('groups: { dba: {}, release: { keys: [ci] } }', 'test.yaml');
    const s = new ApiKeyService(config, p, captureLogger().logger);
    s.onModuleInit();
    expect(s.authenticate('Bearer d')).toEqual({ name: 'dana', via: 'key', groups: ['dba'], role: 'viewer' });
    expect(s.authenticate('Bearer c')).toEqual({ name: 'ci', via: 'key', groups: ['operator', 'release'], role: 'operator' });
  });

  it('logs the configured key names and roles, never hashes', () => {
    const log = captureLogger();
    service(makeConfig({ apiKeys: ENTRIES }), log);
    expect(log.lines()).toContain('grafana (viewer), ci (operator), alice (admin)');
    for (const e of ENTRIES) expect(log.lines()).not.toContain(e.sha256);
  });
});

describe('the presented key never leaks', () => {
  const headers = [CANARY, `Basic ${CANARY}`, `${CANARY} ${CANARY}`, `Bearer ${CANARY} trailing`, `Bearer ${CANARY}x`, `Bearer x${CANARY}`, `Token ${CANARY}`];

  it.each(headers.map((h) => [h]))('not in the error for %j', (header) => {
    const log = captureLogger();
    const s = service(makeConfig({ apiKeys: ENTRIES }), log);
    const e = authError(() => s.authenticate(header));
    const surfaces = [e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(e.details), String(e), log.lines()];
    for (const text of surfaces) expect(text).not.toContain(CANARY);
    expect(JSON.stringify(e)).not.toContain(sha(CANARY));
  });

  it('not in the 403 when the canary key is valid but too weak', () => {
    const log = captureLogger();
    const guard = new AuthGuard(new Reflector(), service(makeConfig({ apiKeys: ENTRIES }), log), policy());
    const req = request(`Bearer ${CANARY}`);
    const e = authError(() => guard.canActivate(httpContext(Routes, 'undecorated', req)));
    expect(e.code).toBe('FORBIDDEN');
    for (const text of [e.message, e.stack ?? '', JSON.stringify(e), log.lines()]) expect(text).not.toContain(CANARY);
  });
});

// ---- guard ---------------------------------------------------------------------------------

@Controller('runs')
class Routes {
  @Get('health') @Public() health() {}
  @Get() @RequirePermission('view') list() {}
  @Post() @RequirePermission('run', 'trigger runs') trigger() {}
  @Post(':id/cancel') @RequirePermission('cancel') cancel() {}
  @Post('purge') undecorated() {}
}

@Controller('admin')
@RequirePermission('run')
class OperatorController {
  @Get() inherits() {}
  @Get('audit') @RequirePermission('view') relaxed() {}
  @Post('wipe') @RequirePermission('admin') stricter() {}
}

@Controller('public')
@Public()
class PublicController {
  @Get() open() {}
}

function request(authorization?: string | string[], extra: Partial<AuthenticatedRequest> = {}): AuthenticatedRequest {
  return { headers: authorization === undefined ? {} : { authorization }, method: 'POST', url: '/runs/purge?x=secret', ...extra };
}

function httpContext(cls: new () => object, method: string, req: AuthenticatedRequest, type = 'http'): ExecutionContext {
  const handler = (cls.prototype as Record<string, (...a: unknown[]) => unknown>)[method];
  return {
    getType: () => type,
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({}), getNext: () => () => undefined }),
    getArgs: () => [req],
    getArgByIndex: (i: number) => [req][i],
    switchToRpc: () => {
      throw new Error('not rpc');
    },
    switchToWs: () => {
      throw new Error('not ws');
    },
  } as unknown as ExecutionContext;
}

describe('AuthGuard', () => {
  const guard = new AuthGuard(new Reflector(), service(), policy());
  const run = (cls: new () => object, method: string, req: AuthenticatedRequest, type?: string) => guard.canActivate(httpContext(cls, method, req, type));

  it('lets @Public routes through without a key, on a method or a whole controller', () => {
    const req = request();
    expect(run(Routes, 'health', req)).toBe(true);
    expect(run(PublicController, 'open', req)).toBe(true);
    expect(req.principal).toBeUndefined();
  });

  it('answers a missing key with UNAUTHENTICATED', () => {
    expect(authError(() => run(Routes, 'list', request())).code).toBe('UNAUTHENTICATED');
    expect(authError(() => run(Routes, 'list', request('Bearer wrong'))).code).toBe('UNAUTHENTICATED');
  });

  it('attaches the principal to the request', () => {
    const req = request(`Bearer ${KEYS.viewer}`);
    expect(run(Routes, 'list', req)).toBe(true);
    expect(req.principal).toEqual(keyPrincipal('grafana', 'viewer'));
    expect(principalFromContext(httpContext(Routes, 'list', req))).toEqual(keyPrincipal('grafana', 'viewer'));
  });

  it('answers a role below the route with FORBIDDEN and a message that says what is needed', () => {
    const e = authError(() => run(Routes, 'trigger', request(`Bearer ${KEYS.viewer}`)));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toBe('grafana cannot trigger runs: it needs "run", and grafana (groups: viewer) has no grant of "run" in the policy (built-in defaults)');
    expect(e.details).toEqual({ action: 'run', groups: ['viewer'] });
    expect(run(Routes, 'trigger', request(`Bearer ${KEYS.operator}`))).toBe(true);
    expect(run(Routes, 'cancel', request(`Bearer ${KEYS.admin}`))).toBe(true);
  });

  it('requires admin on a route with no @RequirePermission, naming the route but not its query string', () => {
    expect(DEFAULT_REQUIRED_ACTION).toBe('admin');
    const e = authError(() => run(Routes, 'undecorated', request(`Bearer ${KEYS.operator}`)));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toBe(
      'ci cannot call POST /runs/purge: it needs "admin", and ci (groups: operator) has no grant of "admin" in the policy (built-in defaults)',
    );
    expect(run(Routes, 'undecorated', request(`Bearer ${KEYS.admin}`))).toBe(true);
    const fastifyStyle = request(`Bearer ${KEYS.viewer}`, { method: 'POST', url: '/runs/42/cancel', routeOptions: { url: '/runs/:id/cancel' } });
    expect(authError(() => run(Routes, 'cancel', fastifyStyle)).message).toBe(
      'grafana cannot call POST /runs/:id/cancel: it needs "cancel", and grafana (groups: viewer) has no grant of "cancel" in the policy (built-in defaults)',
    );
  });

  it('takes a controller-level role, which a method-level role overrides either way', () => {
    expect(authError(() => run(OperatorController, 'inherits', request(`Bearer ${KEYS.viewer}`))).code).toBe('FORBIDDEN');
    expect(run(OperatorController, 'inherits', request(`Bearer ${KEYS.operator}`))).toBe(true);
    expect(run(OperatorController, 'relaxed', request(`Bearer ${KEYS.viewer}`))).toBe(true);
    expect(authError(() => run(OperatorController, 'stricter', request(`Bearer ${KEYS.operator}`))).code).toBe('FORBIDDEN');
  });

  it('refuses repeated Authorization headers', () => {
    const e = authError(() => run(Routes, 'list', request([`Bearer ${KEYS.admin}`, `Bearer ${KEYS.admin}`])));
    expect(e.code).toBe('UNAUTHENTICATED');
  });

  it('refuses non-HTTP handlers that are not @Public', () => {
    expect(authError(() => run(Routes, 'list', request(`Bearer ${KEYS.admin}`), 'rpc')).code).toBe('FORBIDDEN');
  });

  it('principalFromContext fails loudly on an unauthenticated request', () => {
    expect(() => principalFromContext(httpContext(Routes, 'health', request()))).toThrow(/@Public/);
  });
});

// ---- development key -----------------------------------------------------------------------

describe('development admin key', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'runbookd-auth-')), 'nested', 'state');
  });
  afterEach(() => fs.rmSync(path.dirname(path.dirname(stateDir)), { recursive: true, force: true }));

  const keyFile = () => path.join(stateDir, DEV_ADMIN_KEY_FILE);
  const boot = (over: Parameters<typeof makeConfig>[0] = {}) => {
    const log = captureLogger();
    const s = new ApiKeyService(makeConfig({ stateDir, ...over }), policy(), log.logger);
    s.onModuleInit();
    return { s, log };
  };

  it('is generated into <stateDir>/admin-api-key with mode 0600, and only its path is logged', () => {
    const { s, log } = boot();
    const key = fs.readFileSync(keyFile(), 'utf8');
    expect(key).toMatch(/^rbd_[A-Za-z0-9_-]{43}$/);
    if (process.platform !== 'win32') {
      expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
      expect(fs.statSync(stateDir).mode & 0o077).toBe(0);
    }
    expect(s.authenticate(`Bearer ${key}`)).toEqual(keyPrincipal(DEV_ADMIN_KEY_NAME, 'admin'));
    expect(log.lines()).toContain(keyFile());
    expect(log.lines()).toContain('"dev-admin"');
    expect(log.lines()).toContain('generated');
    expect(log.lines()).not.toContain(key);
    expect(log.lines()).not.toContain(key.slice(4, 20));
    expect(log.lines()).not.toContain(sha(key));
    expect(fs.readdirSync(stateDir)).toEqual([DEV_ADMIN_KEY_FILE]); // no temporary file left behind
  });

  it('is reused on the next boot', () => {
    boot();
    const first = fs.readFileSync(keyFile(), 'utf8');
    const { s, log } = boot();
    expect(fs.readFileSync(keyFile(), 'utf8')).toBe(first);
    expect(s.authenticate(`Bearer ${first}`).name).toBe(DEV_ADMIN_KEY_NAME);
    expect(log.lines()).toContain('reusing');
    expect(log.lines()).not.toContain(first);
  });

  it('tolerates a trailing newline added by an editor, and tightens loose permissions', () => {
    fs.mkdirSync(stateDir, { recursive: true });
    const key = `rbd_${crypto.randomBytes(32).toString('base64url')}`;
    fs.writeFileSync(keyFile(), `${key}\n`, { mode: 0o644 });
    fs.chmodSync(keyFile(), 0o644);
    const { s, log } = boot();
    expect(s.authenticate(`Bearer ${key}`).role).toBe('admin');
    if (process.platform !== 'win32') {
      expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);
      expect(log.lines()).toMatch(/mode is now 0600/);
    }
    expect(log.lines()).not.toContain(key);
  });

  it('refuses a file that does not hold a runbookd key, without quoting it', () => {
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(keyFile(), CANARY.replace('rbd_', 'sk_'), { mode: 0o600 });
    let error: unknown;
    try {
      boot();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(keyFile());
    expect((error as Error).message).not.toContain(CANARY.slice(4));
  });

  it('is not made when keys are configured', () => {
    const { s } = boot({ apiKeys: ENTRIES });
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(s.authenticate(`Bearer ${KEYS.admin}`).name).toBe('alice');
  });

  it('is ignored when keys are configured even if a previous dev boot left one', () => {
    boot();
    const devKey = fs.readFileSync(keyFile(), 'utf8');
    const { s } = boot({ apiKeys: ENTRIES });
    expect(authError(() => s.authenticate(`Bearer ${devKey}`)).code).toBe('UNAUTHENTICATED');
  });

  it('is never made in production', () => {
    expect(() => boot({ nodeEnv: 'production' })).toThrow(ConfigError);
    expect(fs.existsSync(stateDir)).toBe(false);
    const { s } = boot({ nodeEnv: 'production', apiKeys: ENTRIES });
    expect(s.authenticate(`Bearer ${KEYS.viewer}`).name).toBe('grafana');
    expect(fs.existsSync(stateDir)).toBe(false);
  });

  it('two services booting together on one state dir agree on one key', () => {
    const a = new ApiKeyService(makeConfig({ stateDir }), policy(), captureLogger().logger);
    const b = new ApiKeyService(makeConfig({ stateDir }), policy(), captureLogger().logger);
    a.onModuleInit();
    b.onModuleInit();
    const key = fs.readFileSync(keyFile(), 'utf8');
    expect(a.authenticate(`Bearer ${key}`)).toEqual(b.authenticate(`Bearer ${key}`));
  });
});
