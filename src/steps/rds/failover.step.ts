import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import type { AwsTarget } from '../../aws/aws-client.factory';
import type { TargetFacts } from '../../aws/target-facts';
import { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { FAILOVER_STARTED, FailoverSubject, observeWriter, failoverSubjectProperties } from './failover-subject';

interface Input extends FailoverSubject {
  targetInstance?: string;
  /** The writer the precheck saw; a different writer now means the failover already happened. */
  expectedWriter: string;
}

interface Output extends Record<string, unknown> {
  requestedAt: string;
  requestedAtMs: number;
  previousWriter: string;
  operation: string;
  requestId: string | null;
  /** True when a previous attempt's call had already taken effect and none was sent again. */
  resumed: boolean;
}

/**
 * Starts the failover: FailoverDBCluster for Aurora, RebootDBInstance with ForceFailover for a
 * Multi-AZ instance. Never twice: the time of the call is checkpointed before it is sent, and an
 * attempt that finds such a checkpoint (its worker died mid-call) first looks at the subject.
 */
@Injectable()
export class FailoverStep implements StepType<Input, Output> {
  readonly uses = 'rds.failover';
  readonly description = 'Fails an Aurora cluster or Multi-AZ instance over to its standby (once)';
  readonly mutates = true;
  readonly iamActions = ['rds:FailoverDBCluster', 'rds:RebootDBInstance', 'rds:DescribeEvents'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier', 'expectedWriter'],
    properties: { ...failoverSubjectProperties, targetInstance: { type: 'string', minLength: 1 }, expectedWriter: { type: 'string', minLength: 1 } },
  };
  readonly outputs = ['requestedAt', 'requestedAtMs', 'previousWriter', 'operation', 'requestId', 'resumed'];

  constructor(
    private readonly rds: RdsFailoverAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async targets(input: Input, ctx: StepContext): Promise<TargetFacts[]> {
    return [await this.rds.facts(ctx.aws, targetOf(input, this.config), input.kind, input.identifier)];
  }

  async plan(input: Input): Promise<PlannedCall[]> {
    const target = targetOf(input, this.config);
    return [
      input.kind === 'cluster'
        ? this.rds.planFailoverCluster(target, { clusterIdentifier: input.identifier, targetInstance: input.targetInstance })
        : this.rds.planRebootWithFailover(target, input.identifier),
    ];
  }

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const operation = input.kind === 'cluster' ? 'FailoverDBCluster' : 'RebootDBInstance';
    const earlier = typeof ctx.memory.requestedAtMs === 'number' ? ctx.memory.requestedAtMs : null;
    if (earlier !== null && (await this.alreadyStarted(input, ctx, target, earlier))) {
      ctx.log.warn(`${operation} was already sent by an earlier attempt at ${new Date(earlier).toISOString()}; not sending it again`);
      return done<Output>({
        requestedAt: new Date(earlier).toISOString(),
        requestedAtMs: earlier,
        previousWriter: input.expectedWriter,
        operation,
        requestId: null,
        resumed: true,
      });
    }
    const requestedAtMs = this.clock.nowMs();
    await ctx.checkpoint({ requestedAtMs });
    const receipt =
      input.kind === 'cluster'
        ? await this.rds.failoverCluster(ctx.aws, target, { clusterIdentifier: input.identifier, targetInstance: input.targetInstance })
        : await this.rds.rebootWithFailover(ctx.aws, target, input.identifier);
    return done<Output>({
      requestedAt: new Date(requestedAtMs).toISOString(),
      requestedAtMs,
      previousWriter: input.expectedWriter,
      operation,
      requestId: receipt.requestId,
      resumed: false,
    });
  }

  /** Did an earlier attempt's call take effect? A new writer, a failover in progress, or an RDS event says so. */
  private async alreadyStarted(input: Input, ctx: StepContext, target: AwsTarget, sinceMs: number): Promise<boolean> {
    const now = await observeWriter(this.rds, ctx.aws, target, input);
    if (now.writer !== input.expectedWriter) return true;
    if (/failing-over|rebooting|modifying/.test(now.status)) return true;
    const events = await this.rds.describeRecentEvents(ctx.aws, target, {
      sourceType: input.kind === 'cluster' ? 'db-cluster' : 'db-instance',
      sourceId: input.identifier,
      since: new Date(sinceMs - 1000),
    });
    return events.some((e) => FAILOVER_STARTED.test(e.message));
  }

  summarize(o: Output): string {
    return o.resumed ? `${o.operation} had already been sent at ${o.requestedAt}; not repeated` : `${o.operation} sent at ${o.requestedAt}`;
  }
}
