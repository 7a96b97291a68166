import { performance } from 'node:perf_hooks';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchClient, DescribeAlarmsCommand, type DescribeAlarmsCommandInput } from '@aws-sdk/client-cloudwatch';
import type { AuditService } from '../../src/audit/audit.service';
import { AlarmReaderService } from '../../src/aws/alarm-reader.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';

/**
 * Every alarm read in a process spends one DescribeAlarms quota (a few calls a second per
 * account and region). These read in storms at the SDK boundary and count the calls that go out.
 */
describe('AlarmReaderService: one paced DescribeAlarms stream per region and role', () => {
  const cw = mockClient(CloudWatchClient);
  const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {}, describeAlarmsPerSecond: 4 } });
  const factory = new AwsClientFactory(config);
  const newReader = () => new AlarmReaderService(new CloudWatchAdapter(factory, new AwsCallerService({} as AuditService)), config, new Clock());
  const ctx: AwsCallContext = { runId: 'r', runbookId: 'rb', stepId: 's', actor: 'test', dryRun: false, expiresAt: new Date(Date.now() + 60_000) };
  /** When each DescribeAlarms went out (performance.now) and what it asked for. */
  let sent: { at: number; names: string[] }[];
  let state: (name: string) => string;
  /** The next call asking for this alarm fails (by name, not by order: two regions' paced calls race). */
  let failFor: string | undefined;

  beforeEach(() => {
    cw.reset();
    sent = [];
    state = () => 'ALARM';
    failFor = undefined;
    cw.on(DescribeAlarmsCommand).callsFake(async (input: DescribeAlarmsCommandInput) => {
      const names = input.AlarmNames ?? [];
      sent.push({ at: performance.now(), names });
      if (failFor && names.includes(failFor)) {
        failFor = undefined;
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client', $metadata: { httpStatusCode: 400 } });
      }
      return {
        MetricAlarms: names.filter((n) => !n.startsWith('missing')).map((n) => ({ AlarmName: n, StateValue: state(n), StateUpdatedTimestamp: new Date() })),
      };
    });
  });
  afterAll(() => factory.destroy());

  it('answers a burst of 60 reads (waits polling, confirmations) with one call, each with its own alarm', async () => {
    const reader = newReader();
    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => reader.states(ctx, 'eu-west-1', [`wait-${i}`])),
      ...Array.from({ length: 30 }, (_, i) => reader.read(ctx, 'eu-west-1', [`confirm-${i}`], Date.now() - 1000)),
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0].names).toHaveLength(60);
    results
      .slice(0, 30)
      .forEach((r, i) => expect(r).toEqual({ alarms: [{ name: `wait-${i}`, state: 'ALARM', reason: '', updatedAt: expect.any(String) }], missing: [] }));
    results.slice(30).forEach((r, i) => expect((r as Map<string, any>).get(`confirm-${i}`)?.alarm).toMatchObject({ name: `confirm-${i}`, state: 'ALARM' }));
    expect(await reader.states(ctx, 'eu-west-1', ['missing-1', 'wait-1'])).toMatchObject({ alarms: [{ name: 'wait-1' }], missing: ['missing-1'] });
  });

  it('keeps to the configured rate however many ask, at most 100 names a call, one call at a time', async () => {
    const reader = newReader();
    const started = performance.now();
    const reads: Promise<unknown>[] = [];
    // 250 distinct alarms asked for over about 1.2 s, as a storm's notifications and waits would.
    for (let i = 0; i < 250; i++) {
      reads.push(reader.states(ctx, 'eu-west-1', [`a-${i}`]));
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(reads);
    const elapsed = performance.now() - started;
    expect(sent.every((c) => c.names.length <= 100)).toBe(true);
    expect(new Set(sent.flatMap((c) => c.names)).size).toBe(250);
    // 250 ms apart when they leave the reader; the mock sees them after the SDK's own middleware,
    // whose time varies by a few ms from call to call (a CI run saw 241 ms between two).
    for (let i = 1; i < sent.length; i++) expect(sent[i].at - sent[i - 1].at).toBeGreaterThanOrEqual(225);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil((elapsed / 1000) * 4) + 1);
  });

  it('never answers from a call that went out before the read was asked, unless the caller accepts an older reading', async () => {
    const reader = newReader();
    state = () => 'ALARM';
    expect((await reader.states(ctx, 'eu-west-1', ['api-5xx'])).alarms[0].state).toBe('ALARM');
    state = () => 'OK';
    // A poll wants CloudWatch now: a new call, paced.
    expect((await reader.states(ctx, 'eu-west-1', ['api-5xx'])).alarms[0].state).toBe('OK');
    expect(sent).toHaveLength(2);
    // A confirmation of a change from a minute ago takes the reading just made.
    expect((await reader.read(ctx, 'eu-west-1', ['api-5xx'], Date.now() - 60_000)).get('api-5xx')?.alarm?.state).toBe('OK');
    expect(sent).toHaveLength(2);
  });

  it('keeps regions and roles apart, and a failed call fails only the reads it was for', async () => {
    const reader = newReader();
    await Promise.all([reader.states(ctx, 'eu-west-1', ['x']), reader.states(ctx, 'us-east-1', ['y'])]);
    expect(sent).toHaveLength(2);
    failFor = 'x';
    const [failed, other] = await Promise.allSettled([reader.states(ctx, 'eu-west-1', ['x']), reader.states(ctx, 'us-east-1', ['y'])]);
    expect(failed).toMatchObject({ status: 'rejected', reason: { code: 'AWS_THROTTLED' } });
    expect(other).toMatchObject({ status: 'fulfilled' });
    expect((await reader.states(ctx, 'eu-west-1', ['x'])).alarms[0].name).toBe('x');
  });
});
