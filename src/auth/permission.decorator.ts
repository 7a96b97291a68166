import { SetMetadata } from '@nestjs/common';
import type { PolicyAction } from '../policy/policy.types';

export const REQUIRED_PERMISSION_KEY = 'runbookd:auth:required-permission';
export const PUBLIC_ROUTE_KEY = 'runbookd:auth:public';

export interface RequiredPermission {
  action: PolicyAction;
  /** Says what the caller tried, for the 403 message ("trigger runs"); defaults to "METHOD /route". */
  description?: string;
}

/**
 * The policy action a route (method) or every route of a controller (class) needs; a method's
 * decorator overrides its class's. A route with neither needs `admin` (see AuthGuard). The guard
 * decides whether the caller holds the action at all; run, approve and cancel are decided again
 * on the runbook and its targets' facts by the services that act (the route cannot know them).
 */
export const RequirePermission = (action: PolicyAction, description?: string) =>
  SetMetadata<string, RequiredPermission>(REQUIRED_PERMISSION_KEY, description === undefined ? { action } : { action, description });

/** No credential is asked for (health, metrics, SNS deliveries that carry their own signature). */
export const Public = () => SetMetadata<string, boolean>(PUBLIC_ROUTE_KEY, true);
