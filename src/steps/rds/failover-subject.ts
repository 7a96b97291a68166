import type { AwsCallContext } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import { TARGET_PROPERTIES, type TargetInput } from '../aws-target';

/**
 * What a failover test acts on: an Aurora cluster (the writer is an instance) or a Multi-AZ
 * instance (the "writer" is the primary's availability zone, which a failover moves).
 */
export interface FailoverSubject extends TargetInput {
  kind: 'cluster' | 'instance';
  identifier: string;
}

export const failoverSubjectProperties = {
  kind: { enum: ['cluster', 'instance'] },
  identifier: { type: 'string', minLength: 1 },
  ...TARGET_PROPERTIES,
} as const;

export interface WriterObservation {
  status: string;
  /** Cluster: writer instance id. Instance: primary availability zone. */
  writer: string | null;
  members: string[];
}

export async function observeWriter(rds: RdsFailoverAdapter, ctx: AwsCallContext, target: AwsTarget, s: FailoverSubject): Promise<WriterObservation> {
  if (s.kind === 'cluster') {
    const c = await rds.describeCluster(ctx, target, s.identifier);
    return { status: c.status, writer: c.writer, members: c.members.map((m) => m.instanceId) };
  }
  const i = await rds.describeInstance(ctx, target, s.identifier);
  return { status: i.status, writer: i.availabilityZone, members: [i.availabilityZone, i.secondaryAvailabilityZone].filter((z): z is string => !!z) };
}

/** RDS event messages that say a failover finished (cluster: RDS-EVENT-0071, instance: RDS-EVENT-0049). */
export const FAILOVER_COMPLETED = /failover.*(completed|complete)/i;
/** Any sign that a failover was started. */
export const FAILOVER_STARTED = /failover/i;
