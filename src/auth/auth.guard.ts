import { CanActivate, ExecutionContext, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyService, noAuthorization, presentedBearerToken } from './api-key.service';
import { AuthError } from './auth.error';
import { PolicyService } from '../policy/policy.service';
import type { PolicyAction } from '../policy/policy.types';
import type { Principal } from './principal';
import { PUBLIC_ROUTE_KEY, REQUIRED_PERMISSION_KEY, type RequiredPermission } from './permission.decorator';
import { CSRF_HEADER, sessionTokenOf } from './session-cookie';
import { SessionService } from './session.service';
import { SignInGate } from './sign-in-gate.service';

/** The parts of a Fastify (or Express) request the guard reads and writes. */
export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
  /** The source address (Fastify: the TCP peer, or X-Forwarded-For's client behind RUNBOOKD_TRUSTED_PROXIES). */
  ip?: string;
  principal?: Principal;
}

/**
 * A route that forgets `@RequirePermission` needs `admin`: a missing decorator then shows up as a 403
 * in testing rather than as a mutating endpoint any viewer key can call in production.
 */
export const DEFAULT_REQUIRED_ACTION: PolicyAction = 'admin';

/**
 * Registered globally (APP_GUARD), so every route is authenticated unless marked `@Public()`,
 * and authorized by the policy (RUNBOOKD_POLICY, or the built-in role groups): the REST API, the
 * console (its session cookie) and the CLI (a client of this API) all pass here.
 * Only HTTP is served; any other transport is refused until it is thought through.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
    private readonly policy: PolicyService,
    // Absent (unit tests of bearer keys), only the Authorization header is looked at.
    @Optional() private readonly sessions?: SessionService,
    // Absent (the same unit tests), bearer refusals are neither limited nor audited; the API module always provides it.
    @Optional() private readonly signIns?: SignInGate,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE_KEY, targets) === true) return true;

    if (context.getType() !== 'http') {
      throw new AuthError('FORBIDDEN', `API key authentication covers HTTP only; ${context.getType()} handlers must be marked @Public()`);
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    // A bearer header wins, so API clients behave as before; the web console's session cookie otherwise.
    const sessionToken = request.headers.authorization === undefined ? sessionTokenOf(request.headers.cookie) : undefined;
    if (this.sessions !== undefined && sessionToken !== undefined) {
      return this.sessions
        .authenticate(sessionToken, request.method ?? 'GET', singleHeader(request.headers[CSRF_HEADER]))
        .then((session) => this.authorize(targets, request, session.principal));
    }
    const header = singleHeader(request.headers.authorization);
    if (this.signIns === undefined || noAuthorization(header)) return this.authorize(targets, request, this.apiKeys.authenticate(header));
    return this.bearerSignIn(this.signIns, header, request.ip ?? 'unknown').then((principal) => this.authorize(targets, request, principal));
  }

  /** A bearer key is a sign-in: checked against the lockout first, its refusal counted and audited (its success is not: see SignInGate). */
  private async bearerSignIn(gate: SignInGate, header: string | undefined, source: string): Promise<Principal> {
    const token = presentedBearerToken(header);
    await gate.admit('bearer', source, token);
    try {
      return this.apiKeys.authenticate(header);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'UNAUTHENTICATED') {
        await gate.refused('bearer', source, token, typeof err.details.reason === 'string' ? err.details.reason : err.code);
      }
      throw err;
    }
  }

  private authorize(targets: Array<ReturnType<ExecutionContext['getHandler']>>, request: AuthenticatedRequest, principal: Principal): boolean {
    request.principal = principal;

    const required = this.reflector.getAllAndOverride<RequiredPermission | undefined>(REQUIRED_PERMISSION_KEY, targets) ?? {
      action: DEFAULT_REQUIRED_ACTION,
    };
    const decision = this.policy.decide(principal, required.action);
    if (!decision.allowed) {
      const tried = required.description ?? `call ${describeRoute(request)}`;
      throw new AuthError('FORBIDDEN', `${principal.name} cannot ${tried}: it needs "${required.action}", and ${decision.why}`, {
        action: required.action,
        groups: principal.groups,
      });
    }
    return true;
  }
}

/** Node folds repeated Authorization headers into one string; an array here means something odd, so refuse it. */
function singleHeader(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) {
    throw new AuthError('UNAUTHENTICATED', 'send exactly one Authorization header: Authorization: Bearer <api key>', {
      reason: 'malformed',
    });
  }
  return value;
}

/** The route pattern, not the URL: a query string may carry anything. */
function describeRoute(request: AuthenticatedRequest): string {
  const route = request.routeOptions?.url ?? request.url?.split('?')[0] ?? '';
  return `${request.method ?? ''} ${route}`.trim();
}
