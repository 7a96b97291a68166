import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AuthenticatedRequest } from './auth.guard';
import type { Principal } from './principal';

/** The principal AuthGuard attached; for audit records and interceptors as well as the decorator. */
export function principalFromContext(context: ExecutionContext): Principal {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  // Only a @Public() route has none, and asking for the actor there is a programming error.
  if (principal === undefined) throw new Error('@CurrentPrincipal() used on a route that AuthGuard did not authenticate (is it @Public()?)');
  return principal;
}

/** `create(@CurrentPrincipal() actor: Principal)`: the authenticated caller of this request. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext) => principalFromContext(context));
