import { Injectable } from '@nestjs/common';
import { DescribeAlarmsCommand, type DescribeAlarmsCommandOutput } from '@aws-sdk/client-cloudwatch';
import type { AwsCallContext } from '../engine/step.contract';
import { AwsCallerService, type AwsSdkCommand } from './aws-caller.service';
import { AwsClientFactory, resolveTarget, type AwsTarget } from './aws-client.factory';

export const CLOUDWATCH_SERVICE = 'cloudwatch';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmState {
  name: string;
  state: AlarmStateValue;
  reason: string;
  /** ISO 8601, or null when AWS gives no timestamp. */
  updatedAt: string | null;
}

export interface AlarmStates {
  /** In the order the names were asked for. */
  alarms: AlarmState[];
  /** Names that match no alarm: a guard on a missing alarm guards nothing, so callers must see it. */
  missing: string[];
}

/** DescribeAlarms accepts at most 100 names per request. */
const NAMES_PER_REQUEST = 100;
const MAX_PAGES_PER_BATCH = 20;

@Injectable()
export class CloudWatchAdapter {
  constructor(
    private readonly clients: AwsClientFactory,
    private readonly caller: AwsCallerService,
  ) {}

  async alarmStates(ctx: AwsCallContext, target: AwsTarget, alarmNames: string[]): Promise<AlarmStates> {
    const wanted = [...new Set(alarmNames)];
    const found = new Map<string, AlarmState>();
    for (let i = 0; i < wanted.length; i += NAMES_PER_REQUEST) {
      const batch = wanted.slice(i, i + NAMES_PER_REQUEST);
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_PAGES_PER_BATCH; page++) {
        const out = await this.read<DescribeAlarmsCommandOutput>(
          ctx,
          target,
          'DescribeAlarms',
          // Without AlarmTypes AWS returns metric alarms only, and a composite guard would look missing.
          new DescribeAlarmsCommand({ AlarmNames: batch, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], MaxRecords: 100, NextToken: nextToken }),
        );
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
          if (!a.AlarmName || !batch.includes(a.AlarmName)) continue;
          found.set(a.AlarmName, {
            name: a.AlarmName,
            state: (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmStateValue,
            reason: a.StateReason ?? '',
            updatedAt: a.StateUpdatedTimestamp ? a.StateUpdatedTimestamp.toISOString() : null,
          });
        }
        nextToken = out.NextToken;
        if (!nextToken) break;
      }
    }
    const alarms: AlarmState[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const alarm = found.get(name);
      if (alarm) alarms.push(alarm);
      else missing.push(name);
    }
    return { alarms, missing };
  }

  private read<O>(ctx: AwsCallContext, target: AwsTarget, operation: string, command: AwsSdkCommand): Promise<O> {
    const { region, roleArn } = resolveTarget(target);
    return this.caller.send<O>(ctx, this.clients.cloudwatch(region, roleArn), command, {
      service: CLOUDWATCH_SERVICE,
      operation,
      mutates: false,
      region,
    });
  }
}
