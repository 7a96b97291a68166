import { Injectable } from '@nestjs/common';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  FailoverDBClusterCommand,
  RebootDBInstanceCommand,
  type DBCluster,
  type DBInstance,
  type DescribeDBClustersCommandOutput,
  type DescribeDBInstancesCommandOutput,
  type DescribeEventsCommandOutput,
  type FailoverDBClusterCommandInput,
  type FailoverDBClusterCommandOutput,
  type RebootDBInstanceCommandInput,
  type RebootDBInstanceCommandOutput,
} from '@aws-sdk/client-rds';
import type { AwsCallContext, PlannedCall } from '../engine/step.contract';
import { AwsCallerService, type AwsSdkCommand } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';
import { AwsStepError } from './aws.error';
import { countCall, type CallTally } from './call-tally';

export const RDS_SERVICE = 'rds';

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

export interface RdsEvent {
  /** ISO 8601: adapter results go straight into step outputs, which are stored as JSON. */
  at: string;
  message: string;
  categories: string[];
}

export interface FailoverClusterParams {
  clusterIdentifier: string;
  /** The reader to promote; AWS picks by promotion tier when absent. */
  targetInstance?: string;
}

export interface RecentEventsQuery {
  sourceType: 'db-cluster' | 'db-instance';
  sourceId: string;
  since: Date;
}

export interface MutationReceipt {
  requestId: string | null;
}

/** An instance as a capacity report sizes it. */
export interface RdsInstanceSize {
  identifier: string;
  instanceClass: string;
  engine: string;
  status: string;
  /** GiB; null for Aurora, whose storage is the cluster volume. */
  allocatedStorageGiB: number | null;
  clusterIdentifier: string | null;
}

export interface RdsClusterSummary {
  identifier: string;
  engine: string;
  members: string[];
}

/** A guard against an endpoint that hands back the same Marker forever. */
const MAX_LIST_PAGES = 1000;

/** Event pages to read before giving up; 100 events each is more than a failover produces. */
const MAX_EVENT_PAGES = 20;

/**
 * RDS as the steps need it: small typed calls returning plain objects, never SDK shapes.
 * Every mutating call has a pure `planX` built from the same input function as `x`, so what a
 * dry-run shows is exactly what a real run sends. A new operation is an input builder (if it
 * mutates), a method calling `read`/`mutate`, and a mapper to a plain result.
 */
@Injectable()
export class RdsAdapter {
  constructor(
    private readonly clients: AwsClientFactory,
    private readonly caller: AwsCallerService,
  ) {}

  // --- reads -------------------------------------------------------------------------------

  async describeCluster(ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<RdsCluster> {
    const out = await this.read<DescribeDBClustersCommandOutput>(
      ctx,
      target,
      'DescribeDBClusters',
      new DescribeDBClustersCommand({ DBClusterIdentifier: clusterIdentifier }),
    );
    const cluster = out.DBClusters?.[0];
    if (!cluster) throw notFound('DescribeDBClusters', 'DBClusterNotFoundFault', `DB cluster ${clusterIdentifier} not found`);
    return toCluster(cluster);
  }

  async describeInstance(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<RdsInstance> {
    const out = await this.read<DescribeDBInstancesCommandOutput>(
      ctx,
      target,
      'DescribeDBInstances',
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceIdentifier }),
    );
    const instance = out.DBInstances?.[0];
    if (!instance) throw notFound('DescribeDBInstances', 'DBInstanceNotFoundFault', `DB instance ${instanceIdentifier} not found`);
    return toInstance(instance);
  }

