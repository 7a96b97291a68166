import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  type DBCluster,
  type DBInstance,
  type DescribeDBClustersCommandOutput,
  type DescribeDBInstancesCommandOutput,
} from '@aws-sdk/client-rds';
import type { AwsCallContext } from './aws-call.types';
import type { AwsCallerService, AwsServiceCalls } from './aws-caller.service';
import type { AwsClientFactory, AwsTarget } from './aws-client.factory';
import { AwsStepError } from './aws.error';

/**
 * What the RDS adapters (failover, restore, estate) share: the door they call through, the one
 * DescribeDBClusters / DescribeDBInstances look that failover and restore views are both made
 * from, and the receipt of a mutating call.
 */

export const RDS_SERVICE = 'rds';

/** What every step that reads an RDS subject (a cluster or an instance) may call, for the IAM policy. */
export const RDS_READ_SUBJECT_ACTIONS = ['rds:DescribeDBClusters', 'rds:DescribeDBInstances'] as const;

export function rdsCalls(clients: AwsClientFactory, caller: AwsCallerService): AwsServiceCalls {
  return caller.forService(RDS_SERVICE, (region, roleArn, kind) => clients.rds(region, roleArn, kind));
}

export interface RdsClusterMember {
  instanceId: string;
  isWriter: boolean;
  promotionTier: number | null;
}

export interface RdsCluster {
  identifier: string;
  status: string;
  engine: string;
  engineVersion: string;
  members: RdsClusterMember[];
  /** The writer instance's id; null while the cluster has none (creating, mid-failover). */
  writer: string | null;
  multiAZ: boolean;
  arn: string;
  endpoint: string | null;
  readerEndpoint: string | null;
}

export interface RdsInstance {
  identifier: string;
  status: string;
  engine: string;
  engineVersion: string;
  availabilityZone: string | null;
  /** The standby's zone for a Multi-AZ instance; null otherwise. */
  secondaryAvailabilityZone: string | null;
  multiAZ: boolean;
  clusterIdentifier: string | null;
  arn: string;
}

export interface MutationReceipt {
  requestId: string | null;
}

export async function describeDbCluster(calls: AwsServiceCalls, ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<DBCluster> {
  const out = await calls.read<DescribeDBClustersCommandOutput>(
    ctx,
    target,
    'DescribeDBClusters',
    new DescribeDBClustersCommand({ DBClusterIdentifier: clusterIdentifier }),
  );
  const cluster = out.DBClusters?.[0];
  if (!cluster) throw notFound('DescribeDBClusters', 'DBClusterNotFoundFault', `DB cluster ${clusterIdentifier} not found`);
  return cluster;
}

export async function describeDbInstance(calls: AwsServiceCalls, ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<DBInstance> {
  const out = await calls.read<DescribeDBInstancesCommandOutput>(
    ctx,
    target,
    'DescribeDBInstances',
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceIdentifier }),
  );
  const instance = out.DBInstances?.[0];
  if (!instance) throw notFound('DescribeDBInstances', 'DBInstanceNotFoundFault', `DB instance ${instanceIdentifier} not found`);
  return instance;
}

export function receipt(out: { $metadata?: { requestId?: string } }): MutationReceipt {
  return { requestId: out.$metadata?.requestId ?? null };
}

function notFound(operation: string, awsCode: string, message: string): AwsStepError {
  return new AwsStepError('AWS_NOT_FOUND', message, { service: RDS_SERVICE, operation, awsCode, requestId: null, httpStatus: null });
}

export function toCluster(c: DBCluster): RdsCluster {
  const members: RdsClusterMember[] = (c.DBClusterMembers ?? []).map((m) => ({
    instanceId: m.DBInstanceIdentifier ?? '',
    isWriter: m.IsClusterWriter === true,
    promotionTier: m.PromotionTier ?? null,
  }));
  return {
    identifier: c.DBClusterIdentifier ?? '',
    status: c.Status ?? 'unknown',
    engine: c.Engine ?? '',
    engineVersion: c.EngineVersion ?? '',
    members,
    writer: members.find((m) => m.isWriter)?.instanceId ?? null,
    multiAZ: c.MultiAZ === true,
    arn: c.DBClusterArn ?? '',
    endpoint: c.Endpoint ?? null,
    readerEndpoint: c.ReaderEndpoint ?? null,
  };
}

export function toInstance(i: DBInstance): RdsInstance {
  return {
    identifier: i.DBInstanceIdentifier ?? '',
    status: i.DBInstanceStatus ?? 'unknown',
    engine: i.Engine ?? '',
    engineVersion: i.EngineVersion ?? '',
    availabilityZone: i.AvailabilityZone ?? null,
    secondaryAvailabilityZone: i.SecondaryAvailabilityZone ?? null,
    multiAZ: i.MultiAZ === true,
    clusterIdentifier: i.DBClusterIdentifier ?? null,
    arn: i.DBInstanceArn ?? '',
  };
}
