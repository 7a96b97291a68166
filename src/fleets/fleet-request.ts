import { resolveValue } from '../runbooks/expressions';
import { FleetError } from './fleet.error';
import { FLEET_RESOURCE_TYPES, type FleetResourceType, type FleetSettings } from '../model/runbook.types';
import type { FleetLimits, FleetRate, FleetRequest, FleetTarget, TargetSelector } from '../model/fleet.types';

/** The fleet fields of a run request, as the HTTP API (or a schedule) hands them over, unchecked. */
export interface FleetRequestBody {
  targets?: unknown;
  maxConcurrency?: unknown;
  maxErrors?: unknown;
  maxConcurrencyPerAccountRegion?: unknown;
  allowEmpty?: unknown;
}

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ARN = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|):(.+)$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

/** SSM's defaults: ten targets at once; and a fleet stops starting targets at its first failure. */
export const DEFAULT_MAX_CONCURRENCY: FleetRate = { count: 10 };
export const DEFAULT_MAX_ERRORS: FleetRate = { count: 0 };

/**
 * Checks a run request's fleet fields against the runbook's `fleet:` section, before anything is
 * resolved or called. Every refusal names the field. `allowedAccounts` expands `accounts: "allowed"`.
 */
export function parseFleetRequest(
  runbookId: string,
  fleet: FleetSettings | undefined,
  body: FleetRequestBody,
  allowedAccounts: readonly string[],
): FleetRequest {
  if (!fleet) {
    throw new FleetError('FLEET_NOT_SUPPORTED', `runbook ${runbookId} has no fleet: section, so it cannot take targets; name one resource in its parameters`, {
      runbookId,
      field: 'targets',
    });
  }
  const selector = parseSelector(runbookId, fleet, body.targets, allowedAccounts);
  const allowEmpty = body.allowEmpty ?? false;
  if (typeof allowEmpty !== 'boolean') throw invalid('allowEmpty', 'must be true or false');
  return {
    selector,
    maxConcurrency: body.maxConcurrency === undefined ? DEFAULT_MAX_CONCURRENCY : parseRate('maxConcurrency', body.maxConcurrency, 1),
    maxErrors: body.maxErrors === undefined ? DEFAULT_MAX_ERRORS : parseRate('maxErrors', body.maxErrors, 0),
    maxConcurrencyPerAccountRegion:
      body.maxConcurrencyPerAccountRegion === undefined ? null : positiveCount('maxConcurrencyPerAccountRegion', body.maxConcurrencyPerAccountRegion),
    allowEmpty,
  };
}

/** A count (`4`, `"4"`) or a percentage of the targets (`"25%"`); `min` is the smallest count allowed. */
export function parseRate(field: string, raw: unknown, min: number): FleetRate {
  if (typeof raw === 'number') {
    if (Number.isInteger(raw) && raw >= min && raw <= 100_000) return { count: raw };
  } else if (typeof raw === 'string') {
    const count = /^\d{1,6}$/.exec(raw);
    if (count && Number(raw) >= min) return { count: Number(raw) };
    const pct = /^(\d{1,3})%$/.exec(raw);
    if (pct && Number(pct[1]) <= 100 && Number(pct[1]) >= min) return { percent: Number(pct[1]) };
  }
  throw new FleetError(
    'FLEET_RATE_INVALID',
    `${field} must be a count of targets (an integer of at least ${min}) or a percentage of them such as "25%", got ${JSON.stringify(raw)?.slice(0, 60)}`,
    { field },
  );
}

/**
 * Rate control as counts for a list of `n` targets. A concurrency percentage rounds up (at least
 * one target runs); an error percentage rounds down (10% of 15 targets tolerates one failure).
 */
export function fleetLimits(req: Pick<FleetRequest, 'maxConcurrency' | 'maxErrors' | 'maxConcurrencyPerAccountRegion'>, n: number): FleetLimits {
  const concurrency = 'count' in req.maxConcurrency ? req.maxConcurrency.count : Math.ceil((n * req.maxConcurrency.percent) / 100);
  const errors = 'count' in req.maxErrors ? req.maxErrors.count : Math.floor((n * req.maxErrors.percent) / 100);
  return { maxConcurrency: Math.max(1, concurrency), maxErrors: Math.max(0, errors), maxConcurrencyPerAccountRegion: req.maxConcurrencyPerAccountRegion };
}

