import { Injectable } from '@nestjs/common';
import { GenericAwsAdapter } from '../../aws/generic.adapter';
import { AppConfig } from '../../config/app.config';
import { done, Finding, IamNeed, StepContext, StepDefinitionLike, StepType } from '../step.contract';
import { isTruthy, query } from '../../runbooks/expressions';
import { targetOf } from '../aws-target';
import { callProperties, checkCall, checkOutputs, checkQuery, GenericCallInput, iamNeedsOf, namedOutputs, Problem } from './generic-call';

interface Input extends GenericCallInput {
  /** JMESPath over the response that must hold. */
  that: string;
  /** JMESPath for the value to report as measured (default: the result of `that`). */
  measure?: string;
  title?: string;
}

type Output = Record<string, unknown> & { passed: boolean; findings: Finding[] };

/**
 * One read-only call and a condition on its answer, recorded as a finding with what was
 * measured and what was expected. A failed finding fails the run at its end (like every
 * finding), after cleanup; it does not stop the steps after it.
 */
@Injectable()
export class AwsAssertStep implements StepType<Input, Output> {
  readonly uses = 'aws.assert';
  readonly description = 'Calls a read-only AWS API and records whether a JMESPath condition holds, with the measured value';
  readonly mutates = false;
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['service', 'api', 'that'],
    properties: {
      ...callProperties,
      that: { type: 'string', minLength: 1 },
      measure: { type: 'string', minLength: 1 },
      title: { type: 'string', minLength: 1 },
    },
  };
  readonly outputs: readonly string[] = ['passed', 'measured', 'findings'];
  protected readonly outputQueries: Record<string, string> = {};

  constructor(
    private readonly aws: GenericAwsAdapter,
    private readonly config: AppConfig,
  ) {}

  forDefinition(def: StepDefinitionLike): StepType<Input, Output> {
    return Object.create(this, {
      outputs: { value: ['passed', 'measured', 'findings', ...Object.keys(def.outputs ?? {})] },
      outputQueries: { value: { ...(def.outputs ?? {}) } },
    }) as AwsAssertStep;
  }

  checkDefinition(def: StepDefinitionLike): Problem[] {
    const w = def.with ?? {};
    const { problems, mutates } = checkCall(w, 'with');
    if (mutates) problems.push({ path: 'with.api', reason: `${String(w.api)} changes state; aws.assert reads only (Describe, List, Get)` });
    if (def.mutates) problems.push({ path: 'mutates', reason: 'aws.assert never changes state' });
    problems.push(...checkQuery(w.that, 'with.that'), ...checkQuery(w.measure, 'with.measure'), ...checkOutputs(def));
    return problems;
  }

  iamNeeds(def: StepDefinitionLike): IamNeed[] {
    return iamNeedsOf(def.with);
  }

  async run(input: Input, ctx: StepContext) {
    const response = await this.aws.call(ctx.aws, targetOf(input, this.config), input.service, input.api, input.input ?? {}, false);
    const result = query(input.that, response);
    const passed = isTruthy(result);
    const measuredRaw = input.measure ? query(input.measure, response) : result;
    const measured =
      measuredRaw === undefined
        ? null
        : typeof measuredRaw === 'object'
          ? JSON.stringify(measuredRaw).slice(0, 500)
          : (measuredRaw as string | number | boolean);
    const finding: Finding = { id: ctx.stepId, title: input.title ?? `${input.service}:${input.api} ${input.that}`, passed, measured, target: input.that };
    return done<Output>({ ...namedOutputs(this.outputQueries, response), passed, measured, findings: [finding] });
  }

  summarize(o: Output): string {
    return `${o.passed ? 'holds' : 'does not hold'} (measured ${JSON.stringify(o.measured)})`;
  }
}
