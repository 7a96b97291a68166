import { Injectable } from '@nestjs/common';
import { paginateDescribeDBClusters, paginateDescribeDBInstances, type RDSClient } from '@aws-sdk/client-rds';
import type { AwsCallContext } from './aws-call.types';
import { AwsCallerService, type AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import type { CallTally } from './call-tally';
import { rdsCalls } from './rds-common';

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

/** Every RDS instance and cluster of a region, as the capacity report sizes them; read only. */
@Injectable()
export class RdsEstateAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = rdsCalls(clients, caller);
  }

  /** Every DB instance in the region (DescribeDBInstances, 100 per page). */
  async listInstances(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsInstanceSize[]> {
    const out: RdsInstanceSize[] = [];
    for await (const res of paginateDescribeDBInstances(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBInstances', tally), { MaxRecords: 100 })) {
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
    }
    return out;
  }

  /** Every DB cluster in the region with its member instances (DescribeDBClusters, 100 per page). */
  async listClusters(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsClusterSummary[]> {
    const out: RdsClusterSummary[] = [];
    for await (const res of paginateDescribeDBClusters(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBClusters', tally), { MaxRecords: 100 })) {
      for (const c of res.DBClusters ?? []) {
        out.push({
          identifier: c.DBClusterIdentifier ?? '',
          engine: c.Engine ?? '',
          members: (c.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier ?? '').filter(Boolean),
        });
      }
    }
    return out;
  }
}
