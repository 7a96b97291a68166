import { Injectable, Optional } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type { AuditEventInput, AwsRequestAuditData, AwsResponseAuditData } from '../audit/audit.types';
import { AuditService } from '../audit/audit.service';
import { redact, redactValues } from '../common/redact';
import { FaultInjector } from '../faults/fault-injector';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { awsSessionScope, resolveTarget, type AwsTarget, type CallKind } from './aws-client.factory';
import { AwsStepError, toAwsStepError } from './aws.error';
import { countCall, type CallTally } from './call-tally';
import { TracingService } from '../tracing/tracing.service';

/** Any SDK v3 client: `send` is all the caller needs. */
export interface AwsSdkClient {
  // `any` because each SDK client's send() is generic over its own commands; the adapter names O.
  send(command: any): Promise<any>;
}

/** Any SDK v3 command: its `input` is what gets audited. */
export interface AwsSdkCommand {
  readonly input: object;
}

export interface AwsCallMeta {
  /** Lower-case service name as used in audit records and planned calls, e.g. `rds`. */
  service: string;
  /** The API operation, e.g. `FailoverDBCluster`. */
  operation: string;
  /** True when the call changes anything in AWS: it is audited and refused in dry-run. */
  mutates: boolean;
  region: string;
  /** The target account, where the call goes through a role (its ARN names it); unset for the home account. */
  account?: string;
}

interface SdkOutput {
  $metadata?: { requestId?: string; httpStatusCode?: number };
}

/**
 * The one door to AWS. Every adapter sends through here, so the rules hold for all services:
 * errors become AwsStepError, mutating calls are audited on both sides, and a mutating call
 * in a dry-run is refused even if a step forgot to plan instead of run.
 */
@Injectable()
export class AwsCallerService {
  constructor(
    private readonly audit: AuditService,
    // Optional so unit tests can build the door with an audit alone.
    @Optional() private readonly faults?: FaultInjector,
    @Optional() private readonly tracing?: TracingService,
  ) {}

  /** One service's calls through this door, for an adapter to hold (see AwsServiceCalls). */
  forService(service: string, clientFor: (region: string, roleArn: string | undefined, kind: CallKind) => AwsSdkClient): AwsServiceCalls {
    return new AwsServiceCalls(this, service, clientFor);
  }

  async send<O>(ctx: AwsCallContext, client: AwsSdkClient, command: AwsSdkCommand, meta: AwsCallMeta): Promise<O> {
    const where = { service: meta.service, operation: meta.operation };
    if (!meta.mutates) {
      try {
        return (await this.traced(meta, () => client.send(command))) as O;
      } catch (err) {
        throw toAwsStepError(err, where);
      }
    }

    if (ctx.dryRun) {
      throw new AwsStepError('AWS_DRY_RUN_VIOLATION', `${meta.service}:${meta.operation} changes state and the run is a dry run; the step must plan, not run`, {
        ...where,
        stepId: ctx.stepId,
      });
    }

    // Written before sending, so a process that dies mid-call still leaves evidence of the attempt.
    // If this write fails the call is not made: no mutating call goes unrecorded. Inside a run it
    // commits under the run's lease: an executor that lost the run stops here.
    const request: AwsRequestAuditData = {
      stepId: ctx.stepId,
      service: meta.service,
      operation: meta.operation,
      region: meta.region,
      input: redactValues(redact({ ...command.input }), ctx.secretValues ?? []),
    };
    // Calls made outside any run (the SNS webhook confirming a subscription) carry an empty run id.
    const requestEvent: AuditEventInput = { kind: 'aws.request', runId: ctx.runId || null, actor: ctx.actor, data: { ...request } };
    if (ctx.fence) await ctx.fence.recordIntent(requestEvent);
    else await this.audit.append(requestEvent);
    this.faults?.at(`aws:${meta.operation}:before-send`);

    const started = performance.now();
    let output: O | undefined;
    let failure: AwsStepError | undefined;
    // Nothing awaits between this check and the send: a process frozen before it finds its lease gone.
    ctx.fence?.assertHeld();
    try {
      output = (await this.traced(meta, () => client.send(command))) as O;
    } catch (err) {
      failure = toAwsStepError(err, where);
    }
    const durationMs = Math.round(performance.now() - started);
    this.faults?.at(`aws:${meta.operation}:after-answer`);

    const metadata = (output as SdkOutput | undefined)?.$metadata;
    const response: AwsResponseAuditData & { awsCode?: string } = failure
      ? {
          stepId: ctx.stepId,
          ...where,
          outcome: 'error',
          requestId: failure.details.requestId ?? null,
          ...(typeof failure.details.httpStatus === 'number' ? { httpStatus: failure.details.httpStatus } : {}),
          errorCode: failure.code,
          awsCode: failure.details.awsCode,
          durationMs,
        }
      : {
          stepId: ctx.stepId,
          ...where,
          outcome: 'ok',
          requestId: metadata?.requestId ?? null,
          ...(typeof metadata?.httpStatusCode === 'number' ? { httpStatus: metadata.httpStatusCode } : {}),
          durationMs,
        };
    // AWS has acted (or refused): the record of its answer is retried through a database that is
    // briefly away rather than lost, and a process that dies meanwhile leaves the step's look-before-act
    // to find the effect. It is recorded even by an executor that has just lost the run: it is what AWS did.
    const responseEvent: AuditEventInput = { kind: 'aws.response', runId: ctx.runId || null, actor: ctx.actor, data: { ...response } };
    if (ctx.fence) await ctx.fence.recordOutcome(responseEvent);
    else await this.audit.append(responseEvent);
    this.faults?.at(`aws:${meta.operation}:after-record`);

    if (failure) throw failure;
    return output as O;
  }

