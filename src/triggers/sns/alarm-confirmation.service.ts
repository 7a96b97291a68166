import { Injectable } from '@nestjs/common';
import { AlarmReaderService } from '../../aws/alarm-reader.service';
import type { AwsCallContext } from '../../aws/aws-call.types';
import { AwsStepError } from '../../aws/aws.error';
import type { AwsTarget } from '../../aws/aws-client.factory';
import { CloudWatchAdapter, type AlarmConfiguration } from '../../aws/cloudwatch.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import type { AlarmEvent } from './alarm-event';
import { SnsError } from './sns.error';

/**
 * A valid SNS signature proves a message came through SNS, not that CloudWatch wrote it: anyone
 * allowed to publish to the topic can post alarm JSON. Before an alarm starts anything, this asks
 * CloudWatch, in the alarm's own account and region, whether the alarm exists, entered the
 * notified state at the notified time (its history where the state has moved on since), and
 * what its dimensions really are; what the run is given comes from that answer, not the message.
 *
 * DescribeAlarms has a quota of a few calls per second per account, so an alarm storm must not
 * cost a call per message: the reading comes from AlarmReaderService, which batches every alarm
 * read in this process per account and region (up to 100 names a call, calls spaced by
 * RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND), and reuses a reading for messages about state changes
 * that happened before it was taken.
 */
@Injectable()
export class AlarmConfirmationService {
  constructor(
    private readonly alarms: AlarmReaderService,
    private readonly cloudwatch: CloudWatchAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** The alarm as CloudWatch has it, or SNS_ALARM_NOT_CONFIRMED / SNS_ALARM_SOURCE_UNAVAILABLE. */
  async confirm(alarm: AlarmEvent): Promise<AlarmEvent> {
    const { accountId: account, region } = alarm;
    if (!account || !/^\d{12}$/.test(account) || !region) {
      throw notConfirmed(alarm, `alarm ${alarm.name} names no account and region to check it in`);
    }
    if (this.config.scope.allowedAccounts.length > 0 && !this.config.scope.allowedAccounts.includes(account)) {
      throw notConfirmed(alarm, `account ${account} is not one runbookd acts in (RUNBOOKD_ALLOWED_ACCOUNTS)`);
    }
    const roleArn = this.config.aws.alarmRoleArns.find((r) => r.split(':')[4] === account);
    const target: AwsTarget = roleArn ? { region, roleArn } : region;
    const notifiedMs = Date.parse(alarm.stateChangeTime);
    const toleranceMs = this.config.sns.alarmTimeToleranceSeconds * 1000;
    const ctx = this.context(alarm);

    let real: AlarmConfiguration | null;
    try {
      // A reading taken after the notified change can confirm it; an older one cannot show it.
      real = (await this.alarms.read(ctx, target, [alarm.name], notifiedMs)).get(alarm.name)!.alarm;
    } catch (err) {
      throw unavailable(alarm, err);
    }
    if (!real) throw notConfirmed(alarm, `alarm ${alarm.name} does not exist in account ${account}, region ${region}`);
    const realAccount = real.arn?.split(':')[4];
    if (realAccount && realAccount !== account) {
      throw notConfirmed(alarm, `alarm ${alarm.name} belongs to account ${realAccount}, not ${account} as the message says`);
    }
    if (alarm.arn && real.arn && alarm.arn !== real.arn) {
      throw notConfirmed(alarm, `the message names alarm ${alarm.arn}; CloudWatch has ${real.arn}`);
    }

    let changedAt: string | null = null;
    const realMs = real.transitionedAt ? Date.parse(real.transitionedAt) : NaN;
    if (real.state === alarm.state && Math.abs(realMs - notifiedMs) <= toleranceMs) {
      changedAt = real.transitionedAt;
    } else if (realMs > notifiedMs) {
      // The alarm moved on since (a flap, or a slow delivery): its history says whether the notified change happened.
      let history;
      try {
        history = await this.cloudwatch.alarmStateHistory(ctx, target, alarm.name, new Date(notifiedMs - toleranceMs), new Date(notifiedMs + toleranceMs));
      } catch (err) {
        throw unavailable(alarm, err);
      }
      const match = history.find((h) => h.newState === alarm.state && Math.abs(Date.parse(h.at) - notifiedMs) <= toleranceMs);
      if (match) changedAt = match.at;
    }
    if (!changedAt) {
      throw notConfirmed(
        alarm,
        `alarm ${alarm.name} is ${real.state} since ${real.transitionedAt ?? 'an unknown time'}; CloudWatch has no change to ${alarm.state} at ${alarm.stateChangeTime}`,
      );
    }

    if (Object.keys(alarm.dimensions).length > 0 && !sameDimensions(alarm.dimensions, real.dimensions)) {
      throw notConfirmed(
        alarm,
        `the message's dimensions ${JSON.stringify(alarm.dimensions)} are not alarm ${alarm.name}'s (${JSON.stringify(real.dimensions)})`,
      );
    }
    return {
      ...alarm,
      arn: real.arn ?? alarm.arn,
      stateChangeTime: new Date(Date.parse(changedAt)).toISOString(),
      description: real.description,
      reason: real.state === alarm.state ? real.reason : alarm.reason,
      dimensions: { ...real.dimensions },
    };
  }

  private context(alarm: AlarmEvent): AwsCallContext {
    return { runId: '', runbookId: '', stepId: 'sns-alarm-confirmation', actor: `alarm:${alarm.name}`, dryRun: true, expiresAt: this.clock.now() };
  }
}

function sameDimensions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

function notConfirmed(alarm: AlarmEvent, reason: string): SnsError {
  return new SnsError('SNS_ALARM_NOT_CONFIRMED', `CloudWatch does not confirm this alarm: ${reason}`, { alarmName: alarm.name, reason });
}

function unavailable(alarm: AlarmEvent, err: unknown): SnsError {
  const code = err instanceof AwsStepError ? err.code : 'INTERNAL';
  return new SnsError(
    'SNS_ALARM_SOURCE_UNAVAILABLE',
    `CloudWatch could not be asked about alarm ${alarm.name} just now (${code}); SNS will deliver the message again`,
    {
      alarmName: alarm.name,
      awsCode: code,
    },
  );
}
