import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { awsService, apiMutates } from '../../aws/aws-services';
import { AwsStepError } from '../../aws/aws.error';
import { GenericAwsAdapter } from '../../aws/generic.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, IamNeed, StepContext, StepDefinitionLike, StepType } from '../step.contract';
import { isTruthy, query } from '../../runbooks/expressions';
import { targetOf } from '../aws-target';
import {
  callProperties,
  checkCall,
  checkOutputs,
  checkQuery,
  derivedToken,
  GenericCallInput,
  iamNeedsOf,
  idempotencyInputOf,
  namedOutputs,
  Problem,
} from './generic-call';

interface LookFirst {
  api: string;
  input?: Record<string, unknown>;
  /** JMESPath over the look's response: truthy means the call already took effect. */
  found: string;
}

interface Input extends GenericCallInput {
  /** For a state-changing API without an idempotency input: how to tell, after a crash, that the call went out. */
  lookFirst?: LookFirst;
  /** The author's word that sending the call twice does no harm (e.g. UpdateService to a fixed count). */
  repeatable?: boolean;
}

type Output = Record<string, unknown>;

/** Memory key: when the call was about to be sent (a resumed step finds it and looks first). */
const INTENT = 'intentAt';

/**
 * One call of any API of a shipped SDK client. Read-only calls run in dry runs too (later steps
 * may need what they read); a call declared `mutates: true` goes through the audited door, is
 * planned (with its exact input) instead of sent in a dry run, and is made safe to resume: an
 * idempotency token derived from run and step where the API takes one, otherwise intent
 * recorded before sending and, on resume, the author's `lookFirst` query before sending again.
 */
