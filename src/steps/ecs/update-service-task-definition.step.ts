import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { EcsAdapter } from '../../aws/ecs.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { shortName } from './resolve-rollback-target.step';
import { EcsSubject, ecsSubjectProperties, Figure, parseTime, secondsBetween } from './ecs-subject';

interface Input extends EcsSubject {
  taskDefinition: string;
  /** For the report: when the alarm changed state and when runbookd heard of it (ISO 8601). */
  alarmStateChangeTime?: string;
  receivedAt?: string;
}

interface Output extends Record<string, unknown> {
  previousTaskDefinition: string;
  taskDefinition: string;
  /** False when the service already ran the target: nothing was sent. */
  changed: boolean;
  requestedAt: string | null;
  requestedAtMs: number | null;
  requestId: string | null;
  resumed: boolean;
  figures: Figure[];
}

/**
 * Points the service at the target task definition, once. Looks first (already there: a no-op
 * recorded as such); the time of the call is checkpointed before it is sent, so an attempt
 * resumed after a crash that finds the service on the target knows its call went out.
 */
@Injectable()
export class UpdateServiceTaskDefinitionStep implements StepType<Input, Output> {
  readonly uses = 'ecs.update-service-task-definition';
  readonly description = 'Updates an ECS service to a task definition (look before act, never twice)';
  readonly mutates = true;
  readonly iamActions = ['ecs:DescribeServices', 'ecs:UpdateService'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['cluster', 'service', 'taskDefinition'],
    properties: {
      ...ecsSubjectProperties,
      taskDefinition: { type: 'string', minLength: 1 },
      alarmStateChangeTime: { type: 'string' },
      receivedAt: { type: 'string' },
    },
  };
  readonly outputs = ['previousTaskDefinition', 'taskDefinition', 'changed', 'requestedAt', 'requestedAtMs', 'requestId', 'resumed', 'figures'];

  constructor(
    private readonly ecs: EcsAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async plan(input: Input): Promise<PlannedCall[]> {
    return [this.ecs.planUpdateService(targetOf(input, this.config), { cluster: input.cluster, service: input.service, taskDefinition: input.taskDefinition })];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const { services } = await this.ecs.describeServices(ctx.aws, target, input.cluster, [input.service]);
    const service = services[0];
    if (!service) throw new EngineError('PRECONDITION_FAILED', `ECS service ${input.service} not found in cluster ${input.cluster}`);
    const earlier = typeof ctx.memory.requestedAtMs === 'number' ? ctx.memory.requestedAtMs : null;
    const previous = typeof ctx.memory.previousTaskDefinition === 'string' ? ctx.memory.previousTaskDefinition : service.taskDefinition;
    if (service.taskDefinition === input.taskDefinition) {
      if (earlier !== null) ctx.log.warn(`UpdateService was already sent at ${new Date(earlier).toISOString()}; not sending it again`);
      return done<Output>(this.output(input, previous, earlier !== null, earlier, null, earlier !== null));
    }
    const requestedAtMs = this.clock.nowMs();
    await ctx.checkpoint({ requestedAtMs, previousTaskDefinition: service.taskDefinition });
    const receipt = await this.ecs.updateService(ctx.aws, target, { cluster: input.cluster, service: input.service, taskDefinition: input.taskDefinition });
    return done<Output>(this.output(input, service.taskDefinition, true, requestedAtMs, receipt.requestId, false));
  }

  private output(input: Input, previous: string, changed: boolean, requestedAtMs: number | null, requestId: string | null, resumed: boolean): Output {
    const changeMs = parseTime(input.alarmStateChangeTime);
    const receivedMs = parseTime(input.receivedAt);
    const figures: Figure[] = [];
    if (changeMs !== null) figures.push({ id: 'alarm-state-change-at', label: 'Alarm state change', value: new Date(changeMs).toISOString() });
    if (receivedMs !== null) {
      figures.push({ id: 'received-at', label: 'Notification received', value: new Date(receivedMs).toISOString() });
      const s = secondsBetween(changeMs, receivedMs);
      if (s !== null) figures.push({ id: 'alarm-to-received-seconds', label: 'Alarm state change → received', value: s, unit: 's' });
    }
    if (requestedAtMs !== null) {
      figures.push({ id: 'rollback-call-at', label: 'Rollback call (UpdateService)', value: new Date(requestedAtMs).toISOString() });
      const s = secondsBetween(receivedMs, requestedAtMs);
      if (s !== null) figures.push({ id: 'received-to-rollback-seconds', label: 'Received → rollback call', value: s, unit: 's' });
    }
    return {
      previousTaskDefinition: previous,
      taskDefinition: input.taskDefinition,
      changed,
      requestedAt: requestedAtMs === null ? null : new Date(requestedAtMs).toISOString(),
      requestedAtMs,
      requestId,
      resumed,
      figures,
    };
  }

  summarize(o: Output): string {
    if (!o.changed) return `already on ${shortName(o.taskDefinition)}; nothing sent`;
    return o.resumed
      ? `UpdateService had already been sent at ${o.requestedAt}; not repeated`
      : `${shortName(o.previousTaskDefinition)} → ${shortName(o.taskDefinition)} requested at ${o.requestedAt}`;
  }
}
