import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsFailoverAdapter } from '../../aws/rds-failover.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
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
      return wait<Output>(input.pollSeconds ?? 2, { lastStatus: now.status }, `status ${now.status}, writer ${now.writer ?? 'none'}`);
    }
    const events = await this.rds.describeRecentEvents(ctx.aws, target, {
      sourceType: input.kind === 'cluster' ? 'db-cluster' : 'db-instance',
      sourceId: input.identifier,
      since: new Date(input.requestedAtMs - 1000),
    });
    const completed = events.filter((e) => FAILOVER_COMPLETED.test(e.message)).map((e) => Date.parse(e.at)).filter((t) => t >= input.requestedAtMs - 1000);
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
