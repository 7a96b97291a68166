import { Injectable } from '@nestjs/common';
import {
  FailoverDBClusterCommand,
  paginateDescribeEvents,
  RebootDBInstanceCommand,
  type RDSClient,
  type FailoverDBClusterCommandInput,
  type FailoverDBClusterCommandOutput,
  type RebootDBInstanceCommandInput,
  type RebootDBInstanceCommandOutput,
} from '@aws-sdk/client-rds';
import { accountOfArn, tagMap, type TargetFacts } from './target-facts';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, firstPages, type AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';
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

/** Event pages to read before giving up; 100 events each is more than a failover produces. */
const MAX_EVENT_PAGES = 20;

/**
 * RDS failover as the steps need it: who the writer is, the failover calls, and the events that
 * say when it happened. Small typed calls returning plain objects, never SDK shapes; every
 * mutating call has a pure `planX` built from the same input function as `x`, so what a dry run
 * shows is exactly what a real run sends.
 */
@Injectable()
export class RdsFailoverAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = rdsCalls(clients, caller);
  }

  async describeCluster(ctx: AwsCallContext, target: AwsTarget, clusterIdentifier: string): Promise<RdsCluster> {
    return toCluster(await describeDbCluster(this.calls, ctx, target, clusterIdentifier));
  }

  async describeInstance(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<RdsInstance> {
    return toInstance(await describeDbInstance(this.calls, ctx, target, instanceIdentifier));
  }

  /** The cluster's or instance's own account (from its ARN) and tags, for the approval rules. */
  async facts(ctx: AwsCallContext, target: AwsTarget, kind: 'cluster' | 'instance', identifier: string): Promise<TargetFacts> {
    if (kind === 'cluster') {
      const c = await describeDbCluster(this.calls, ctx, target, identifier);
      const arn = c.DBClusterArn ?? null;
      return { type: 'rds:cluster', identifier, arn, account: accountOfArn(arn), region: resolveTarget(target).region, tags: tagMap(c.TagList) };
    }
    const i = await describeDbInstance(this.calls, ctx, target, identifier);
    const arn = i.DBInstanceArn ?? null;
    return { type: 'rds:db', identifier, arn, account: accountOfArn(arn), region: resolveTarget(target).region, tags: tagMap(i.TagList) };
  }

  /** Events of one cluster or instance since a moment, oldest first. */
  async describeRecentEvents(ctx: AwsCallContext, target: AwsTarget, query: RecentEventsQuery): Promise<RdsEvent[]> {
    const events: RdsEvent[] = [];
    const input = { SourceType: query.sourceType, SourceIdentifier: query.sourceId, StartTime: query.since, MaxRecords: 100 };
    for await (const out of firstPages(MAX_EVENT_PAGES, paginateDescribeEvents(this.calls.paging<RDSClient>(ctx, target, 'DescribeEvents'), input))) {
      for (const e of out.Events ?? []) {
        // Filtered here as well: StartTime is not honoured by every endpoint (moto ignores it).
        if (!e.Date || e.Date.getTime() < query.since.getTime()) continue;
        events.push({ at: e.Date.toISOString(), message: e.Message ?? '', categories: e.EventCategories ?? [] });
      }
    }
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  planFailoverCluster(target: AwsTarget, params: FailoverClusterParams): PlannedCall {
    return this.calls.plan(target, 'FailoverDBCluster', failoverClusterInput(params));
  }

  async failoverCluster(ctx: AwsCallContext, target: AwsTarget, params: FailoverClusterParams): Promise<MutationReceipt> {
    const out = await this.calls.mutate<FailoverDBClusterCommandOutput>(
      ctx,
      target,
      'FailoverDBCluster',
      new FailoverDBClusterCommand(failoverClusterInput(params)),
    );
    return receipt(out);
  }

  planRebootWithFailover(target: AwsTarget, instanceIdentifier: string): PlannedCall {
    return this.calls.plan(target, 'RebootDBInstance', rebootWithFailoverInput(instanceIdentifier));
  }

  /** Multi-AZ instance failover: a reboot that forces the standby to take over. */
  async rebootWithFailover(ctx: AwsCallContext, target: AwsTarget, instanceIdentifier: string): Promise<MutationReceipt> {
    const out = await this.calls.mutate<RebootDBInstanceCommandOutput>(
      ctx,
      target,
      'RebootDBInstance',
      new RebootDBInstanceCommand(rebootWithFailoverInput(instanceIdentifier)),
    );
    return receipt(out);
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
