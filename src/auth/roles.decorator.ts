import { SetMetadata } from '@nestjs/common';
import type { Role } from './principal';

export const REQUIRED_ROLE_KEY = 'runbookd:auth:required-role';
export const PUBLIC_ROUTE_KEY = 'runbookd:auth:public';

export interface RequiredRole {
  role: Role;
  /** Says what the caller tried, for the 403 message ("trigger runs"); defaults to "METHOD /route". */
  action?: string;
}

/**
 * The lowest role a route (method) or every route of a controller (class) needs; a method's
 * decorator overrides its class's. A route with neither needs `admin` (see AuthGuard).
 */
export const RequireRole = (role: Role, action?: string) =>
  SetMetadata<string, RequiredRole>(REQUIRED_ROLE_KEY, action === undefined ? { role } : { role, action });

/** No API key is asked for (health, metrics, SNS deliveries that carry their own signature). */
export const Public = () => SetMetadata<string, boolean>(PUBLIC_ROUTE_KEY, true);
