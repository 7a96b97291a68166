import { CodedError } from '../common/coded-error';

/**
 * Why a fleet request (`targets` on a run) was refused. All are the requester's to fix (HTTP 422):
 * FLEET_NOT_SUPPORTED: the runbook has no `fleet:` section, so it cannot take targets;
 * FLEET_TARGETS_INVALID: the `targets` shape, an account or region, an explicit ARN outside them;
 * FLEET_RESOURCE_TYPE_NOT_BOUND: a resource type the runbook's `fleet.resourceTypes` does not name;
 * FLEET_RATE_INVALID: `maxConcurrency`, `maxErrors` or `maxConcurrencyPerAccountRegion` is not a count or a percentage;
 * FLEET_TARGETS_EMPTY: the targets resolved to nothing and the request did not say `allowEmpty`;
 * FLEET_TOO_MANY_TARGETS: more targets than RUNBOOKD_FLEET_MAX_TARGETS.
 * An account outside the allow-list is refused as TARGET_NOT_ALLOWED (auth, 403) like any target.
 */
export type FleetErrorCode =
  'FLEET_NOT_SUPPORTED' | 'FLEET_TARGETS_INVALID' | 'FLEET_RESOURCE_TYPE_NOT_BOUND' | 'FLEET_RATE_INVALID' | 'FLEET_TARGETS_EMPTY' | 'FLEET_TOO_MANY_TARGETS';

export class FleetError extends CodedError<FleetErrorCode> {
  readonly area = 'fleet';
}