  /** Every DB instance in the region (DescribeDBInstances, 100 per page). */
  async listInstances(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsInstanceSize[]> {
    const out: RdsInstanceSize[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      countCall(tally, 'rds:DescribeDBInstances');
      const res = await this.read<DescribeDBInstancesCommandOutput>(ctx, target, 'DescribeDBInstances', new DescribeDBInstancesCommand({ MaxRecords: 100, Marker: marker }));
      for (const i of res.DBInstances ?? []) {
        const engine = i.Engine ?? '';
        out.push({
          identifier: i.DBInstanceIdentifier ?? '',
          instanceClass: i.DBInstanceClass ?? '',
          engine,
          status: i.DBInstanceStatus ?? 'unknown',
          allocatedStorageGiB: engine.startsWith('aurora') || !i.AllocatedStorage ? null : i.AllocatedStorage,
          clusterIdentifier: i.DBClusterIdentifier ?? null,
        });
      }
      marker = res.Marker;
      if (!marker) break;
    }
    return out;
  }

  /** Every DB cluster in the region with its member instances (DescribeDBClusters, 100 per page). */
  async listClusters(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsClusterSummary[]> {
    const out: RdsClusterSummary[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      countCall(tally, 'rds:DescribeDBClusters');
      const res = await this.read<DescribeDBClustersCommandOutput>(ctx, target, 'DescribeDBClusters', new DescribeDBClustersCommand({ MaxRecords: 100, Marker: marker }));
      for (const c of res.DBClusters ?? []) {
        out.push({ identifier: c.DBClusterIdentifier ?? '', engine: c.Engine ?? '', members: (c.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? '').filter(Boolean) });
      }
      marker = res.Marker;
      if (!marker) break;
    }
    return out;
  }

  /** Events of one cluster or instance since a moment, oldest first. */
  async describeRecentEvents(ctx: AwsCallContext, target: AwsTarget, query: RecentEventsQuery): Promise<RdsEvent[]> {
    const events: RdsEvent[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_EVENT_PAGES; page++) {
      const out = await this.read<DescribeEventsCommandOutput>(
        ctx,
        target,
        'DescribeEvents',
        new DescribeEventsCommand({
          SourceType: query.sourceType,
          SourceIdentifier: query.sourceId,
          StartTime: query.since,
          MaxRecords: 100,
          Marker: marker,
        }),
      );
      for (const e of out.Events ?? []) {
        // Filtered here as well: StartTime is not honoured by every endpoint (moto ignores it).
        if (!e.Date || e.Date.getTime() < query.since.getTime()) continue;
        events.push({ at: e.Date.toISOString(), message: e.Message ?? '', categories: e.EventCategories ?? [] });
      }
      marker = out.Marker;
      if (!marker) break;
    }
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  // --- mutations ---------------------------------------------------------------------------

  planFailoverCluster(target: AwsTarget, params: FailoverClusterParams): PlannedCall {
    return plan(target, 'FailoverDBCluster', failoverClusterInput(params));
  }

  async failoverCluster(ctx: AwsCallContext, target: AwsTarget, params: FailoverClusterParams): Promise<MutationReceipt> {
    const out = await this.mutate<FailoverDBClusterCommandOutput>(
      ctx,
      target,
      'FailoverDBCluster',
      new FailoverDBClusterCommand(failoverClusterInput(params)),
    );
    return receipt(out);
  }

  planRebootWithFailover(target: AwsTarget, instanceIdentifier: string): PlannedCall {
    return plan(target, 'RebootDBInstance', rebootWithFailoverInput(instanceIdentifier));
  }

  /** Multi-AZ instance failover: a reboot that forces the standby to take over. */
  async rebootWithFailover(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<MutationReceipt> {
    const out = await this.mutate<RebootDBInstanceCommandOutput>(
      ctx,
      target,
      'RebootDBInstance',
      new RebootDBInstanceCommand(rebootWithFailoverInput(instanceIdentifier)),
    );
    return receipt(out);
  }

  // --- plumbing ----------------------------------------------------------------------------

  private read<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    return this.send<O>(ctx, target, operation, command, false);
  }

  private mutate<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    return this.send<O>(ctx, target, operation, command, true);
  }

  private send<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand, mutates: boolean): Promise<O> {
    const { region, roleArn } = resolveTarget(target);
    const client = this.clients.rds(region, roleArn);
    return this.caller.send<O>(ctx, client, command, { service: RDS_SERVICE, operation, mutates, region });
  }
}

// Input builders: the single source of what a mutating call sends, shared by plan and run.

export function failoverClusterInput(params: FailoverClusterParams): FailoverDBClusterCommandInput {
  const input: FailoverDBClusterCommandInput = { DBClusterIdentifier: params.clusterIdentifier };
  if (params.targetInstance) input.TargetDBInstanceIdentifier = params.targetInstance;
  return input;
}

export function rebootWithFailoverInput(instanceIdentifier: string): RebootDBInstanceCommandInput {
  return { DBInstanceIdentifier: instanceIdentifier, ForceFailover: true };
}

function plan(target: AwsTarget, operation: string, input: object): PlannedCall {
  return { service: RDS_SERVICE, operation, input: { ...input } as Record<string, unknown>, region: resolveTarget(target).region };
}

function receipt(out: { $metadata?: { requestId?: string } }): MutationReceipt {
  return { requestId: out.$metadata?.requestId ?? null };
}

function notFound(operation: string, awsCode: string, message: string): AwsStepError {
  return new AwsStepError('AWS_NOT_FOUND', message, { service: RDS_SERVICE, operation, awsCode, requestId: null, httpStatus: null });
}

function toCluster(c: DBCluster): RdsCluster {
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

function toInstance(i: DBInstance): RdsInstance {
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
