import { Injectable } from '@nestjs/common';
import { EcsAdapter } from '../../aws/ecs.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType, wait } from '../step.contract';
import { targetOf } from '../aws-target';
import { shortName } from './resolve-rollback-target.step';
import { EcsSubject, ecsSubjectProperties, Figure, secondsBetween } from './ecs-subject';

interface Input extends EcsSubject {
  /** The task definition the service must be running. */
  taskDefinition: string;
  /** When the change was requested, for the time-to-steady figure. */
  requestedAtMs?: number;
  pollSeconds?: number;
}

interface Output extends Record<string, unknown> {
  taskDefinition: string;
  steadyAt: string;
  steadyAtMs: number;
  runningCount: number;
  desiredCount: number;
  figures: Figure[];
}

/**
 * Steady state as ECS's own waiter means it: one deployment, running = desired, on the expected
 * task definition. Looked at every pollSeconds without holding a worker; the step's `timeout`
 * in the runbook bounds the wait.
 */
@Injectable()
export class WaitForSteadyStateStep implements StepType<Input, Output> {
  readonly uses = 'ecs.wait-for-steady-state';
  readonly description = 'Waits until an ECS service has one deployment, all tasks running, on the given task definition';
  readonly mutates = false;
  readonly iamActions = ['ecs:DescribeServices'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['cluster', 'service', 'taskDefinition'],
    properties: {
      ...ecsSubjectProperties,
      taskDefinition: { type: 'string', minLength: 1 },
      requestedAtMs: { type: 'number' },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 300, default: 5 },
    },
  };
  readonly outputs = ['taskDefinition', 'steadyAt', 'steadyAtMs', 'runningCount', 'desiredCount', 'figures'];

  constructor(
    private readonly ecs: EcsAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const lookedAtMs = this.clock.nowMs();
    const { services } = await this.ecs.describeServices(ctx.aws, targetOf(input, this.config), input.cluster, [input.service]);
    const s = services[0];
    if (!s) throw new EngineError('PRECONDITION_FAILED', `ECS service ${input.service} not found in cluster ${input.cluster}`);
    const steady = s.deployments.length <= 1 && s.runningCount === s.desiredCount && s.taskDefinition === input.taskDefinition;
    if (!steady) {
      return wait<Output>(
        input.pollSeconds ?? 5,
        {},
        `${s.deployments.length} deployment(s), ${s.runningCount}/${s.desiredCount} running, on ${shortName(s.taskDefinition)}`,
      );
    }
    const figures: Figure[] = [{ id: 'steady-at', label: 'Service steady', value: new Date(lookedAtMs).toISOString() }];
    const seconds = secondsBetween(input.requestedAtMs, lookedAtMs);
    if (seconds !== null) figures.push({ id: 'rollback-to-steady-seconds', label: 'Rollback call → steady', value: seconds, unit: 's' });
    return done<Output>({
      taskDefinition: s.taskDefinition,
      steadyAt: new Date(lookedAtMs).toISOString(),
      steadyAtMs: lookedAtMs,
      runningCount: s.runningCount,
      desiredCount: s.desiredCount,
      figures,
    });
  }

  summarize(o: Output): string {
    return `steady on ${shortName(o.taskDefinition)} with ${o.runningCount}/${o.desiredCount} tasks at ${o.steadyAt}`;
  }
}