function positiveCount(field: string, raw: unknown): number {
  const r = parseRate(field, raw, 1);
  if ('percent' in r)
    throw new FleetError('FLEET_RATE_INVALID', `${field} must be a count of targets (an integer of at least 1), got ${JSON.stringify(raw)}`, { field });
  return r.count;
}

function parseSelector(runbookId: string, fleet: FleetSettings, raw: unknown, allowedAccounts: readonly string[]): TargetSelector {
  if (Array.isArray(raw)) return listSelector(runbookId, fleet, { resources: raw });
  if (raw === null || typeof raw !== 'object')
    throw invalid('targets', 'must be an object ({ resourceType, tags, accounts, regions }) or a list of ARNs or ids');
  const t = raw as Record<string, unknown>;
  const known = ['resourceType', 'tags', 'accounts', 'regions', 'resources'];
  const unknown = Object.keys(t).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw invalid(`targets.${unknown[0]}`, `is not a targets field (${known.join(', ')})`);
  if (t.resources !== undefined) {
    if (t.tags !== undefined) throw invalid('targets.tags', 'give tags or resources, not both');
    return listSelector(runbookId, fleet, t, allowedAccounts);
  }
  const resourceType = resourceTypeOf(runbookId, fleet, t.resourceType);
  if (t.tags === undefined || t.tags === null || typeof t.tags !== 'object' || Array.isArray(t.tags) || Object.keys(t.tags).length === 0) {
    throw invalid('targets.tags', 'name at least one tag ({ "environment": "production" }); a fleet never means every resource');
  }
  const tags: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(t.tags as Record<string, unknown>)) {
    if (!TAG_KEY.test(k)) throw invalid(`targets.tags.${k.slice(0, 40)}`, 'is not a tag key');
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0 || values.length > 20 || values.some((x) => typeof x !== 'string' || x.length > 256)) {
      throw invalid(`targets.tags.${k}`, 'must be a tag value or a list of 1 to 20 of them (any matches)');
    }
    tags[k] = values as string[];
  }
  return { kind: 'tags', resourceType, tags, accounts: accountsOf(t.accounts, allowedAccounts) ?? [], regions: regionsOf(t.regions) ?? [] };
}

function listSelector(runbookId: string, fleet: FleetSettings, t: Record<string, unknown>, allowedAccounts: readonly string[] = []): TargetSelector {
  const resources = t.resources;
  if (!Array.isArray(resources) || resources.length > 100_000 || resources.some((r) => typeof r !== 'string' || r === '' || r.length > 2048)) {
    throw invalid('targets.resources', 'must be a list of ARNs or ids');
  }
  const resourceType = resourceTypeOf(runbookId, fleet, t.resourceType, resources as string[]);
  const dup = (resources as string[]).find((r, i) => resources.indexOf(r) !== i);
  if (dup) throw invalid('targets.resources', `names ${dup} twice; a target runs once`);
  return { kind: 'list', resourceType, resources: resources as string[], accounts: accountsOf(t.accounts, allowedAccounts), regions: regionsOf(t.regions) };
}

/** The type named, else the one an explicit ARN names, else the runbook's only one. */
function resourceTypeOf(runbookId: string, fleet: FleetSettings, raw: unknown, resources: string[] = []): FleetResourceType {
  let type: string | undefined;
  if (raw !== undefined) {
    if (typeof raw !== 'string') throw invalid('targets.resourceType', `must be one of ${FLEET_RESOURCE_TYPES.join(', ')}`);
    type = raw;
  } else {
    const fromArns = [...new Set(resources.filter((r) => r.startsWith('arn:')).map((r) => parseArn(r)?.resourceType ?? ''))];
    if (fromArns.length > 1) throw invalid('targets.resources', `mixes resource types (${fromArns.join(', ')}); a fleet acts on one`);
    type = fromArns[0] ?? (fleet.resourceTypes.length === 1 ? fleet.resourceTypes[0] : undefined);
    if (!type) throw invalid('targets.resourceType', `runbook ${runbookId} binds ${fleet.resourceTypes.join(' and ')}: say which`);
  }
  if (!(fleet.resourceTypes as string[]).includes(type)) {
    throw new FleetError(
      'FLEET_RESOURCE_TYPE_NOT_BOUND',
      `runbook ${runbookId} does not bind ${type.slice(0, 60)} targets (its fleet: section binds ${fleet.resourceTypes.join(', ')})`,
      {
        field: 'targets.resourceType',
        resourceType: type,
        bound: fleet.resourceTypes,
      },
    );
  }
  return type as FleetResourceType;
}

