import { Injectable } from '@nestjs/common';
import {
  DeleteDBClusterCommand,
  DeleteDBClusterSnapshotCommand,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  paginateDescribeDBClusters,
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBInstances,
  paginateDescribeDBSnapshots,
  type RDSClient,
} from '@aws-sdk/client-rds';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, AwsSdkCommand, AwsServiceCalls } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import { rdsCalls } from './rds-common';
import { EXPIRES_AT_TAG, RUN_ID_TAG, RUNBOOK_TAG } from './resource-tags';

/** A resource carrying runbookd's tags, as the janitor sees it. */
export interface TaggedResource {
  type: string;
  identifier: string;
  region: string;
  arn?: string;
  runId: string;
  runbookId?: string;
  expiresAt: string;
  status?: string;
}

type Tags = Array<{ Key?: string; Value?: string }> | undefined;

/**
 * One kind of resource runs leave behind: how to list it (with tags) and how to delete it for
 * good. Adding a kind (ECS task sets, Backup restore jobs' resources) is one more entry.
 */
interface LeftoverKind {
  type: string;
  list(calls: AwsServiceCalls, ctx: AwsCallContext, target: AwsTarget): Promise<Array<{ identifier: string; arn?: string; tags: Tags; status?: string }>>;
  deletion(identifier: string): { operation: string; input: Record<string, unknown>; command: (input: Record<string, unknown>) => AwsSdkCommand };
}

/** Every item of every page. */
async function listed<P, T>(pages: AsyncIterable<P>, items: (page: P) => T[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(items(page) ?? []));
  return out;
}

const KINDS: LeftoverKind[] = [
  {
    type: 'rds:db-instance',
    list: (calls, ctx, target) =>
      listed(paginateDescribeDBInstances(calls.paging<RDSClient>(ctx, target, 'DescribeDBInstances'), { MaxRecords: 100 }), (r) =>
        r.DBInstances?.map((i) => ({ identifier: i.DBInstanceIdentifier!, arn: i.DBInstanceArn, tags: i.TagList, status: i.DBInstanceStatus })),
      ),
    // No final snapshot: what a run made for a drill is not worth keeping once it has expired.
    deletion: (id) => ({
      operation: 'DeleteDBInstance',
      input: { DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true },
      command: (i) => new DeleteDBInstanceCommand(i as any),
    }),
  },
  {
    type: 'rds:cluster',
    list: (calls, ctx, target) =>
      listed(paginateDescribeDBClusters(calls.paging<RDSClient>(ctx, target, 'DescribeDBClusters'), { MaxRecords: 100 }), (r) =>
        r.DBClusters?.map((c) => ({ identifier: c.DBClusterIdentifier!, arn: c.DBClusterArn, tags: c.TagList, status: c.Status })),
      ),
    deletion: (id) => ({
      operation: 'DeleteDBCluster',
      input: { DBClusterIdentifier: id, SkipFinalSnapshot: true },
      command: (i) => new DeleteDBClusterCommand(i as any),
    }),
  },
  {
    type: 'rds:snapshot',
    list: (calls, ctx, target) =>
      listed(paginateDescribeDBSnapshots(calls.paging<RDSClient>(ctx, target, 'DescribeDBSnapshots'), { SnapshotType: 'manual', MaxRecords: 100 }), (r) =>
        r.DBSnapshots?.map((x) => ({ identifier: x.DBSnapshotIdentifier!, arn: x.DBSnapshotArn, tags: x.TagList, status: x.Status })),
      ),
    deletion: (id) => ({ operation: 'DeleteDBSnapshot', input: { DBSnapshotIdentifier: id }, command: (i) => new DeleteDBSnapshotCommand(i as any) }),
  },
  {
    type: 'rds:cluster-snapshot',
    list: (calls, ctx, target) =>
      listed(
        paginateDescribeDBClusterSnapshots(calls.paging<RDSClient>(ctx, target, 'DescribeDBClusterSnapshots'), { SnapshotType: 'manual', MaxRecords: 100 }),
        (r) =>
          r.DBClusterSnapshots?.map((x) => ({ identifier: x.DBClusterSnapshotIdentifier!, arn: x.DBClusterSnapshotArn, tags: x.TagList, status: x.Status })),
      ),
    deletion: (id) => ({
      operation: 'DeleteDBClusterSnapshot',
      input: { DBClusterSnapshotIdentifier: id },
      command: (i) => new DeleteDBClusterSnapshotCommand(i as any),
    }),
  },
];

/** Deletion order: instances before their clusters (RDS refuses a cluster with members), snapshots last. */
export const LEFTOVER_TYPES = KINDS.map((k) => k.type);

/** IAM actions the janitor needs, per kind: its listing and its deletion. */
export const LEFTOVER_IAM_ACTIONS = {
  list: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters', 'rds:DescribeDBSnapshots', 'rds:DescribeDBClusterSnapshots'],
  delete: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster', 'rds:DeleteDBSnapshot', 'rds:DeleteDBClusterSnapshot'],
} as const;

@Injectable()
export class RdsLeftoversAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(caller: AwsCallerService, factory: AwsClientFactory) {
    this.calls = rdsCalls(factory, caller);
  }

  /** Every resource of every kind in the region that carries runbookd's run id and expiry tags. */
  async listTagged(ctx: AwsCallContext, region: string): Promise<TaggedResource[]> {
    const out: TaggedResource[] = [];
    for (const kind of KINDS) {
      for (const r of await kind.list(this.calls, ctx, region)) {
        const tag = (k: string) => (r.tags ?? []).find((t) => t.Key === k)?.Value;
        const runId = tag(RUN_ID_TAG);
        const expiresAt = tag(EXPIRES_AT_TAG);
        // Without both tags it is not runbookd's to judge.
        if (!runId || !expiresAt) continue;
        out.push({ type: kind.type, identifier: r.identifier, region, arn: r.arn, runId, runbookId: tag(RUNBOOK_TAG), expiresAt, status: r.status });
      }
    }
    return out;
  }

  planDelete(r: Pick<TaggedResource, 'type' | 'identifier' | 'region'>): PlannedCall {
    const d = this.kind(r.type).deletion(r.identifier);
    return this.calls.plan(r.region, d.operation, d.input);
  }

  async delete(ctx: AwsCallContext, r: Pick<TaggedResource, 'type' | 'identifier' | 'region'>): Promise<void> {
    const d = this.kind(r.type).deletion(r.identifier);
    await this.calls.mutate(ctx, r.region, d.operation, d.command(d.input));
  }

  private kind(type: string): LeftoverKind {
    const k = KINDS.find((x) => x.type === type);
    if (!k) throw new Error(`no leftover kind ${type}`);
    return k;
  }
}