  /**
   * The call in a client span of the step's trace, when tracing is on. Started synchronously:
   * nothing awaits between the caller's lease check and the send.
   */
  private traced<T>(meta: AwsCallMeta, send: () => Promise<T>): Promise<T> {
    const tracing = this.tracing;
    if (!tracing?.enabled) return send();
    return tracing.inSpan(
      `${meta.service}.${meta.operation}`,
      {
        kind: 'client',
        attributes: {
          'rpc.system': 'aws-api',
          'rpc.service': meta.service,
          'rpc.method': meta.operation,
          'cloud.provider': 'aws',
          'cloud.region': meta.region,
          'cloud.account.id': meta.account,
          'runbookd.aws.mutating': meta.mutates,
        },
      },
      async (span) => {
        try {
          const out = await send();
          const md = (out as SdkOutput | undefined)?.$metadata;
          span?.setAttributes({ 'aws.request_id': md?.requestId, 'http.response.status_code': md?.httpStatusCode });
          return out;
        } catch (err) {
          const md = (err as SdkOutput | undefined)?.$metadata;
          span?.setAttributes({ 'aws.request_id': md?.requestId, 'http.response.status_code': md?.httpStatusCode, 'aws.error_code': (err as Error)?.name });
          throw err;
        }
      },
    );
  }
}

/**
 * What every adapter needs for its service: the client a target's region and role use, reads,
 * audited mutations, and the planned-call shape a dry run records (built from the same input
 * function as the real call, so a plan shows exactly what a run would send).
 */
export class AwsServiceCalls {
  constructor(
    private readonly caller: AwsCallerService,
    readonly service: string,
    private readonly clientFor: (region: string, roleArn: string | undefined, kind: CallKind) => AwsSdkClient,
  ) {}

  read<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    return this.send<O>(ctx, target, operation, command, false);
  }

  mutate<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    return this.send<O>(ctx, target, operation, command, true);
  }

  plan(target: AwsTarget, operation: string, input: object): PlannedCall {
    return { service: this.service, operation, input: { ...input }, region: resolveTarget(target).region };
  }

  /**
   * The configuration for one read operation's SDK paginator (`paginateX(calls.paging(…), input)`),
   * so each page goes through this door like any other read, counted into `tally`. The paginators
   * take only an instance of the service's client class and call nothing on it but `send`: the
   * client is the target's own read client with `send` routed here. `stopOnSameToken` ends a
   * listing whose endpoint hands back the same token forever (the SDK's default follows it).
   */
  paging<C extends AwsSdkClient>(ctx: AwsCallContext, target: AwsTarget, operation: string, tally?: CallTally): { client: C; stopOnSameToken: true } {
    const { region, roleArn } = resolveTarget(target);
    const send = (command: AwsSdkCommand) => {
      countCall(tally, `${this.service}:${operation}`);
      // The paginator hands every page's command one input object and rewrites its token in place:
      // each page is sent with a copy of its own, so what was sent stays what it was.
      const Command = command.constructor as new (input: object) => AwsSdkCommand;
      return this.read(ctx, target, operation, new Command({ ...command.input }));
    };
    return { client: Object.create(this.client(ctx, region, roleArn, 'read'), { send: { value: send } }) as C, stopOnSameToken: true };
  }

  private send<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand, mutates: boolean): Promise<O> {
    const { region, roleArn } = resolveTarget(target);
    const client = this.client(ctx, region, roleArn, mutates ? 'mutate' : 'read');
    return this.caller.send<O>(ctx, client, command, { service: this.service, operation, mutates, region, account: roleArn?.split(':')[4] || undefined });
  }

  private client(ctx: AwsCallContext, region: string, roleArn: string | undefined, kind: CallKind): AwsSdkClient {
    // Role sessions are per run (named runbookd-<run id>, SourceIdentity = the actor).
    return awsSessionScope.run({ runId: ctx.runId, actor: ctx.actor }, () => this.clientFor(region, roleArn, kind));
  }
}

/** The first `max` pages of a paginator: a listing that only needs recent entries stops reading there. */
export async function* firstPages<T>(max: number, pages: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  let n = 0;
  for await (const page of pages) {
    yield page;
    if (++n >= max) return;
  }
}
