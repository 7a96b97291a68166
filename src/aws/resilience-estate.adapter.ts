import { Injectable } from '@nestjs/common';
import {
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
  paginateDescribeDBSnapshots,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import type { AwsCallContext } from './aws-call.types';
import { AwsCallerService, type AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import type { CallTally } from './call-tally';
import { rdsCalls } from './rds-common';

/** A database as the resilience posture reads it: its configuration and recovery facts, straight from Describe. */
export interface RdsPostureSubject {
  kind: 'instance' | 'cluster';
  identifier: string;
  arn: string;
  tags: Record<string, string>;
  multiAz: boolean | null;
  encrypted: boolean | null;
  deletionProtection: boolean | null;
  backupRetentionDays: number | null;
  latestRestorableTime: string | null;
  earliestRestorableTime: string | null;
  /** The cluster an instance belongs to (its backups are the cluster's); null otherwise. */
  clusterIdentifier: string | null;
}

/** An available snapshot: whose, and when. */
export interface RdsSnapshotSummary {
  kind: 'instance' | 'cluster';
  /** The instance or cluster it was taken of (a cross-region copy keeps the source's). */
  sourceIdentifier: string;
  identifier: string;
  createdAt: string;
  type: string;
}

/** The IAM actions posture needs to read RDS. */
export const RDS_POSTURE_ACTIONS = ['rds:DescribeDBInstances', 'rds:DescribeDBClusters', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots'] as const;

/**
 * Everything posture needs from RDS in one region and account, in four paginated list calls
 * (100 per page): never one call per database, so 2,000 databases cost about 80 calls, not 4,000.
 */
@Injectable()
export class ResilienceEstateAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = rdsCalls(clients, caller);
  }

  async subjects(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsPostureSubject[]> {
    const out: RdsPostureSubject[] = [];
    for await (const page of paginateDescribeDBInstances(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBInstances', tally), { MaxRecords: 100 })) {
      for (const i of page.DBInstances ?? []) {
        if (!i.DBInstanceIdentifier || !i.DBInstanceArn) continue;
        out.push({
          kind: 'instance',
          identifier: i.DBInstanceIdentifier,
          arn: i.DBInstanceArn,
          tags: tagMap(i.TagList),
          multiAz: i.MultiAZ ?? null,
          encrypted: i.StorageEncrypted ?? null,
          deletionProtection: i.DeletionProtection ?? null,
          backupRetentionDays: i.BackupRetentionPeriod ?? null,
          latestRestorableTime: iso(i.LatestRestorableTime),
          earliestRestorableTime: null,
          clusterIdentifier: i.DBClusterIdentifier ?? null,
        });
      }
    }
    for await (const page of paginateDescribeDBClusters(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBClusters', tally), { MaxRecords: 100 })) {
      for (const c of page.DBClusters ?? []) {
        if (!c.DBClusterIdentifier || !c.DBClusterArn) continue;
        out.push({
          kind: 'cluster',
          identifier: c.DBClusterIdentifier,
          arn: c.DBClusterArn,
          tags: tagMap(c.TagList),
          multiAz: c.MultiAZ ?? null,
          encrypted: c.StorageEncrypted ?? null,
          deletionProtection: c.DeletionProtection ?? null,
          backupRetentionDays: c.BackupRetentionPeriod ?? null,
          latestRestorableTime: iso(c.LatestRestorableTime),
          earliestRestorableTime: iso(c.EarliestRestorableTime),
          clusterIdentifier: null,
        });
      }
    }
    return out;
  }

  /** Available snapshots of the region, automated and manual, of instances and clusters. */
  async snapshots(ctx: AwsCallContext, target: AwsTarget, tally?: CallTally): Promise<RdsSnapshotSummary[]> {
    const out: RdsSnapshotSummary[] = [];
    for await (const page of paginateDescribeDBSnapshots(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBSnapshots', tally), { MaxRecords: 100 })) {
      for (const s of page.DBSnapshots ?? []) {
        const at = iso(s.SnapshotCreateTime);
        if (!at || !s.DBInstanceIdentifier || !s.DBSnapshotIdentifier || (s.Status && s.Status !== 'available')) continue;
        out.push({ kind: 'instance', sourceIdentifier: s.DBInstanceIdentifier, identifier: s.DBSnapshotIdentifier, createdAt: at, type: s.SnapshotType ?? '' });
      }
    }
    for await (const page of paginateDescribeDBClusterSnapshots(this.calls.paging<RDSClient>(ctx, target, 'DescribeDBClusterSnapshots', tally), {
      MaxRecords: 100,
    })) {
      for (const s of page.DBClusterSnapshots ?? []) {
        const at = iso(s.SnapshotCreateTime);
        if (!at || !s.DBClusterIdentifier || !s.DBClusterSnapshotIdentifier || (s.Status && s.Status !== 'available')) continue;
        out.push({
          kind: 'cluster',
          sourceIdentifier: s.DBClusterIdentifier,
          identifier: s.DBClusterSnapshotIdentifier,
          createdAt: at,
          type: s.SnapshotType ?? '',
        });
      }
    }
    return out;
  }
}

function tagMap(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}

function iso(d: Date | string | undefined): string | null {
  if (!d) return null;
  const t = d instanceof Date ? d : new Date(d);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}
