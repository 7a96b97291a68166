import { Injectable } from '@nestjs/common';
import type { AwsCallContext } from '../../aws/aws-call.types';
import { EcsAdapter, familyOf, revisionOf } from '../../aws/ecs.adapter';
import { AwsStepError } from '../../aws/aws.error';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { EcsSubject, ecsSubjectProperties, Figure, KNOWN_GOOD_TAG } from './ecs-subject';

interface Input extends EcsSubject {
  /** Rule 1: an explicit target wins. */
  taskDefinition?: string;
  /** How many of the family's newest revisions to look at for the known-good tag. */
  knownGoodLookback?: number;
}

export type RollbackRule = 'explicit' | 'deployment-history' | 'known-good-tag' | 'previous-revision';

interface Considered extends Record<string, unknown> {
  rule: RollbackRule;
  result: string;
}

interface Output extends Record<string, unknown> {
  currentTaskDefinition: string;
  targetTaskDefinition: string;
  rule: RollbackRule;
  ruleDetail: string;
  /** False when the service already runs the target: the rollback is a recorded no-op. */
  changeNeeded: boolean;
  considered: Considered[];
  figures: Figure[];
}

const RULE_LABEL: Record<RollbackRule, string> = {
  explicit: '1 explicit taskDefinition parameter',
  'deployment-history': '2 newest completed deployment with another task definition',
  'known-good-tag': `3 newest revision tagged ${KNOWN_GOOD_TAG}`,
  'previous-revision': '4 previous ACTIVE revision of the family',
};

/**
 * Decides what to roll back to, by the first rule that gives an answer, and records which rule
 * decided and what the others said: (1) the explicit parameter; (2) ECS deployment history, the
 * newest successful deployment whose target differs from now; (3) the newest revision runbookd
 * tagged known-good; (4) the previous ACTIVE revision of the family.
 */
@Injectable()
export class ResolveRollbackTargetStep implements StepType<Input, Output> {
  readonly uses = 'ecs.resolve-rollback-target';
  readonly description = 'Finds the last known good task definition of an ECS service and says which rule chose it';
  readonly mutates = false;
  readonly iamActions = [
    'ecs:DescribeServices',
    'ecs:DescribeTaskDefinition',
    'ecs:ListServiceDeployments',
    'ecs:ListTaskDefinitions',
    'ecs:DescribeServiceRevisions',
    'ecs:ListTagsForResource',
  ];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['cluster', 'service'],
    properties: {
      ...ecsSubjectProperties,
      taskDefinition: { type: 'string', minLength: 1 },
      knownGoodLookback: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    },
  };
  readonly outputs = ['currentTaskDefinition', 'targetTaskDefinition', 'rule', 'ruleDetail', 'changeNeeded', 'considered', 'figures'];

  constructor(
    private readonly ecs: EcsAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const { services, missing } = await this.ecs.describeServices(ctx.aws, target, input.cluster, [input.service]);
    const service = services[0];
    if (!service || missing.length > 0 || service.status === 'INACTIVE') {
      throw new EngineError('PRECONDITION_FAILED', `ECS service ${input.service} not found in cluster ${input.cluster} (${target.region})`, {
        cluster: input.cluster,
        service: input.service,
      });
    }
    const current = service.taskDefinition;
    const considered: Considered[] = [];
    const decide = (rule: RollbackRule, targetTd: string, detail: string) =>
      done<Output>({
        currentTaskDefinition: current,
        targetTaskDefinition: targetTd,
        rule,
        ruleDetail: detail,
        changeNeeded: targetTd !== current,
        considered: [...considered, { rule, result: `chose ${targetTd}` }],
        figures: [
          { id: 'from-task-definition', label: 'From task definition', value: shortName(current) },
          { id: 'to-task-definition', label: 'To task definition', value: shortName(targetTd) },
          { id: 'deciding-rule', label: 'Deciding rule', value: RULE_LABEL[rule] },
        ],
      });

    if (input.taskDefinition) {
      const td = await this.ecs.describeTaskDefinition(ctx.aws, target, input.taskDefinition);
      return decide('explicit', td.arn, `given as ${input.taskDefinition}`);
    }
    considered.push({ rule: 'explicit', result: 'no taskDefinition parameter' });

    const fromHistory = await this.fromDeploymentHistory(ctx.aws, target, input, current, considered);
    if (fromHistory) return decide('deployment-history', fromHistory.td, fromHistory.detail);

    const family = familyOf(current);
    const revisions = await this.ecs.listTaskDefinitions(ctx.aws, target, family, 'ACTIVE');
    const others = revisions.filter((a) => a !== current);
    for (const arn of others.slice(0, input.knownGoodLookback ?? 20)) {
      const tags = await this.ecs.tagsOf(ctx.aws, target, arn);
      if (tags[KNOWN_GOOD_TAG]) return decide('known-good-tag', arn, `tagged ${KNOWN_GOOD_TAG}=${tags[KNOWN_GOOD_TAG]}`);
    }
    considered.push({
      rule: 'known-good-tag',
      result: `none of the ${Math.min(others.length, input.knownGoodLookback ?? 20)} newest other revisions is tagged`,
    });

    const currentRevision = revisionOf(current);
    const previous = others.find((a) => revisionOf(a) < currentRevision);
    if (previous) return decide('previous-revision', previous, `revision ${revisionOf(previous)} is the newest ACTIVE one before ${currentRevision}`);
    considered.push({ rule: 'previous-revision', result: `no ACTIVE revision of ${family} before ${currentRevision}` });
    throw new EngineError(
      'PRECONDITION_FAILED',
      `no task definition to roll ${input.service} back to: ${considered.map((c) => `${c.rule}: ${c.result}`).join('; ')}`,
      { considered },
    );
  }

  private async fromDeploymentHistory(
    ctx: AwsCallContext,
    target: { region: string; roleArn?: string },
    input: Input,
    current: string,
    considered: Considered[],
  ): Promise<{ td: string; detail: string } | null> {
    let deployments;
    try {
      deployments = await this.ecs.listServiceDeployments(ctx, target, input.cluster, input.service);
    } catch (err) {
      // History is one source among four, and a rollback should not wait on it: an ECS without it
      // (the sandbox, a partition that lacks the API) or a failing call falls through to the next rule.
      if (err instanceof AwsStepError) {
        considered.push({ rule: 'deployment-history', result: `unavailable (${err.details.awsCode ?? err.code})` });
        return null;
      }
      throw err;
    }
    const completed = deployments.filter((d) => d.status === 'SUCCESSFUL' && d.targetServiceRevisionArn);
    if (completed.length > 0) {
      const tds = await this.ecs.serviceRevisionTaskDefinitions(
        ctx,
        target,
        completed.map((d) => d.targetServiceRevisionArn!),
      );
      for (const d of completed) {
        const td = tds.get(d.targetServiceRevisionArn!);
        if (td && td !== current) return { td, detail: `deployment ${d.arn.split('/').pop()} completed ${d.finishedAt ?? d.createdAt ?? ''}`.trim() };
      }
    }
    considered.push({ rule: 'deployment-history', result: `${deployments.length} deployment(s), none completed with another task definition` });
    return null;
  }

  summarize(o: Output): string {
    return o.changeNeeded
      ? `${shortName(o.currentTaskDefinition)} → ${shortName(o.targetTaskDefinition)} (rule ${o.rule})`
      : `already on ${shortName(o.targetTaskDefinition)} (rule ${o.rule}): nothing to roll back`;
  }
}

export function shortName(td: string): string {
  return td.split('/').pop() ?? td;
}
