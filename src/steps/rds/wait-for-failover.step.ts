import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType, wait } from '../step.contract';
import { targetOf } from '../aws-target';
import { FAILOVER_COMPLETED, FailoverSubject, observeWriter, failoverSubjectProperties } from './failover-subject';

interface Input extends FailoverSubject {
  previousWriter: string;
  requestedAtMs: number;
  /** Wait for this writer specifically (a failback to the original); otherwise any other writer. */
  expectedWriter?: string;
  pollSeconds?: number;
  label?: string;
  /** The switch-time target the test is held to; past it the wait says so on every look. */
  targetSeconds?: number;
  /** How long past the target to keep looking; default: the target again, at least 30 s. */
  marginSeconds?: number;
}

interface Output extends Record<string, unknown> {
  newWriter: string;
  observedAt: string;
  switchSeconds: number;
  measuredBy: 'rds-event' | 'polling';
  figures: Array<{ id: string; label: string; value: number | string; unit?: string }>;
}

/**
 * Waits, without holding a worker, until the subject reports a different writer and is available.
 * The switch time runs from the failover call to RDS's "failover completed" event when there is
 * one, else to the look that saw the new writer (so its resolution is the poll interval).
 *
 * With a target, every look past it says how far past it is, and once the target is missed by
 * the margin the step fails with what it last saw: a switch that late has already failed the
 * test, and waiting out the step's timeout (10 min) in silence tells the engineer nothing more.
 * (A Multi-AZ instance in moto never changes zone, so that is where this is proved.)
 */
@Injectable()
export class WaitForFailoverStep implements StepType<Input, Output> {
  readonly uses = 'rds.wait-for-failover';
  readonly description = 'Waits until a failover has completed and measures the switch time';
  readonly mutates = false;
  readonly iamActions = ['rds:DescribeEvents', ...RDS_READ_SUBJECT_ACTIONS];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier', 'previousWriter', 'requestedAtMs'],
    properties: {
      ...failoverSubjectProperties,
      previousWriter: { type: 'string', minLength: 1 },
      requestedAtMs: { type: 'number' },
      expectedWriter: { type: 'string', minLength: 1 },
      pollSeconds: { type: 'number', minimum: 0.5, maximum: 300, default: 2 },
      label: { type: 'string' },
      targetSeconds: { type: 'number', exclusiveMinimum: 0 },
      marginSeconds: { type: 'number', minimum: 0 },
    },
  };
  readonly outputs = ['newWriter', 'observedAt', 'switchSeconds', 'measuredBy', 'figures'];

  constructor(
    private readonly rds: RdsFailoverAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const observedAtMs = this.clock.nowMs();
    const now = await observeWriter(this.rds, ctx.aws, target, input);
    const switched = now.writer !== null && now.writer !== input.previousWriter && (!input.expectedWriter || now.writer === input.expectedWriter);
    if (!switched || now.status !== 'available') {
      const looks = Number(ctx.memory.looks ?? 0) + 1;
      const what = input.kind === 'cluster' ? 'writer' : 'primary zone';
      const seen = `status ${now.status}, ${what} ${now.writer ?? 'none'}`;
      const elapsedS = Math.max(0, Math.round((observedAtMs - input.requestedAtMs) / 100) / 10);
      if (input.targetSeconds === undefined) return wait<Output>(input.pollSeconds ?? 2, { lastStatus: now.status, looks }, seen);
      const marginS = input.marginSeconds ?? Math.max(30, input.targetSeconds);
      const pastS = Math.round((elapsedS - input.targetSeconds) * 10) / 10;
      if (pastS > marginS) {
        throw new EngineError(
          'SWITCH_TARGET_MISSED',
          `no switch ${elapsedS} s after the failover call, past the ${input.targetSeconds} s target by ${pastS} s (margin ${marginS} s); last seen: ${seen} (${looks} looks)`,
          {
            lastSeen: { status: now.status, writer: now.writer, members: now.members },
            previousWriter: input.previousWriter,
            expectedWriter: input.expectedWriter ?? null,
            elapsedSeconds: elapsedS,
            targetSeconds: input.targetSeconds,
            marginSeconds: marginS,
            looks,
          },
        );
      }
      const when =
        pastS > 0
          ? `${elapsedS} s since the failover call, past the ${input.targetSeconds} s target by ${pastS} s (gives up at ${input.targetSeconds + marginS} s)`
          : `${elapsedS} s of the ${input.targetSeconds} s target`;
      // Never sleep past the give-up point: the failure is reported when it is due, not a poll later.
      const untilGiveUpS = input.targetSeconds + marginS - elapsedS + 0.1;
      return wait<Output>(Math.max(0.5, Math.min(input.pollSeconds ?? 2, untilGiveUpS)), { lastStatus: now.status, looks }, `${seen}; ${when}`);
    }
    const events = await this.rds.describeRecentEvents(ctx.aws, target, {
      sourceType: input.kind === 'cluster' ? 'db-cluster' : 'db-instance',
      sourceId: input.identifier,
      since: new Date(input.requestedAtMs - 1000),
    });
    const completed = events
      .filter((e) => FAILOVER_COMPLETED.test(e.message))
      .map((e) => Date.parse(e.at))
      .filter((t) => t >= input.requestedAtMs - 1000);
    const endMs = completed.length > 0 ? Math.min(...completed) : observedAtMs;
    const switchSeconds = Math.max(0, Math.round(endMs - input.requestedAtMs) / 1000);
    const label = input.label ?? 'Writer switch time';
    return done<Output>({
      newWriter: now.writer!,
      observedAt: new Date(observedAtMs).toISOString(),
      switchSeconds,
      measuredBy: completed.length > 0 ? 'rds-event' : 'polling',
      figures: [{ id: 'switch-seconds', label, value: switchSeconds, unit: 's' }],
    });
  }

  summarize(o: Output): string {
    return `writer is ${o.newWriter} after ${o.switchSeconds}s (measured by ${o.measuredBy})`;
  }
}
