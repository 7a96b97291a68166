import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { runResourceTags } from '../../aws/resource-tags';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { observeRestored, restoredRefProperties, type RestoredRef } from './restored-resource';

interface Output extends Record<string, unknown> {
  tagged: string[];
}

/**
 * Tags a restored copy with its run (`runbookd:run-id`, `runbookd:runbook`, `runbookd:expires-at`)
 * when whatever restored it could not: AWS Backup's StartRestoreJob takes no tags. Tagging again
 * with the same values changes nothing, so a repeat is harmless.
 */
@Injectable()
export class TagRestoredStep implements StepType<RestoredRef, Output> {
  readonly uses = 'rds.tag-restored';
  readonly description = 'Tags a restored instance or cluster with the run that made it';
  readonly mutates = true;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS, 'rds:AddTagsToResource'];
  readonly input = { type: 'object', additionalProperties: false, required: ['kind', 'identifier'], properties: restoredRefProperties };
  readonly outputs = ['tagged'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
  ) {}

  async plan(input: RestoredRef, ctx: StepContext): Promise<PlannedCall[]> {
    const target = targetOf(input, this.config);
    // A dry run restored nothing, so there is no ARN yet: the plan names the resource instead.
    const names =
      input.kind === 'cluster'
        ? [`cluster ${input.identifier}`, `instance ${input.instanceIdentifier ?? `${input.identifier}-1`}`]
        : [`instance ${input.identifier}`];
    return names.map((n) => this.rds.planAddTags(target, `(ARN of the restored ${n})`, runResourceTags(ctx)));
  }

  async run(input: RestoredRef, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const now = await observeRestored(this.rds, ctx.aws, target, input);
    if (!now.exists || !now.arn) throw new EngineError('PRECONDITION_FAILED', `${input.kind} ${input.identifier} does not exist: nothing to tag`);
    // The instance under the cluster's `<id>-1` name is tagged only as a member of this cluster:
    // tagging a stranger's standalone instance would make it look like this run's, and cleanup
    // would then delete it.
    const member = input.kind === 'cluster' && now.instanceArn && now.instanceClusterId === input.identifier;
    const arns = [now.arn, ...(member ? [now.instanceArn!] : [])];
    for (const arn of arns) await this.rds.addTags(ctx.aws, target, arn, runResourceTags(ctx));
    return done<Output>({ tagged: arns });
  }

  summarize(o: Output): string {
    return `tagged ${o.tagged.join(', ')}`;
  }
}
