import { Injectable } from '@nestjs/common';
import { AwsStepError } from '../../aws/aws.error';
import { GenericAwsAdapter } from '../../aws/generic.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, IamNeed, StepContext, StepDefinitionLike, StepType, wait } from '../step.contract';
import { isTruthy, query } from '../../runbooks/expressions';
import { targetOf } from '../aws-target';
import { callProperties, checkCall, checkOutputs, checkQuery, GenericCallInput, iamNeedsOf, namedOutputs, Problem } from './generic-call';

interface Input extends GenericCallInput {
  /** JMESPath over the response: done when it holds. */
  until: string;
  /** JMESPath over the response: failed at once when it holds (the SDK waiters' failure states). */
  failWhen?: string;
  pollSeconds: number;
  /** The wait's own limit, from the step's first look; the step's `timeout:` bounds it too. */
  timeoutSeconds?: number;
  /** `until` must hold on every look for this long (a bake: an alarm that stays quiet for 5 minutes). */
  forSeconds?: number;
}

type Output = Record<string, unknown>;

/**
 * One read-only call, looked at every `pollSeconds` (the worker is freed in between) until
 * `until` holds; a `failWhen` that holds fails the step at once instead of waiting out the
 * timeout, and the timeout fails it with AWS_WAIT_TIMEOUT saying what was last seen.
 */
@Injectable()
export class AwsWaitUntilStep implements StepType<Input, Output> {
  readonly uses = 'aws.wait-until';
  readonly description = 'Polls a read-only AWS API until a JMESPath condition holds; fails at once when failWhen holds';
  readonly mutates = false;
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['service', 'api', 'until'],
    properties: {
      ...callProperties,
      until: { type: 'string', minLength: 1 },
      failWhen: { type: 'string', minLength: 1 },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 3600, default: 15 },
      timeoutSeconds: { type: 'number', exclusiveMinimum: 0 },
      forSeconds: { type: 'number', minimum: 0, maximum: 86400 },
    },
  };
  readonly outputs: readonly string[] = ['polls', 'waitedSeconds'];
  protected readonly outputQueries: Record<string, string> = {};

  constructor(
    private readonly aws: GenericAwsAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  forDefinition(def: StepDefinitionLike): StepType<Input, Output> {
    return Object.create(this, {
      outputs: { value: ['polls', 'waitedSeconds', ...Object.keys(def.outputs ?? {})] },
      outputQueries: { value: { ...(def.outputs ?? {}) } },
    }) as AwsWaitUntilStep;
  }

  checkDefinition(def: StepDefinitionLike): Problem[] {
    const w = def.with ?? {};
    const { problems, mutates } = checkCall(w, 'with');
    if (mutates) problems.push({ path: 'with.api', reason: `${String(w.api)} changes state; aws.wait-until polls read-only APIs (Describe, List, Get)` });
    if (def.mutates) problems.push({ path: 'mutates', reason: 'aws.wait-until never changes state' });
    problems.push(...checkQuery(w.until, 'with.until'), ...checkQuery(w.failWhen, 'with.failWhen'), ...checkOutputs(def));
    return problems;
  }

  iamNeeds(def: StepDefinitionLike): IamNeed[] {
    return iamNeedsOf(def.with);
  }

  async run(input: Input, ctx: StepContext) {
    const response = await this.aws.call(ctx.aws, targetOf(input, this.config), input.service, input.api, input.input ?? {}, false);
    const polls = Number(ctx.memory.polls ?? 0) + 1;
    const where = { service: input.service, operation: input.api };
    if (input.failWhen && isTruthy(query(input.failWhen, response))) {
      throw new AwsStepError('AWS_WAIT_FAILURE_STATE', `${input.service}:${input.api}: failure state reached (${input.failWhen}) after ${polls} look(s)`, {
        ...where,
        failWhen: input.failWhen,
        seen: summarise(response, input.until),
        polls,
      });
    }
    const nowMs = this.clock.nowMs();
    const waitedSeconds = Math.round(nowMs - ctx.startedAt.getTime()) / 1000;
    let heldSince: number | null = null;
    if (isTruthy(query(input.until, response))) {
      heldSince = typeof ctx.memory.heldSince === 'number' ? ctx.memory.heldSince : nowMs;
      if (!input.forSeconds || nowMs - heldSince >= input.forSeconds * 1000) {
        return done<Output>({ polls, waitedSeconds, ...namedOutputs(this.outputQueries, response) });
      }
    }
    if (input.timeoutSeconds !== undefined && waitedSeconds >= input.timeoutSeconds) {
      throw new AwsStepError(
        'AWS_WAIT_TIMEOUT',
        `${input.service}:${input.api}: "${input.until}" did not hold${input.forSeconds ? ` for ${input.forSeconds}s` : ''} within ${input.timeoutSeconds}s (${polls} looks)`,
        {
          ...where,
          until: input.until,
          seen: summarise(response, input.until),
          polls,
        },
      );
    }
    if (heldSince !== null) {
      const leftS = input.forSeconds! - (nowMs - heldSince) / 1000;
      return wait<Output>(Math.min(input.pollSeconds, Math.max(0.2, leftS)), { polls, heldSince }, `holding: ${input.until} (${Math.ceil(leftS)}s to go)`);
    }
    return wait<Output>(input.pollSeconds, { polls, heldSince: null }, `not yet: ${input.until} (look ${polls})`);
  }

  summarize(o: Output): string {
    return `condition held after ${String(o.polls)} look(s)`;
  }
}

/** What the condition looked at, short: the value of the query's left side when it has one. */
function summarise(response: unknown, until: string): string {
  const left = until.split(/==|!=|<=|>=|<|>/)[0]?.trim();
  try {
    const v = left ? query(left, response) : undefined;
    return JSON.stringify(v ?? null).slice(0, 200);
  } catch {
    return 'null';
  }
}
