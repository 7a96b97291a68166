import type { AwsCallContext } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { createdByRun, runResourceName } from '../../aws/resource-tags';
import type { CreatedResource } from '../step.contract';
import { TARGET_PROPERTIES } from '../aws-target';

/**
 * A resource a restore test creates: an RDS instance, or an Aurora cluster plus the one instance
 * it needs before anything can connect. Its name comes from the run id, so a create repeated
 * after a crash finds the one already made, and cleanup knows what to delete even when the
 * restore step never reported back.
 */
export type RestoreKind = 'instance' | 'cluster';

export interface RestoredRef {
  kind: RestoreKind;
  /** The restored instance, or the restored cluster. */
  identifier: string;
  /** Cluster only: its instance. Equal to `identifier` for an instance. */
  instanceIdentifier?: string;
  region?: string;
  roleArn?: string;
}

export const restoredRefProperties = {
  kind: { enum: ['instance', 'cluster'] },
  identifier: { type: 'string', minLength: 1, maxLength: 63 },
  instanceIdentifier: { type: 'string', minLength: 1, maxLength: 63 },
  ...TARGET_PROPERTIES,
} as const;

/** One entry of a step output's `resources` (see the step contract). */
export type ResourceRecord = CreatedResource;

export const RDS_INSTANCE_TYPE = 'rds:db-instance';
export const RDS_CLUSTER_TYPE = 'rds:db-cluster';

/** Default class of the one instance a restored Aurora cluster gets (the cluster snapshot carries none). */
export const DEFAULT_CLUSTER_INSTANCE_CLASS = 'db.r6g.large';

/** The names a run's restore uses: given by the caller, or derived from the run id. */
export function restoreNames(runId: string, kind: RestoreKind, given?: string): { identifier: string; instanceIdentifier: string } {
  const identifier = given || runResourceName(runId);
  return { identifier, instanceIdentifier: kind === 'cluster' ? `${identifier}-1` : identifier };
}

export function instanceIdOf(ref: RestoredRef): string {
  return ref.kind === 'cluster' ? (ref.instanceIdentifier ?? `${ref.identifier}-1`) : ref.identifier;
}

export interface RestoredState {
  exists: boolean;
  /** Cluster: the cluster's status; instance: the instance's. */
  status: string;
  instanceStatus: string | null;
  arn: string | null;
  instanceArn: string | null;
  endpoint: string | null;
  /** The run-id tag says this run made it (or the name is the one derived from this run's id). */
  ours: boolean;
  /**
   * The same, for the instance on its own (a cluster's `<id>-1`): the cluster being this run's
   * says nothing about an instance under that name. False when there is no instance.
   */
  instanceOurs: boolean;
  /** The cluster the instance belongs to (null: standalone, or no instance). */
  instanceClusterId: string | null;
  engine: string | null;
  engineVersion: string | null;
  allocatedStorage: number | null;
  storageEncrypted: boolean | null;
  kmsKeyId: string | null;
  publiclyAccessible: boolean | null;
}

const ABSENT: RestoredState = {
  exists: false,
  status: 'absent',
  instanceStatus: null,
  arn: null,
  instanceArn: null,
  endpoint: null,
  ours: false,
  instanceOurs: false,
  instanceClusterId: null,
  engine: null,
  engineVersion: null,
  allocatedStorage: null,
  storageEncrypted: null,
  kmsKeyId: null,
  publiclyAccessible: null,
};

/**
 * What exists now under the restore's names, with the ownership of each resource judged on its
 * own: its `runbookd:run-id` tag is this run's, or its own name is the one derived from this
 * run's id (`rbd-<run id>`, `rbd-<run id>-1`: no one else names things after a run id, and an
 * AWS Backup copy carries no tags until the run's tag step has run).
 */
export async function observeRestored(rds: RdsRestoreAdapter, ctx: AwsCallContext, target: AwsTarget, ref: RestoredRef): Promise<RestoredState> {
  const derivedName = runResourceName(ctx.runId);
  const derived = ref.identifier === derivedName;
  if (ref.kind === 'instance') {
    const i = await rds.findInstance(ctx, target, ref.identifier);
    if (!i) return ABSENT;
    const ours = derived || createdByRun(i.tags, ctx.runId);
    return {
      exists: true,
      status: i.status,
      instanceStatus: i.status,
      arn: i.arn,
      instanceArn: i.arn,
      endpoint: i.endpoint,
      ours,
      instanceOurs: ours,
      instanceClusterId: i.clusterIdentifier,
      engine: i.engine,
      engineVersion: i.engineVersion,
      allocatedStorage: i.allocatedStorage,
      storageEncrypted: i.storageEncrypted,
      kmsKeyId: i.kmsKeyId,
      publiclyAccessible: i.publiclyAccessible,
    };
  }
  const c = await rds.findCluster(ctx, target, ref.identifier);
  if (!c) return ABSENT;
  const instanceId = instanceIdOf(ref);
  const i = await rds.findInstance(ctx, target, instanceId);
  return {
    exists: true,
    status: c.status,
    instanceStatus: i?.status ?? null,
    arn: c.arn,
    instanceArn: i?.arn ?? null,
    endpoint: c.endpoint,
    ours: derived || createdByRun(c.tags, ctx.runId),
    instanceOurs: !!i && (instanceId === `${derivedName}-1` || createdByRun(i.tags, ctx.runId)),
    instanceClusterId: i?.clusterIdentifier ?? null,
    engine: c.engine,
    engineVersion: c.engineVersion,
    allocatedStorage: c.allocatedStorage,
    storageEncrypted: c.storageEncrypted,
    kmsKeyId: c.kmsKeyId,
    publiclyAccessible: i ? i.publiclyAccessible : null,
  };
}

/** The resources entries for a restore in a given state. */
export function resourceRecords(
  ref: RestoredRef,
  region: string,
  state: string,
  extra: { arn?: string | null; instanceArn?: string | null; instanceState?: string | null; createdByStepId?: string } = {},
): ResourceRecord[] {
  const by = extra.createdByStepId ? { createdByStepId: extra.createdByStepId } : {};
  if (ref.kind === 'instance') {
    return [{ type: RDS_INSTANCE_TYPE, identifier: ref.identifier, region, ...(extra.arn ? { arn: extra.arn } : {}), state, ...by }];
  }
  return [
    { type: RDS_CLUSTER_TYPE, identifier: ref.identifier, region, ...(extra.arn ? { arn: extra.arn } : {}), state, ...by },
    {
      type: RDS_INSTANCE_TYPE,
      identifier: instanceIdOf(ref),
      region,
      ...(extra.instanceArn ? { arn: extra.instanceArn } : {}),
      state: extra.instanceState ?? state,
      ...by,
    },
  ];
}

export const minutesBetween = (fromMs: number, toMs: number): number => Math.round(((toMs - fromMs) / 60_000) * 100) / 100;
