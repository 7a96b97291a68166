import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { AlarmReaderService } from '../../aws/alarm-reader.service';
import { EcsAdapter } from '../../aws/ecs.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType, wait } from '../step.contract';
import { targetOf } from '../aws-target';
import { shortName } from './resolve-rollback-target.step';
import { EcsSubject, ecsSubjectProperties, KNOWN_GOOD_TAG } from './ecs-subject';

interface Input extends EcsSubject {
  /** The revision to vouch for; by default the one the service runs when the bake starts. */
  taskDefinition?: string;
  /** How long the service must stay on the task definition with its alarms OK first. */
  bakeSeconds?: number;
  alarmNames?: string[];
}

interface Output extends Record<string, unknown> {
  taskDefinition: string;
  tagged: boolean;
  reason: string;
  taggedAt: string | null;
}

/**
 * Tags a task definition revision `runbookd:known-good` once the service has run it for a bake
 * time with its alarms OK — the mark the rollback rule (3) looks for. Not tagging is not a
 * failure: it only means this revision does not earn the mark this time.
 */
@Injectable()
export class MarkKnownGoodStep implements StepType<Input, Output> {
  readonly uses = 'ecs.mark-known-good';
  readonly description = `Tags a task definition ${KNOWN_GOOD_TAG} after a bake time with the service steady and its alarms OK`;
  readonly mutates = true;
  readonly iamActions = ['cloudwatch:DescribeAlarms', 'ecs:DescribeServices', 'ecs:TagResource'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['cluster', 'service'],
    properties: {
      ...ecsSubjectProperties,
      taskDefinition: { type: 'string', minLength: 1 },
      bakeSeconds: { type: 'number', minimum: 0, maximum: 86400, default: 300 },
      alarmNames: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    },
  };
  readonly outputs = ['taskDefinition', 'tagged', 'reason', 'taggedAt'];

  constructor(
    private readonly ecs: EcsAdapter,
    private readonly alarms: AlarmReaderService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async plan(input: Input): Promise<PlannedCall[]> {
    const td = input.taskDefinition ?? '<the task definition the service runs>';
    return [this.ecs.planTagResource(targetOf(input, this.config), td, { [KNOWN_GOOD_TAG]: '<time of tagging>' })];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const bakeMs = (input.bakeSeconds ?? 300) * 1000;
    const observe = async () => {
      const { services } = await this.ecs.describeServices(ctx.aws, target, input.cluster, [input.service]);
      return services[0];
    };
    // Fixed at the first look, so the revision that baked is the one tagged.
    let taskDefinition = input.taskDefinition ?? (typeof ctx.memory.taskDefinition === 'string' ? ctx.memory.taskDefinition : undefined);
    if (!taskDefinition) {
      const first = await observe();
      if (!first) return done<Output>({ taskDefinition: '', tagged: false, reason: `service ${input.service} not found`, taggedAt: null });
      taskDefinition = first.taskDefinition;
    }
    const left = ctx.startedAt.getTime() + bakeMs - this.clock.nowMs();
    if (left > 0) return wait<Output>(left / 1000, { taskDefinition }, `baking ${shortName(taskDefinition)} for ${Math.ceil(left / 1000)}s more`);

    const s = await observe();
    const td = taskDefinition;
    const notYet = (reason: string) => done<Output>({ taskDefinition: td, tagged: false, reason, taggedAt: null });
    if (!s || s.taskDefinition !== td) return notYet(`the service no longer runs ${shortName(td)}`);
    if (s.deployments.length > 1 || s.runningCount !== s.desiredCount) return notYet(`the service is not steady (${s.runningCount}/${s.desiredCount} running)`);
    const names = input.alarmNames ?? [];
    if (names.length > 0) {
      const { alarms, missing } = await this.alarms.states(ctx.aws, target, names);
      const bad = alarms.filter((a) => a.state !== 'OK').map((a) => `${a.name} is ${a.state}`);
      if (missing.length > 0 || bad.length > 0) return notYet([...bad, ...missing.map((m) => `${m} does not exist`)].join('; '));
    }
    const taggedAt = this.clock.now().toISOString();
    await this.ecs.tagResource(ctx.aws, target, td, { [KNOWN_GOOD_TAG]: taggedAt, 'runbookd:run-id': ctx.runId });
    return done<Output>({ taskDefinition: td, tagged: true, reason: `steady with alarms OK for ${input.bakeSeconds ?? 300}s`, taggedAt });
  }

  summarize(o: Output): string {
    return o.tagged ? `${shortName(o.taskDefinition)} tagged ${KNOWN_GOOD_TAG} at ${o.taggedAt}` : `${shortName(o.taskDefinition)} not tagged: ${o.reason}`;
  }
}
