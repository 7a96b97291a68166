import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { runResourceTags } from '../../aws/resource-tags';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';
import { RDS_IDENTIFIER } from './restore-source';
import { createRestoredResource, isolationProperties, type CreateSpec, type IsolationInput } from './restore-create';
import { instanceIdOf, resourceRecords, type ResourceRecord, type RestoreKind } from './restored-resource';

interface Input extends IsolationInput {
  kind: RestoreKind;
  sourceIdentifier: string;
  identifier: string;
  instanceIdentifier?: string;
  /** The source's region. */
  region?: string;
  roleArn?: string;
  /** Restore here instead, from automated backups replicated to it (`sourceAutomatedBackupsArn`). */
  targetRegion?: string;
  sourceAutomatedBackupsArn?: string;
  restoreTime?: string;
  useLatestRestorableTime?: boolean;
  /** The source's engine (a restored cluster's instance needs it). */
  engine?: string;
}

interface Output extends Record<string, unknown> {
  kind: RestoreKind;
  identifier: string;
  instanceIdentifier: string;
  region: string;
  requestedAt: string;
  requestedAtMs: number;
  resumed: boolean;
  resources: ResourceRecord[];
}

/**
 * RestoreDBInstanceToPointInTime / RestoreDBClusterToPointInTime into a copy that is not
 * publicly accessible, in the given network, tagged with the run; in the DR region from the
 * replicated automated backups. Look before act, like every create of a run.
 */
@Injectable()
export class RestoreToPointInTimeStep implements StepType<Input, Output> {
  readonly uses = 'rds.restore-to-point-in-time';
  readonly description = 'Restores an instance or cluster to a point in time (optionally in the DR region)';
  readonly mutates = true;
  // Tags are passed on create, which IAM authorises as rds:AddTagsToResource too.
  readonly iamActions = [
    ...RDS_READ_SUBJECT_ACTIONS,
    'rds:RestoreDBInstanceToPointInTime',
    'rds:RestoreDBClusterToPointInTime',
    'rds:RestoreDBInstanceFromDBSnapshot',
    'rds:RestoreDBClusterFromSnapshot',
    'rds:CreateDBInstance',
    'rds:AddTagsToResource',
  ];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'sourceIdentifier', 'identifier'],
    properties: {
      kind: { enum: ['instance', 'cluster'] },
      sourceIdentifier: { type: 'string', minLength: 1 },
      identifier: RDS_IDENTIFIER,
      instanceIdentifier: RDS_IDENTIFIER,
      ...TARGET_PROPERTIES,
      targetRegion: { type: 'string' },
      sourceAutomatedBackupsArn: { type: 'string', minLength: 1 },
      restoreTime: { type: 'string', format: 'date-time' },
      useLatestRestorableTime: { type: 'boolean' },
      engine: { type: 'string' },
      ...isolationProperties,
    },
    oneOf: [{ required: ['restoreTime'] }, { required: ['useLatestRestorableTime'] }],
  };
  readonly outputs = ['kind', 'identifier', 'instanceIdentifier', 'region', 'requestedAt', 'requestedAtMs', 'resumed', 'resources'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async plan(input: Input, ctx: StepContext): Promise<PlannedCall[]> {
    return createRestoredResource.plan(this.rds, this.target(input), this.spec(input, ctx));
  }

  async run(input: Input, ctx: StepContext) {
    const target = this.target(input);
    const earlier = typeof ctx.memory.requestedAtMs === 'number' ? ctx.memory.requestedAtMs : null;
    const requestedAtMs = earlier ?? this.clock.nowMs();
    const resumed = await createRestoredResource.run(this.rds, ctx, target, this.spec(input, ctx), requestedAtMs);
    return done<Output>({
      kind: input.kind,
      identifier: input.identifier,
      instanceIdentifier: instanceIdOf(input),
      region: target.region,
      requestedAt: new Date(requestedAtMs).toISOString(),
      requestedAtMs,
      resumed,
      resources: resourceRecords(input, target.region, 'creating', { createdByStepId: ctx.stepId }),
    });
  }

  private target(input: Input) {
    const source = targetOf(input, this.config);
    return input.targetRegion ? { ...source, region: input.targetRegion } : source;
  }

  private spec(input: Input, ctx: StepContext): CreateSpec {
    const crossRegion = !!input.sourceAutomatedBackupsArn && input.kind === 'instance';
    return {
      kind: input.kind,
      identifier: input.identifier,
      instanceIdentifier: instanceIdOf(input),
      engine: input.engine,
      isolation: input,
      tags: runResourceTags(ctx),
      create: {
        from: 'point-in-time',
        sourceIdentifier: input.sourceIdentifier,
        ...(crossRegion ? { sourceAutomatedBackupsArn: input.sourceAutomatedBackupsArn } : {}),
        ...(input.useLatestRestorableTime ? { useLatestRestorableTime: true } : { restoreTime: input.restoreTime }),
      },
    };
  }

  summarize(o: Output): string {
    return o.resumed
      ? `${o.kind} ${o.identifier} had already been requested; not repeated`
      : `restore of ${o.kind} ${o.identifier} in ${o.region} started at ${o.requestedAt}`;
  }
}
