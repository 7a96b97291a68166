import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchClient, DescribeAlarmHistoryCommand, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { AuditService } from '../../src/audit/audit.service';
import { AlarmReaderService } from '../../src/aws/alarm-reader.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import type { AlarmEvent } from '../../src/triggers/sns/alarm-event';
import { AlarmConfirmationService } from '../../src/triggers/sns/alarm-confirmation.service';

/** moto has no DescribeAlarmHistory: the "state moved on since" path is checked at the SDK boundary. */
describe('AlarmConfirmationService: an alarm that moved on since the notification', () => {
  const cw = mockClient(CloudWatchClient);
  const config = Object.assign(new AppConfig(), {
    aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {}, alarmRoleArns: [], describeAlarmsPerSecond: 50 },
    scope: { allowedAccounts: [] },
    sns: { alarmTimeToleranceSeconds: 60 },
  });
  const confirmationService = (c: AppConfig) => {
    const cloudwatch = new CloudWatchAdapter(factory, new AwsCallerService({} as AuditService));
    return new AlarmConfirmationService(new AlarmReaderService(cloudwatch, c, new Clock()), cloudwatch, c, new Clock());
  };
  const factory = new AwsClientFactory(config);
  const service = confirmationService(config);
  afterAll(() => factory.destroy());
  beforeEach(() => cw.reset());

  const notified = new Date(Date.now() - 120_000);
  const event: AlarmEvent = {
    name: 'flap-api-5xx',
    arn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:flap-api-5xx',
    state: 'ALARM',
    previousState: 'OK',
    stateChangeTime: notified.toISOString(),
    reason: null,
    description: null,
    region: 'eu-west-1',
    accountId: '123456789012',
    dimensions: { ServiceName: 'flap-api' },
    source: 'cloudwatch',
  };
  const nowOk = () =>
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: 'flap-api-5xx',
          AlarmArn: event.arn!,
          StateValue: 'OK',
          StateTransitionedTimestamp: new Date(notified.getTime() + 60_000),
          Dimensions: [{ Name: 'ServiceName', Value: 'flap-api' }],
        },
      ],
    });

  it("confirms from the history when the alarm is OK again, with CloudWatch's own time", async () => {
    nowOk();
    const at = new Date(notified.getTime() + 400);
    cw.on(DescribeAlarmHistoryCommand).resolves({
      AlarmHistoryItems: [
        {
          AlarmName: 'flap-api-5xx',
          Timestamp: at,
          HistoryItemType: 'StateUpdate',
          HistoryData: JSON.stringify({ oldState: { stateValue: 'OK' }, newState: { stateValue: 'ALARM' } }),
        },
      ],
    });
    const confirmed = await service.confirm(event);
    expect(confirmed.stateChangeTime).toBe(at.toISOString());
    expect(confirmed.dimensions).toEqual({ ServiceName: 'flap-api' });
    expect(cw.commandCalls(DescribeAlarmHistoryCommand)[0].args[0].input).toMatchObject({ AlarmName: 'flap-api-5xx', HistoryItemType: 'StateUpdate' });
  });

  it('refuses when the history has no such change', async () => {
    nowOk();
    cw.on(DescribeAlarmHistoryCommand).resolves({ AlarmHistoryItems: [] });
    await expect(service.confirm({ ...event, name: 'flap-api-5xx' })).rejects.toMatchObject({ code: 'SNS_ALARM_NOT_CONFIRMED' });
  });

  it('refuses an account runbookd is not configured to act in, without asking CloudWatch', async () => {
    const narrow = confirmationService(Object.assign(new AppConfig(), { ...config, scope: { ...config.scope, allowedAccounts: ['210987654321'] } }));
    await expect(narrow.confirm(event)).rejects.toMatchObject({ code: 'SNS_ALARM_NOT_CONFIRMED', message: expect.stringMatching(/account 123456789012/) });
    expect(cw.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });
});
