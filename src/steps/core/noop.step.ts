import { Injectable } from '@nestjs/common';
import { done, StepType } from '../step.contract';

/** Does nothing and succeeds: a placeholder while writing a runbook, and the engine benchmark's unit. */
@Injectable()
export class NoopStep implements StepType<{ echo?: unknown }, { echo: unknown }> {
  readonly uses = 'core.noop';
  readonly description = 'Does nothing; outputs its `echo` input';
  readonly mutates = false;
  readonly iamActions = [];
  readonly input = { type: 'object', additionalProperties: false, properties: { echo: {} } };
  readonly outputs = ['echo'];

  async run(input: { echo?: unknown }) {
    return done({ echo: input.echo ?? null });
  }
}
