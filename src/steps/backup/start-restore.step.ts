import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { BackupAdapter, type StartRestoreJobParams } from '../../aws/backup.adapter';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { runResourceTags } from '../../aws/resource-tags';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType } from '../step.contract';
import { ROLE_ARN_SCHEMA, TARGET_PROPERTIES, targetOf } from '../aws-target';
import { RDS_IDENTIFIER } from '../rds/restore-source';
import { createRestoredResource, isolationProperties, type IsolationInput } from '../rds/restore-create';
import { instanceIdOf, resourceRecords, type ResourceRecord, type RestoreKind } from '../rds/restored-resource';
import type { BackupSource } from './check-restore-point.step';

interface Input extends IsolationInput {
  source: BackupSource;
  kind: RestoreKind;
  /** Snapshot identifier (rds-snapshot) or recovery point ARN (aws-backup). */
  restorePointId: string;
  identifier: string;
  instanceIdentifier?: string;
  region?: string;
  roleArn?: string;
  /** The source's engine: a restored cluster needs it, and so does its instance. */
  engine: string;
  /** The IAM role AWS Backup restores with (aws-backup only). */
  backupRoleArn?: string;
}

interface Output extends Record<string, unknown> {
  source: BackupSource;
  kind: RestoreKind;
  identifier: string;
  instanceIdentifier: string;
  region: string;
  requestedAt: string;
  requestedAtMs: number;
  /** AWS Backup's job id; absent for an RDS snapshot restore. */
  restoreJobId: string | null;
  /**
   * RDS: an earlier attempt had already made the copy and nothing was sent again. AWS Backup: an
   * earlier attempt may have started the job; the repeat carried the same idempotency token.
   */
  resumed: boolean;
  resources: ResourceRecord[];
}

/**
 * Starts the restore test: RestoreDBInstanceFromDBSnapshot / RestoreDBClusterFromSnapshot (plus
 * the cluster's one instance), or an AWS Backup StartRestoreJob. The copy is named from the run
 * id, not publicly accessible, in the given subnet group and security groups, and tagged with
 * the run. Never twice: RDS restores look for the named copy first (after a checkpoint), AWS
 * Backup gets an idempotency token derived from the run.
 */
@Injectable()
export class StartRestoreStep implements StepType<Input, Output> {
  readonly uses = 'backup.start-restore';
  readonly description = 'Restores the newest snapshot or recovery point into an isolated copy named after the run';
  readonly mutates = true;
  // AWS Backup hands its restore role to RDS.
  readonly iamActions = ['backup:StartRestoreJob', 'iam:PassRole'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['source', 'kind', 'restorePointId', 'identifier', 'engine'],
    properties: {
      source: { enum: ['rds-snapshot', 'aws-backup'] },
      kind: { enum: ['instance', 'cluster'] },
      restorePointId: { type: 'string', minLength: 1 },
      identifier: RDS_IDENTIFIER,
      instanceIdentifier: RDS_IDENTIFIER,
      ...TARGET_PROPERTIES,
      engine: { type: 'string', minLength: 1 },
      backupRoleArn: ROLE_ARN_SCHEMA,
      ...isolationProperties,
    },
    if: { properties: { source: { const: 'aws-backup' } } },
    then: { required: ['backupRoleArn'] },
  };
  readonly outputs = ['source', 'kind', 'identifier', 'instanceIdentifier', 'region', 'requestedAt', 'requestedAtMs', 'restoreJobId', 'resumed', 'resources'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly backup: BackupAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async plan(input: Input, ctx: StepContext): Promise<PlannedCall[]> {
    const target = targetOf(input, this.config);
    if (input.source === 'aws-backup') return [this.backup.planStartRestoreJob(target, this.jobParams(input, ctx))];
    return createRestoredResource.plan(this.rds, target, this.spec(input, ctx));
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const ref = { kind: input.kind, identifier: input.identifier, instanceIdentifier: instanceIdOf(input) };
    const earlier = typeof ctx.memory.requestedAtMs === 'number' ? ctx.memory.requestedAtMs : null;
    const requestedAtMs = earlier ?? this.clock.nowMs();
    let restoreJobId: string | null = null;
    let resumed: boolean;
    if (input.source === 'aws-backup') {
      // The token makes AWS Backup answer a repeat with the job it already started.
      await ctx.checkpoint({ requestedAtMs });
      restoreJobId = (await this.backup.startRestoreJob(ctx.aws, target, this.jobParams(input, ctx))).restoreJobId;
      if (!restoreJobId) throw new EngineError('PRECONDITION_FAILED', 'AWS Backup answered StartRestoreJob without a job id');
      resumed = earlier !== null;
    } else {
      resumed = await createRestoredResource.run(this.rds, ctx, target, this.spec(input, ctx), requestedAtMs);
    }
    return done<Output>({
      source: input.source,
      kind: input.kind,
      identifier: input.identifier,
      instanceIdentifier: instanceIdOf(ref),
      region: target.region,
      requestedAt: new Date(requestedAtMs).toISOString(),
      requestedAtMs,
      restoreJobId,
      resumed,
      resources: resourceRecords(ref, target.region, input.source === 'aws-backup' ? 'restore-job-started' : 'creating', { createdByStepId: ctx.stepId }),
    });
  }

  private spec(input: Input, ctx: StepContext) {
    return {
      kind: input.kind,
      identifier: input.identifier,
      instanceIdentifier: instanceIdOf(input),
      engine: input.engine,
      isolation: input,
      tags: runResourceTags(ctx),
      create: { from: 'snapshot' as const, snapshotIdentifier: input.restorePointId },
    };
  }

  private jobParams(input: Input, ctx: StepContext): StartRestoreJobParams {
    const metadata: Record<string, string> =
      input.kind === 'cluster'
        ? { DBClusterIdentifier: input.identifier, Engine: input.engine }
        : {
            DBInstanceIdentifier: input.identifier,
            PubliclyAccessible: 'false',
            MultiAZ: 'false',
            ...(input.instanceClass ? { DBInstanceClass: input.instanceClass } : {}),
          };
    if (input.dbSubnetGroupName) metadata.DBSubnetGroupName = input.dbSubnetGroupName;
    if (input.vpcSecurityGroupIds?.length) metadata.VpcSecurityGroupIds = JSON.stringify(input.vpcSecurityGroupIds);
    return {
      recoveryPointArn: input.restorePointId,
      iamRoleArn: input.backupRoleArn!,
      metadata,
      idempotencyToken: `${ctx.runId}-${ctx.stepId}`,
      resourceType: input.kind === 'cluster' ? 'Aurora' : 'RDS',
    };
  }

  summarize(o: Output): string {
    if (o.restoreJobId) {
      return `AWS Backup restore job ${o.restoreJobId} for ${o.kind} ${o.identifier}${o.resumed ? ' (asked again after a restart: the idempotency token returned the same job)' : ''}`;
    }
    return o.resumed
      ? `restore of ${o.kind} ${o.identifier} had already been started; not repeated`
      : `restore of ${o.kind} ${o.identifier} started at ${o.requestedAt}`;
  }
}
