import type { AwsCallContext } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { RdsAdapter } from '../../aws/rds.adapter';
import type { AppConfig } from '../../config/app.config';

/**
 * What a failover test acts on: an Aurora cluster (the writer is an instance) or a Multi-AZ
 * instance (the "writer" is the primary's availability zone, which a failover moves).
 */
export interface FailoverSubject {
  kind: 'cluster' | 'instance';
  identifier: string;
  region?: string;
  /** An IAM role to assume for this target (another account); the default credentials otherwise. */
  roleArn?: string;
}

export const ROLE_ARN_SCHEMA = { type: 'string', pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/.+$' } as const;

export const subjectProperties = {
  kind: { enum: ['cluster', 'instance'] },
  identifier: { type: 'string', minLength: 1 },
  region: { type: 'string' },
  roleArn: ROLE_ARN_SCHEMA,
} as const;

/** Where the subject's AWS calls go: its region (or the default) and its role, if any. */
export function targetOf(input: { region?: string; roleArn?: string }, config: AppConfig): { region: string; roleArn?: string } {
  return { region: input.region || config.awsRegion, ...(input.roleArn ? { roleArn: input.roleArn } : {}) };
}

export interface WriterObservation {
  status: string;
  /** Cluster: writer instance id. Instance: primary availability zone. */
  writer: string | null;
  members: string[];
}

export async function observeWriter(rds: RdsAdapter, ctx: AwsCallContext, target: AwsTarget, s: FailoverSubject): Promise<WriterObservation> {
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