function accountsOf(raw: unknown, allowedAccounts: readonly string[]): string[] | null {
  if (raw === undefined) return null;
  if (raw === 'allowed') {
    if (allowedAccounts.length === 0)
      throw invalid('targets.accounts', '"allowed" means every account in RUNBOOKD_ALLOWED_ACCOUNTS, which is not set: list the accounts');
    return [...allowedAccounts];
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 1000) throw invalid('targets.accounts', 'must be "allowed" or a list of 12-digit account ids');
  const bad = raw.find((a) => typeof a !== 'string' || !ACCOUNT.test(a));
  if (bad !== undefined) throw invalid('targets.accounts', `${JSON.stringify(bad).slice(0, 40)} is not a 12-digit account id`);
  return [...new Set(raw as string[])];
}

function regionsOf(raw: unknown): string[] | null {
  if (raw === undefined) return null;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 50) throw invalid('targets.regions', 'must be a list of region codes such as eu-west-1');
  const bad = raw.find((r) => typeof r !== 'string' || !REGION.test(r));
  if (bad !== undefined) throw invalid('targets.regions', `${JSON.stringify(bad).slice(0, 40)} is not a region code such as eu-west-1`);
  return [...new Set(raw as string[])];
}

/** What an ARN says about the resource it names; null when it is not a resource ARN a fleet knows. */
export function parseArn(arn: string): { partition: string; resourceType: string; region: string; account: string; id: string; cluster?: string } | null {
  const m = ARN.exec(arn);
  if (!m) return null;
  const [, partition, service, region, account, resource] = m;
  const parts = resource.split(/[:/]/);
  const resourceType = `${service}:${parts[0]}`;
  if (resourceType === 'ecs:service') {
    // arn:aws:ecs:<region>:<account>:service/<cluster>/<service> (the old form has no cluster).
    return parts.length === 3
      ? { partition, resourceType, region, account, id: parts[2], cluster: parts[1] }
      : { partition, resourceType, region, account, id: parts[parts.length - 1] };
  }
  return { partition, resourceType, region, account, id: parts.slice(1).join(':') };
}

/** The ARN of a resource named by its id (`orders-db`, an ECS `cluster/service`) in one account and region. */
export function arnOf(resourceType: FleetResourceType, id: string, account: string, region: string): string {
  switch (resourceType) {
    case 'rds:db':
      return `arn:aws:rds:${region}:${account}:db:${id}`;
    case 'rds:cluster':
      return `arn:aws:rds:${region}:${account}:cluster:${id}`;
    case 'ecs:service':
      return `arn:aws:ecs:${region}:${account}:service/${id}`;
  }
}

/** A target's child parameters: the fleet's common parameters with the runbook's `fleet.bind` resolved against the target. */
export function bindTarget(fleet: FleetSettings, common: Record<string, unknown>, target: FleetTarget): Record<string, unknown> {
  const scope = {
    target: {
      id: target.id,
      arn: target.arn,
      account: target.account,
      region: target.region,
      resourceType: target.resourceType,
      ...(target.roleArn ? { roleArn: target.roleArn } : {}),
      ...(target.cluster ? { cluster: target.cluster } : {}),
      tags: target.tags,
    },
  };
  const bound = resolveValue(fleet.bind, scope) as Record<string, unknown>;
  return { ...common, ...bound };
}

/** A common parameter the binding sets per target would be overwritten: refuse it rather than surprise. */
export function checkCommonParameters(runbookId: string, fleet: FleetSettings, common: Record<string, unknown>): void {
  const clash = Object.keys(fleet.bind).find((k) => k in common);
  if (clash) {
    throw invalid(`parameters.${clash}`, `is set from each target by runbook ${runbookId}'s fleet.bind; leave it out of a fleet's parameters`);
  }
}

function invalid(field: string, why: string): FleetError {
  return new FleetError('FLEET_TARGETS_INVALID', `${field} ${why}`, { field });
}