@Injectable()
export class AwsCallStep implements StepType<Input, Output> {
  readonly uses = 'aws.call';
  readonly description = 'Calls one AWS API (outputs: JMESPath over the response); state-changing APIs must declare mutates: true';
  readonly mutates: boolean = false;
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['service', 'api'],
    properties: {
      ...callProperties,
      lookFirst: {
        type: 'object',
        additionalProperties: false,
        required: ['api', 'found'],
        properties: { api: callProperties.api, input: { type: 'object', default: {} }, found: { type: 'string', minLength: 1 } },
      },
      repeatable: { type: 'boolean' },
    },
  };
  readonly outputs: readonly string[] = [];
  /** Set on a definition's variant (see forDefinition). */
  protected readonly outputQueries: Record<string, string> = {};

  constructor(
    private readonly aws: GenericAwsAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  forDefinition(def: StepDefinitionLike): StepType<Input, Output> {
    return Object.create(this, {
      mutates: { value: def.mutates === true },
      outputs: { value: Object.keys(def.outputs ?? {}) },
      outputQueries: { value: { ...(def.outputs ?? {}) } },
    }) as AwsCallStep;
  }

  checkDefinition(def: StepDefinitionLike): Problem[] {
    const w = def.with ?? {};
    const { problems, mutates } = checkCall(w, 'with');
    if (mutates && def.mutates !== true) {
      problems.push({
        path: 'mutates',
        reason: `${String(w.service)}:${String(w.api)} can change state: declare mutates: true (it is then audited, planned in dry runs and guarded)`,
      });
    }
    const look = w.lookFirst as Partial<LookFirst> | undefined;
    if (look) {
      const lc = checkCall({ service: w.service, api: look.api }, 'with.lookFirst');
      problems.push(...lc.problems);
      if (lc.mutates)
        problems.push({ path: 'with.lookFirst.api', reason: `${String(look.api)} changes state; a look must be read-only (Describe, List, Get)` });
      problems.push(...checkQuery(look.found, 'with.lookFirst.found'));
    }
    if (mutates && def.mutates === true && typeof w.service === 'string' && typeof w.api === 'string') {
      const token = idempotencyInputOf(w.service, w.api);
      if (!token && !look && w.repeatable !== true) {
        problems.push({
          path: 'with',
          reason: `${w.service}:${w.api} has no idempotency input: say how a resumed run tells it already went out (lookFirst: { api, input, found }) or that sending it twice is harmless (repeatable: true)`,
        });
      }
    }
    problems.push(...checkOutputs(def));
    return problems;
  }

  iamNeeds(def: StepDefinitionLike): IamNeed[] {
    const w = def.with ?? {};
    const look = w.lookFirst as Partial<LookFirst> | undefined;
    return [...iamNeedsOf(w), ...(look?.api ? iamNeedsOf({ service: w.service, api: look.api, input: look.input, roleArn: w.roleArn }) : [])];
  }

  async plan(input: Input, ctx: StepContext): Promise<PlannedCall[]> {
    return [this.aws.plan(targetOf(input, this.config), input.service, input.api, this.sendInput(input, ctx))];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const entry = awsService(input.service);
    // The definition said read-only for an API that changes state: the loader refuses that, so
    // this only guards a definition edited under a running run.
    const mutates = this.mutates || (!!entry && apiMutates(entry, input.api));
    if (!mutates) {
      const response = await this.aws.call(ctx.aws, target, input.service, input.api, input.input ?? {}, false);
      return done<Output>(namedOutputs(this.outputQueries, response));
    }
    const tokenInput = idempotencyInputOf(input.service, input.api);
    if (!tokenInput) {
      if (ctx.memory[INTENT] !== undefined && input.lookFirst) {
        const look = await this.look(input, ctx, target);
        if (look !== null) {
          ctx.log.log(`${input.service}:${input.api} already took effect (${input.lookFirst.api} found it); not sent again`);
          return done<Output>(namedOutputs(this.outputQueries, look));
        }
      }
      await ctx.checkpoint({ [INTENT]: this.clock.now().toISOString() });
    }
    try {
      const response = await this.aws.call(ctx.aws, target, input.service, input.api, this.sendInput(input, ctx), true);
      return done<Output>(namedOutputs(this.outputQueries, response));
    } catch (err) {
      // A conflict on a name the run owns means an earlier request of this run (one that was still
      // on the wire when its executor lost the run) landed first: the look decides whether what
      // exists is what this call would have made. What the look does not find stays the error.
      if (!(err instanceof AwsStepError && err.code === 'AWS_ALREADY_EXISTS' && input.lookFirst)) throw err;
      const look = await this.look(input, ctx, target);
      if (look === null) throw err;
      ctx.log.log(`${input.service}:${input.api} answered ${err.details.awsCode}; ${input.lookFirst.api} found it is this run's: adopted`);
      return done<Output>(namedOutputs(this.outputQueries, look));
    }
  }

  /** The author's look: the response when its `found` query holds, else null. */
  private async look(input: Input, ctx: StepContext, target: ReturnType<typeof targetOf>): Promise<unknown> {
    const lookFirst = input.lookFirst!;
    const look = await this.aws
      .call(ctx.aws, target, input.service, lookFirst.api, lookFirst.input ?? {}, false)
      // Describe* of a named resource that does not exist answers NotFound: the call did not take effect.
      .catch((err: unknown) => {
        if (err instanceof AwsStepError && err.code === 'AWS_NOT_FOUND') return null;
        throw err;
      });
    return look !== null && isTruthy(query(lookFirst.found, look)) ? look : null;
  }

  private sendInput(input: Input, ctx: Pick<StepContext, 'runId' | 'stepId'>): Record<string, unknown> {
    const body = { ...(input.input ?? {}) };
    const tokenInput = idempotencyInputOf(input.service, input.api);
    if (tokenInput && body[tokenInput] === undefined) body[tokenInput] = derivedToken(ctx.runId, ctx.stepId);
    return body;
  }

  summarize(o: Output): string {
    const keys = Object.keys(o);
    return keys.length === 0
      ? 'called'
      : keys
          .slice(0, 4)
          .map((k) => `${k}=${typeof o[k] === 'object' ? JSON.stringify(o[k]).slice(0, 60) : String(o[k])}`)
          .join(', ');
  }
}
