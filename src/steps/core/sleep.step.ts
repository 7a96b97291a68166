import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { done, StepContext, StepType, wait } from '../step.contract';

interface Input {
  seconds: number;
}

/**
 * Waits without holding a worker (a bake time, a pause between drill phases). Guard alarms and
 * cancel are checked at each look, so a long sleep can still be stopped.
 */
@Injectable()
export class SleepStep implements StepType<Input, { sleptSeconds: number }> {
  readonly uses = 'core.sleep';
  readonly description = 'Waits the given seconds, freeing the worker meanwhile';
  readonly mutates = false;
  readonly iamActions = [];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['seconds'],
    properties: { seconds: { type: 'number', minimum: 0, maximum: 86400 } },
  };
  readonly outputs = ['sleptSeconds'];

  constructor(private readonly clock: Clock) {}

  async run(input: Input, ctx: StepContext) {
    const elapsed = (this.clock.nowMs() - ctx.startedAt.getTime()) / 1000;
    if (elapsed >= input.seconds) return done({ sleptSeconds: Math.round(elapsed * 1000) / 1000 });
    // Look again at least every 30 s so a guard alarm or a cancel is noticed during long sleeps.
    return wait(Math.min(30, input.seconds - elapsed), undefined, `sleeping ${input.seconds}s`);
  }
}
