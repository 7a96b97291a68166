import 'reflect-metadata';
import { ArgumentsHost, Catch, Controller, ExceptionFilter, Get, Module, Post } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiKeyService } from '../../src/auth/api-key.service';
import { AuthError } from '../../src/auth/auth.error';
import { AuthGuard } from '../../src/auth/auth.guard';
import type { Principal } from '../../src/auth/principal';
import { CurrentPrincipal } from '../../src/auth/principal.decorator';
import { Public, RequirePermission } from '../../src/auth/permission.decorator';
import { AppConfig } from '../../src/config/app.config';
import { EnvReader } from '../../src/config/env-reader';
import { loadSignInLimitConfig } from '../../src/config/sign-in.config';
import { PolicyService } from '../../src/policy/policy.service';

/** Stands in for the project's HTTP error filter, which maps every code with an exhaustive switch. */
@Catch(AuthError)
class AuthErrorFilter implements ExceptionFilter {
  catch(error: AuthError, host: ArgumentsHost) {
    const reply = host.switchToHttp().getResponse<{ status(n: number): { send(b: unknown): void } }>();
    reply.status(error.code === 'UNAUTHENTICATED' ? 401 : 403).send({ error: error.toJSON() });
  }
}

@Controller('runs')
class RunsController {
  @Get('health') @Public() health() {
    return { ok: true };
  }
  @Get() @RequirePermission('view') list(@CurrentPrincipal() actor: Principal) {
    return { actor };
  }
  @Post(':id/cancel') @RequirePermission('cancel') cancel(@CurrentPrincipal() actor: Principal) {
    return { actor };
  }
  @Post('purge') purge() {
    return { purged: true };
  }
}

const sha = (k: string) => crypto.createHash('sha256').update(k).digest('hex');

describe('AuthGuard on Fastify', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const config = new AppConfig();
    config.nodeEnv = 'test';
    config.scope = { policyFile: undefined } as unknown as AppConfig['scope'];
    config.stateDir = path.join(os.tmpdir(), 'runbookd-auth-http-unused');
    config.auth = {
      apiKeys: [
        { name: 'grafana', group: 'viewer', sha256: sha('v-key') },
        { name: 'ci', group: 'operator', sha256: sha('o-key') },
      ],
      sessionTtlSeconds: 8 * 3600,
      signInLimits: loadSignInLimitConfig(new EnvReader({})),
    };
    @Module({
      controllers: [RunsController],
      providers: [
        { provide: AppConfig, useValue: config },
        ApiKeyService,
        PolicyService,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: AuthErrorFilter },
      ],
    })
    class TestModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app?.close());

  const call = (method: 'GET' | 'POST', url: string, key?: string) =>
    app.inject({ method, url, headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });

  it('serves public routes without a key', async () => {
    expect((await call('GET', '/runs/health')).statusCode).toBe(200);
  });

  it('401 without a key or with an unknown one', async () => {
    const none = await call('GET', '/runs');
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    expect((await call('GET', '/runs', 'nope')).statusCode).toBe(401);
  });

  it('hands the principal to the handler', async () => {
    const res = await call('GET', '/runs', 'v-key');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ actor: { name: 'grafana', via: 'key', groups: ['viewer'], role: 'viewer' } });
  });

  it('403 for a role below the route, naming the Fastify route pattern', async () => {
    const res = await call('POST', '/runs/r-1/cancel?token=abc', 'v-key');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toBe(
      'grafana cannot call POST /runs/:id/cancel: it needs "cancel", and grafana (groups: viewer) has no grant of "cancel" in the policy (built-in defaults)',
    );
    expect((await call('POST', '/runs/r-1/cancel', 'o-key')).json()).toEqual({ actor: { name: 'ci', via: 'key', groups: ['operator'], role: 'operator' } });
  });

  it('403 for an undecorated route unless admin', async () => {
    expect((await call('POST', '/runs/purge', 'o-key')).statusCode).toBe(403);
  });
});
