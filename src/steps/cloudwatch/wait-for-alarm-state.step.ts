import { Injectable } from '@nestjs/common';
import { AlarmReaderService } from '../../aws/alarm-reader.service';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { done, Finding, StepContext, StepType, wait } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';
import { Figure, parseTime, secondsBetween } from '../ecs/ecs-subject';

interface Input {
  alarmName: string;
  region?: string;
  roleArn?: string;
  state?: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  /** How long the alarm has to reach the state, from `sinceMs` (or the step's start). */
  windowSeconds?: number;
  sinceMs?: number;
  /** For the end-to-end figure: when the alarm went off (ISO 8601). */
  alarmStateChangeTime?: string;
  pollSeconds?: number;
}

interface Output extends Record<string, unknown> {
  alarmName: string;
  reached: boolean;
  state: string;
  reachedAt: string | null;
  reachedAtMs: number | null;
  findings: Finding[];
  figures: Figure[];
}

/**
 * Waits for an alarm to reach a state (OK, after a rollback) within a window. Not reached in
 * time is a failed finding, so the run fails saying so, after the steps that follow have run.
 * Polls through AlarmReaderService: in a storm, every run waiting on an alarm shares one
 * DescribeAlarms call with the others (and with the webhook's confirmations in this process).
 */
@Injectable()
export class WaitForAlarmStateStep implements StepType<Input, Output> {
  readonly uses = 'cloudwatch.wait-for-alarm-state';
  readonly description = 'Waits for a CloudWatch alarm to reach a state (default OK) within a window';
  readonly mutates = false;
  readonly iamActions = ['cloudwatch:DescribeAlarms'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['alarmName'],
    properties: {
      alarmName: { type: 'string', minLength: 1 },
      ...TARGET_PROPERTIES,
      state: { enum: ['OK', 'ALARM', 'INSUFFICIENT_DATA'], default: 'OK' },
      windowSeconds: { type: 'number', minimum: 1, maximum: 86400, default: 600 },
      sinceMs: { type: 'number' },
      alarmStateChangeTime: { type: 'string' },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 300, default: 5 },
    },
  };
  readonly outputs = ['alarmName', 'reached', 'state', 'reachedAt', 'reachedAtMs', 'findings', 'figures'];

  constructor(
    private readonly alarms: AlarmReaderService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const want = input.state ?? 'OK';
    const windowS = input.windowSeconds ?? 600;
    const since = input.sinceMs ?? ctx.startedAt.getTime();
    const nowMs = this.clock.nowMs();
    const { alarms, missing } = await this.alarms.states(ctx.aws, targetOf(input, this.config), [input.alarmName]);
    const state = alarms[0]?.state ?? 'MISSING';
    const finding = (passed: boolean, measured: number | null, detail: string): Finding => ({
      id: 'alarm-recovered',
      title: `Alarm ${input.alarmName} back to ${want} within the window`,
      passed,
      measured,
      target: windowS,
      unit: 's',
      detail,
    });
    if (state === want) {
      const figures: Figure[] = [{ id: 'alarm-ok-at', label: `Alarm ${want}`, value: new Date(nowMs).toISOString() }];
      const s = secondsBetween(since, nowMs);
      if (s !== null) figures.push({ id: 'steady-to-alarm-ok-seconds', label: `Steady → alarm ${want}`, value: s, unit: 's' });
      const total = secondsBetween(parseTime(input.alarmStateChangeTime), nowMs);
      if (total !== null) figures.push({ id: 'alarm-to-recovered-seconds', label: `Alarm state change → alarm ${want}`, value: total, unit: 's' });
      return done<Output>({
        alarmName: input.alarmName,
        reached: true,
        state,
        reachedAt: new Date(nowMs).toISOString(),
        reachedAtMs: nowMs,
        findings: [finding(true, s, `${want} at ${new Date(nowMs).toISOString()}`)],
        figures,
      });
    }
    if (nowMs - since >= windowS * 1000) {
      const detail = missing.length > 0 ? `alarm ${input.alarmName} does not exist` : `still ${state} after ${windowS}s`;
      return done<Output>({
        alarmName: input.alarmName,
        reached: false,
        state,
        reachedAt: null,
        reachedAtMs: null,
        findings: [finding(false, secondsBetween(since, nowMs), detail)],
        figures: [],
      });
    }
    const remainingS = (since + windowS * 1000 - nowMs) / 1000;
    return wait<Output>(Math.min(input.pollSeconds ?? 5, Math.max(0.2, remainingS)), {}, `alarm ${input.alarmName} is ${state}`);
  }

  summarize(o: Output): string {
    return o.reached ? `${o.alarmName} ${o.state} at ${o.reachedAt}` : `${o.alarmName} still ${o.state} when the window closed`;
  }
}
