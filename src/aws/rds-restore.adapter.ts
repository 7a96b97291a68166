import { Injectable } from '@nestjs/common';
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBSnapshots,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type AddTagsToResourceCommandInput,
  type CreateDBInstanceCommandInput,
  type DBCluster,
  type DBClusterSnapshot,
  type DBInstance,
  type DBInstanceAutomatedBackup,
  type DBSnapshot,
  type DeleteDBClusterCommandInput,
  type DeleteDBInstanceCommandInput,
  type DescribeDBInstanceAutomatedBackupsCommandOutput,
  type RDSClient,
  type RestoreDBClusterFromSnapshotCommandInput,
  type RestoreDBClusterToPointInTimeCommandInput,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
  type RestoreDBInstanceToPointInTimeCommandInput,
  type Tag,
} from '@aws-sdk/client-rds';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, firstPages, type AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';
import { AwsStepError } from './aws.error';
import {
  describeDbCluster,
  describeDbInstance,
  rdsCalls,
  receipt,
  toCluster,
  toInstance,
  type MutationReceipt,
  type RdsCluster,
  type RdsInstance,
} from './rds-common';
import type { ResourceTag } from './resource-tags';

/** What restores compare against and look at, besides the failover view. */
export interface RdsClusterDetail extends RdsCluster {
  /** ISO 8601; the point-in-time restore window. */
  earliestRestorableTime: string | null;
  latestRestorableTime: string | null;
  backupRetentionPeriod: number | null;
  storageEncrypted: boolean;
  kmsKeyId: string | null;
  allocatedStorage: number | null;
  dbSubnetGroupName: string | null;
  vpcSecurityGroupIds: string[];
  tags: ResourceTag[];
}

export interface RdsInstanceDetail extends RdsInstance {
  instanceClass: string | null;
  allocatedStorage: number | null;
  storageType: string | null;
  storageEncrypted: boolean;
  kmsKeyId: string | null;
  backupRetentionPeriod: number | null;
  /** ISO 8601; RDS reports no earliest time on the instance (see `describeAutomatedBackups`). */
  latestRestorableTime: string | null;
  /** `address:port`, or null while RDS has not assigned one. */
  endpoint: string | null;
  publiclyAccessible: boolean;
  dbSubnetGroupName: string | null;
  vpcSecurityGroupIds: string[];
  tags: ResourceTag[];
}

export interface RdsSnapshot {
  kind: 'instance' | 'cluster';
  identifier: string;
  arn: string;
  /** The instance or cluster it was taken of. */
  sourceIdentifier: string;
  /** automated, manual, awsbackup, shared, ... */
  type: string;
  status: string;
  /** ISO 8601; null while RDS has not recorded it. */
  createdAt: string | null;
  encrypted: boolean;
  kmsKeyId: string | null;
  engine: string;
  engineVersion: string;
  allocatedStorage: number | null;
  region: string;
}

export interface RdsAutomatedBackup {
  arn: string | null;
  instanceIdentifier: string;
  status: string;
  /** Where the backed-up instance lives (differs from the queried region for replicated backups). */
  sourceRegion: string | null;
  earliestTime: string | null;
  latestTime: string | null;
  encrypted: boolean;
  kmsKeyId: string | null;
}

/** Where and how a restored resource is created: isolated (never publicly accessible) and tagged. */
export interface RestoreTargetParams {
  identifier: string;
  instanceClass?: string;
  dbSubnetGroupName?: string;
  vpcSecurityGroupIds?: string[];
  tags: ResourceTag[];
}

export interface RestoreFromSnapshotParams extends RestoreTargetParams {
  snapshotIdentifier: string;
}

export interface RestoreClusterFromSnapshotParams extends Omit<RestoreTargetParams, 'instanceClass'> {
  snapshotIdentifier: string;
  engine: string;
  engineVersion?: string;
}

export interface PointInTimeParams {
  /** Exactly one of restoreTime and useLatestRestorableTime. */
  restoreTime?: string;
  useLatestRestorableTime?: boolean;
}

export interface RestoreInstanceToPointInTimeParams extends RestoreTargetParams, PointInTimeParams {
  /** The source instance (same region), or... */
  sourceIdentifier?: string;
  /** ...a replicated automated backup in this region (a restore in the DR region). */
  sourceAutomatedBackupsArn?: string;
}

