import type { AwsCallContext } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { TARGET_PROPERTIES } from '../aws-target';
import { restoreNames, type RestoreKind } from './restored-resource';

/** The database a restore test or point-in-time restore starts from, as later steps compare against it. */
export interface SourceFacts extends Record<string, unknown> {
  kind: RestoreKind;
  identifier: string;
  region: string;
  arn: string;
  status: string;
  engine: string;
  engineVersion: string;
  allocatedStorage: number | null;
  storageEncrypted: boolean;
  kmsKeyId: string | null;
  backupRetentionPeriod: number | null;
  instanceClass: string | null;
  latestRestorableTime: string | null;
  /** Where the restore goes: the given target name, or one derived from the run id. */
  restoreIdentifier: string;
  restoreInstanceIdentifier: string;
}

export const SOURCE_OUTPUTS = [
  'kind',
  'identifier',
  'region',
  'arn',
  'status',
  'engine',
  'engineVersion',
  'allocatedStorage',
  'storageEncrypted',
  'kmsKeyId',
  'backupRetentionPeriod',
  'instanceClass',
  'latestRestorableTime',
  'restoreIdentifier',
  'restoreInstanceIdentifier',
] as const;

export interface SourceInput {
  clusterIdentifier?: string;
  dbInstanceIdentifier?: string;
  region?: string;
  roleArn?: string;
  targetIdentifier?: string;
}

/** RDS identifier rules: a letter first, letters, digits and single hyphens, at most 63. */
export const RDS_IDENTIFIER = { type: 'string', pattern: '^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$' } as const;

export const sourceInputProperties = {
  clusterIdentifier: { type: 'string', minLength: 1 },
  dbInstanceIdentifier: { type: 'string', minLength: 1 },
  ...TARGET_PROPERTIES,
  targetIdentifier: RDS_IDENTIFIER,
} as const;

export async function describeSource(
  rds: RdsRestoreAdapter,
  ctx: AwsCallContext,
  target: AwsTarget & { region: string },
  input: SourceInput,
): Promise<SourceFacts> {
  const region = target.region;
  if (input.clusterIdentifier) {
    const c = await rds.describeClusterDetail(ctx, target, input.clusterIdentifier);
    const names = restoreNames(ctx.runId, 'cluster', input.targetIdentifier);
    return {
      kind: 'cluster',
      identifier: c.identifier,
      region,
      arn: c.arn,
      status: c.status,
      engine: c.engine,
      engineVersion: c.engineVersion,
      allocatedStorage: c.allocatedStorage,
      storageEncrypted: c.storageEncrypted,
      kmsKeyId: c.kmsKeyId,
      backupRetentionPeriod: c.backupRetentionPeriod,
      instanceClass: null,
      latestRestorableTime: c.latestRestorableTime,
      restoreIdentifier: names.identifier,
      restoreInstanceIdentifier: names.instanceIdentifier,
    };
  }
  const i = await rds.describeInstanceDetail(ctx, target, input.dbInstanceIdentifier!);
  const names = restoreNames(ctx.runId, 'instance', input.targetIdentifier);
  return {
    kind: 'instance',
    identifier: i.identifier,
    region,
    arn: i.arn,
    status: i.status,
    engine: i.engine,
    engineVersion: i.engineVersion,
    allocatedStorage: i.allocatedStorage,
    storageEncrypted: i.storageEncrypted,
    kmsKeyId: i.kmsKeyId,
    backupRetentionPeriod: i.backupRetentionPeriod,
    instanceClass: i.instanceClass,
    latestRestorableTime: i.latestRestorableTime,
    restoreIdentifier: names.identifier,
    restoreInstanceIdentifier: names.instanceIdentifier,
  };
}
