import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { describeSource, SOURCE_OUTPUTS, sourceInputProperties, type SourceFacts, type SourceInput } from './restore-source';

/** Records what a restore will be compared against, and the name the restored copy will get. */
@Injectable()
export class DescribeRestoreSourceStep implements StepType<SourceInput, SourceFacts> {
  readonly uses = 'rds.describe-restore-source';
  readonly description = 'Describes the instance or cluster to restore from and names the restored copy after the run';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: sourceInputProperties,
    oneOf: [{ required: ['clusterIdentifier'] }, { required: ['dbInstanceIdentifier'] }],
  };
  readonly outputs = [...SOURCE_OUTPUTS];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: SourceInput, ctx: StepContext) {
    return done(await describeSource(this.rds, ctx.aws, targetOf(input, this.config), input));
  }

  summarize(o: SourceFacts): string {
    return `${o.kind} ${o.identifier} (${o.engine} ${o.engineVersion}, ${o.storageEncrypted ? 'encrypted' : 'not encrypted'}); restores as ${o.restoreIdentifier}`;
  }
}