export interface RestoreClusterToPointInTimeParams extends Omit<RestoreTargetParams, 'instanceClass'>, PointInTimeParams {
  sourceIdentifier: string;
}

export interface ClusterInstanceParams {
  identifier: string;
  clusterIdentifier: string;
  engine: string;
  instanceClass: string;
  tags: ResourceTag[];
}

/** Snapshot pages (100 each) to read before giving up. */
const MAX_SNAPSHOT_PAGES = 20;

/**
 * RDS restores as the steps need them: the source's restore window, snapshots and automated
 * backups, the restore calls (from a snapshot or to a point in time), and what a restore test
 * then looks at, tags and deletes. Small typed calls returning plain objects, never SDK shapes;
 * every mutating call has a pure `planX` built from the same input function as `x`, so what a
 * dry run shows is exactly what a real run sends.
 */
@Injectable()
export class RdsRestoreAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = rdsCalls(clients, caller);
  }

  /** The cluster with its restore window, backup, encryption, network and tags. */
  async describeClusterDetail(ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<RdsClusterDetail> {
    return toClusterDetail(await describeDbCluster(this.calls, ctx, target, clusterIdentifier));
  }

  async describeInstanceDetail(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<RdsInstanceDetail> {
    return toInstanceDetail(await describeDbInstance(this.calls, ctx, target, instanceIdentifier));
  }

  /** Like describeClusterDetail, but null when there is no such cluster (look before act). */
  async findCluster(ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<RdsClusterDetail | null> {
    return orNull(this.describeClusterDetail(ctx, target, clusterIdentifier));
  }

  async findInstance(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<RdsInstanceDetail | null> {
    return orNull(this.describeInstanceDetail(ctx, target, instanceIdentifier));
  }

  /** Snapshots of one instance or cluster in the target's region, newest first. */
  async describeSnapshots(ctx: AwsCallContext, target: AwsTarget, source: { kind: 'instance' | 'cluster'; identifier: string }): Promise<RdsSnapshot[]> {
    const region = resolveTarget(target).region;
    const out: RdsSnapshot[] = [];
    if (source.kind === 'instance') {
      const input = { DBInstanceIdentifier: source.identifier, MaxRecords: 100 };
      for await (const res of firstPages(
        MAX_SNAPSHOT_PAGES,
        paginateDescribeDBSnapshots(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBSnapshots'), input),
      )) {
        out.push(...(res.DBSnapshots ?? []).map((x) => toSnapshot(x, region)));
      }
    } else {
      const input = { DBClusterIdentifier: source.identifier, MaxRecords: 100 };
      for await (const res of firstPages(
        MAX_SNAPSHOT_PAGES,
        paginateDescribeDBClusterSnapshots(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBClusterSnapshots'), input),
      )) {
        out.push(...(res.DBClusterSnapshots ?? []).map((x) => toClusterSnapshot(x, region)));
      }
    }
    // Filtered here as well: a snapshot of another source must never stand in for this one's.
    return out.filter((x) => x.sourceIdentifier === source.identifier).sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  }

  /**
   * Automated backups of an instance in the target's region: its own (the restore window), or
   * backups replicated there from another region (a restore in the DR region starts from these).
   */
  async describeAutomatedBackups(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<RdsAutomatedBackup[]> {
    const out = await this.calls.read<DescribeDBInstanceAutomatedBackupsCommandOutput>(
      ctx,
      target,
      'DescribeDBInstanceAutomatedBackups',
      new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: instanceIdentifier }),
    );
    return (out.DBInstanceAutomatedBackups ?? []).filter((b) => b.DBInstanceIdentifier === instanceIdentifier).map(toAutomatedBackup);
  }

  planRestoreInstanceFromSnapshot(target: AwsTarget, params: RestoreFromSnapshotParams): PlannedCall {
    return this.calls.plan(target, 'RestoreDBInstanceFromDBSnapshot', restoreInstanceFromSnapshotInput(params));
  }

  async restoreInstanceFromSnapshot(ctx: AwsCallContext, target: AwsTarget, params: RestoreFromSnapshotParams): Promise<MutationReceipt> {
    return receipt(
      await this.calls.mutate(
        ctx,
        target,
        'RestoreDBInstanceFromDBSnapshot',
        new RestoreDBInstanceFromDBSnapshotCommand(restoreInstanceFromSnapshotInput(params)),
      ),
    );
  }

  planRestoreClusterFromSnapshot(target: AwsTarget, params: RestoreClusterFromSnapshotParams): PlannedCall {
    return this.calls.plan(target, 'RestoreDBClusterFromSnapshot', restoreClusterFromSnapshotInput(params));
  }

  async restoreClusterFromSnapshot(ctx: AwsCallContext, target: AwsTarget, params: RestoreClusterFromSnapshotParams): Promise<MutationReceipt> {
    return receipt(
      await this.calls.mutate(ctx, target, 'RestoreDBClusterFromSnapshot', new RestoreDBClusterFromSnapshotCommand(restoreClusterFromSnapshotInput(params))),
    );
  }

  planRestoreInstanceToPointInTime(target: AwsTarget, params: RestoreInstanceToPointInTimeParams): PlannedCall {
    return this.calls.plan(target, 'RestoreDBInstanceToPointInTime', restoreInstanceToPointInTimeInput(params));
  }

  async restoreInstanceToPointInTime(ctx: AwsCallContext, target: AwsTarget, params: RestoreInstanceToPointInTimeParams): Promise<MutationReceipt> {
    return receipt(
      await this.calls.mutate(
        ctx,
        target,
        'RestoreDBInstanceToPointInTime',
        new RestoreDBInstanceToPointInTimeCommand(restoreInstanceToPointInTimeInput(params)),
      ),
    );
  }

  planRestoreClusterToPointInTime(target: AwsTarget, params: RestoreClusterToPointInTimeParams): PlannedCall {
    return this.calls.plan(target, 'RestoreDBClusterToPointInTime', restoreClusterToPointInTimeInput(params));
  }

  async restoreClusterToPointInTime(ctx: AwsCallContext, target: AwsTarget, params: RestoreClusterToPointInTimeParams): Promise<MutationReceipt> {
    return receipt(
      await this.calls.mutate(ctx, target, 'RestoreDBClusterToPointInTime', new RestoreDBClusterToPointInTimeCommand(restoreClusterToPointInTimeInput(params))),
    );
  }

  /** A restored Aurora cluster has no instances; one is needed before anything can connect. */
  planCreateClusterInstance(target: AwsTarget, params: ClusterInstanceParams): PlannedCall {
    return this.calls.plan(target, 'CreateDBInstance', clusterInstanceInput(params));
  }

  async createClusterInstance(ctx: AwsCallContext, target: AwsTarget, params: ClusterInstanceParams): Promise<MutationReceipt> {
    return receipt(await this.calls.mutate(ctx, target, 'CreateDBInstance', new CreateDBInstanceCommand(clusterInstanceInput(params))));
  }

  planDeleteInstance(target: AwsTarget, instanceIdentifier: string): PlannedCall {
    return this.calls.plan(target, 'DeleteDBInstance', deleteInstanceInput(instanceIdentifier));
  }

  /** Without a final snapshot: only for resources a run restored for a test. */
  async deleteInstance(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<MutationReceipt> {
    return receipt(await this.calls.mutate(ctx, target, 'DeleteDBInstance', new DeleteDBInstanceCommand(deleteInstanceInput(instanceIdentifier))));
  }

  planDeleteCluster(target: AwsTarget, clusterIdentifier: string): PlannedCall {
    return this.calls.plan(target, 'DeleteDBCluster', deleteClusterInput(clusterIdentifier));
  }

  async deleteCluster(ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<MutationReceipt> {
    return receipt(await this.calls.mutate(ctx, target, 'DeleteDBCluster', new DeleteDBClusterCommand(deleteClusterInput(clusterIdentifier))));
  }

  planAddTags(target: AwsTarget, resourceArn: string, tags: ResourceTag[]): PlannedCall {
    return this.calls.plan(target, 'AddTagsToResource', addTagsInput(resourceArn, tags));
  }

  /** Idempotent by nature: tagging again with the same values changes nothing. */
  async addTags(ctx: AwsCallContext, target: AwsTarget, resourceArn: string, tags: ResourceTag[]): Promise<MutationReceipt> {
    return receipt(await this.calls.mutate(ctx, target, 'AddTagsToResource', new AddTagsToResourceCommand(addTagsInput(resourceArn, tags))));
  }
}

// Input builders: the single source of what a mutating call sends, shared by plan and run.

function isolation(params: { dbSubnetGroupName?: string; vpcSecurityGroupIds?: string[] }): { DBSubnetGroupName?: string; VpcSecurityGroupIds?: string[] } {
  return {
    ...(params.dbSubnetGroupName ? { DBSubnetGroupName: params.dbSubnetGroupName } : {}),
    ...(params.vpcSecurityGroupIds && params.vpcSecurityGroupIds.length > 0 ? { VpcSecurityGroupIds: [...params.vpcSecurityGroupIds] } : {}),
  };
}

const tagList = (tags: ResourceTag[]): Tag[] => tags.map((t) => ({ Key: t.Key, Value: t.Value }));

export function restoreInstanceFromSnapshotInput(p: RestoreFromSnapshotParams): RestoreDBInstanceFromDBSnapshotCommandInput {
  return {
    DBInstanceIdentifier: p.identifier,
    DBSnapshotIdentifier: p.snapshotIdentifier,
    // A restore test must never be reachable from outside its isolated network.
    PubliclyAccessible: false,
    MultiAZ: false,
    DeletionProtection: false,
    ...(p.instanceClass ? { DBInstanceClass: p.instanceClass } : {}),
    ...isolation(p),
    Tags: tagList(p.tags),
  };
}

export function restoreClusterFromSnapshotInput(p: RestoreClusterFromSnapshotParams): RestoreDBClusterFromSnapshotCommandInput {
  return {
    DBClusterIdentifier: p.identifier,
    SnapshotIdentifier: p.snapshotIdentifier,
    Engine: p.engine,
    ...(p.engineVersion ? { EngineVersion: p.engineVersion } : {}),
    DeletionProtection: false,
    ...(p.dbSubnetGroupName ? { DBSubnetGroupName: p.dbSubnetGroupName } : {}),
    ...(p.vpcSecurityGroupIds && p.vpcSecurityGroupIds.length > 0 ? { VpcSecurityGroupIds: [...p.vpcSecurityGroupIds] } : {}),
    Tags: tagList(p.tags),
  };
}

function pointInTime(p: PointInTimeParams): { RestoreTime?: Date; UseLatestRestorableTime?: boolean } {
  return p.useLatestRestorableTime ? { UseLatestRestorableTime: true } : { RestoreTime: new Date(p.restoreTime!) };
}

export function restoreInstanceToPointInTimeInput(p: RestoreInstanceToPointInTimeParams): RestoreDBInstanceToPointInTimeCommandInput {
  return {
    TargetDBInstanceIdentifier: p.identifier,
    ...(p.sourceAutomatedBackupsArn
      ? { SourceDBInstanceAutomatedBackupsArn: p.sourceAutomatedBackupsArn }
      : { SourceDBInstanceIdentifier: p.sourceIdentifier }),
    ...pointInTime(p),
    PubliclyAccessible: false,
    MultiAZ: false,
    DeletionProtection: false,
    ...(p.instanceClass ? { DBInstanceClass: p.instanceClass } : {}),
    ...isolation(p),
    Tags: tagList(p.tags),
  };
}

export function restoreClusterToPointInTimeInput(p: RestoreClusterToPointInTimeParams): RestoreDBClusterToPointInTimeCommandInput {
  return {
    DBClusterIdentifier: p.identifier,
    SourceDBClusterIdentifier: p.sourceIdentifier,
    ...pointInTime(p),
    DeletionProtection: false,
    ...(p.dbSubnetGroupName ? { DBSubnetGroupName: p.dbSubnetGroupName } : {}),
    ...(p.vpcSecurityGroupIds && p.vpcSecurityGroupIds.length > 0 ? { VpcSecurityGroupIds: [...p.vpcSecurityGroupIds] } : {}),
    Tags: tagList(p.tags),
  };
}

export function clusterInstanceInput(p: ClusterInstanceParams): CreateDBInstanceCommandInput {
  return {
    DBInstanceIdentifier: p.identifier,
    DBClusterIdentifier: p.clusterIdentifier,
    Engine: p.engine,
    DBInstanceClass: p.instanceClass,
    PubliclyAccessible: false,
    Tags: tagList(p.tags),
  };
}

export function deleteInstanceInput(instanceIdentifier: string): DeleteDBInstanceCommandInput {
  return { DBInstanceIdentifier: instanceIdentifier, SkipFinalSnapshot: true, DeleteAutomatedBackups: true };
}

export function deleteClusterInput(clusterIdentifier: string): DeleteDBClusterCommandInput {
  return { DBClusterIdentifier: clusterIdentifier, SkipFinalSnapshot: true };
}

export function addTagsInput(resourceArn: string, tags: ResourceTag[]): AddTagsToResourceCommandInput {
  return { ResourceName: resourceArn, Tags: tagList(tags) };
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AwsStepError && err.code === 'AWS_NOT_FOUND') return null;
    throw err;
  }
}

const iso = (d: Date | undefined | null): string | null => (d ? d.toISOString() : null);
const tagsOf = (list: Tag[] | undefined): ResourceTag[] => (list ?? []).filter((t) => t.Key).map((t) => ({ Key: t.Key!, Value: t.Value ?? '' }));

function toSnapshot(x: DBSnapshot, region: string): RdsSnapshot {
  return {
    kind: 'instance',
    identifier: x.DBSnapshotIdentifier ?? '',
    arn: x.DBSnapshotArn ?? '',
    sourceIdentifier: x.DBInstanceIdentifier ?? '',
    type: x.SnapshotType ?? 'unknown',
    status: x.Status ?? 'unknown',
    createdAt: iso(x.SnapshotCreateTime ?? x.OriginalSnapshotCreateTime),
    encrypted: x.Encrypted === true,
    kmsKeyId: x.KmsKeyId ?? null,
    engine: x.Engine ?? '',
    engineVersion: x.EngineVersion ?? '',
    allocatedStorage: x.AllocatedStorage ?? null,
    region,
  };
}

function toClusterSnapshot(x: DBClusterSnapshot, region: string): RdsSnapshot {
  return {
    kind: 'cluster',
    identifier: x.DBClusterSnapshotIdentifier ?? '',
    arn: x.DBClusterSnapshotArn ?? '',
    sourceIdentifier: x.DBClusterIdentifier ?? '',
    type: x.SnapshotType ?? 'unknown',
    status: x.Status ?? 'unknown',
    createdAt: iso(x.SnapshotCreateTime),
    encrypted: x.StorageEncrypted === true,
    kmsKeyId: x.KmsKeyId ?? null,
    engine: x.Engine ?? '',
    engineVersion: x.EngineVersion ?? '',
    allocatedStorage: x.AllocatedStorage ?? null,
    region,
  };
}

function toAutomatedBackup(b: DBInstanceAutomatedBackup): RdsAutomatedBackup {
  return {
    arn: b.DBInstanceAutomatedBackupsArn ?? null,
    instanceIdentifier: b.DBInstanceIdentifier ?? '',
    status: b.Status ?? 'unknown',
    sourceRegion: b.Region ?? null,
    earliestTime: iso(b.RestoreWindow?.EarliestTime),
    latestTime: iso(b.RestoreWindow?.LatestTime),
    encrypted: b.Encrypted === true,
    kmsKeyId: b.KmsKeyId ?? null,
  };
}

function toClusterDetail(c: DBCluster): RdsClusterDetail {
  return {
    ...toCluster(c),
    earliestRestorableTime: iso(c.EarliestRestorableTime),
    latestRestorableTime: iso(c.LatestRestorableTime),
    backupRetentionPeriod: c.BackupRetentionPeriod ?? null,
    storageEncrypted: c.StorageEncrypted === true,
    kmsKeyId: c.KmsKeyId ?? null,
    allocatedStorage: c.AllocatedStorage ?? null,
    dbSubnetGroupName: c.DBSubnetGroup ?? null,
    vpcSecurityGroupIds: (c.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? '').filter(Boolean),
    tags: tagsOf(c.TagList),
  };
}

function toInstanceDetail(i: DBInstance): RdsInstanceDetail {
  return {
    ...toInstance(i),
    instanceClass: i.DBInstanceClass ?? null,
    allocatedStorage: i.AllocatedStorage ?? null,
    storageType: i.StorageType ?? null,
    storageEncrypted: i.StorageEncrypted === true,
    kmsKeyId: i.KmsKeyId ?? null,
    backupRetentionPeriod: i.BackupRetentionPeriod ?? null,
    latestRestorableTime: iso(i.LatestRestorableTime),
    endpoint: i.Endpoint?.Address ? `${i.Endpoint.Address}:${i.Endpoint.Port ?? ''}`.replace(/:$/, '') : null,
    publiclyAccessible: i.PubliclyAccessible === true,
    dbSubnetGroupName: i.DBSubnetGroup?.DBSubnetGroupName ?? null,
    vpcSecurityGroupIds: (i.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? '').filter(Boolean),
    tags: tagsOf(i.TagList),
  };
}
