import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { cloudWatchAlarmMessage, createTestSnsSigner, TestSnsSigner } from '../../scripts/sandbox/sns-signer';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { Harness, REGION } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:sandbox-alarms`;

/**
 * A valid SNS signature proves the message came through SNS, not that CloudWatch wrote it: anyone
 * allowed to publish to the topic can post any alarm JSON. These messages are all validly signed;
 * only CloudWatch (moto) says which of them describe a real alarm state change.
 */
describe('alarm notifications are confirmed at CloudWatch before anything starts', () => {
  let h: Harness;
  let signer: TestSnsSigner;
  let dir: string;
  let cw: CloudWatchClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runbookd-alarm-confirm-'));
    signer = createTestSnsSigner(dir);
    // API only: accepted runs stay queued, so the test sees what started without any rollback running.
    h = await Harness.start({ role: 'api', seed: false, env: { RUNBOOKD_SNS_TOPICS: TOPIC, RUNBOOKD_SNS_CERTS_DIR: signer.certsDir } });
    cw = new CloudWatchClient({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  });
  afterAll(async () => {
    cw?.destroy();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A real alarm in moto on one ECS service's 5xx count, put in `state`; returns when CloudWatch says it changed. */
  const realAlarm = async (name: string, service: string, state: 'ALARM' | 'OK' = 'ALARM'): Promise<Date> => {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          { Name: 'ClusterName', Value: 'shop' },
          { Name: 'ServiceName', Value: service },
        ],
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'test' }));
    return new Date();
  };
  const post = async (message: string) => {
    const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: JSON.stringify(signer.notification(TOPIC, message)),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) };
  };
  const runs = async () => (await h.request('GET', '/v1/runs?limit=200')).body.items as any[];
  const received = async () => (await h.request('GET', '/v1/audit?limit=1000')).body.items.filter((r: any) => r.kind === 'sns.received');
  const message = (alarmName: string, service: string, extra: { state?: string; stateChangeTime?: Date } = {}) =>
    cloudWatchAlarmMessage({ alarmName, cluster: 'shop', service, region: REGION, accountId: ACCOUNT, ...extra });

  it('refuses an alarm that does not exist, one that is OK in CloudWatch, and one carrying other dimensions; records each and starts nothing', async () => {
    const before = (await runs()).length;
    const okAt = await realAlarm('quiet-api-5xx', 'quiet-api', 'OK');
    const firingAt = await realAlarm('pay-api-5xx', 'pay-api', 'ALARM');
    const cases: Array<[string, string, RegExp]> = [
      ['missing', message('ghost-api-5xx', 'ghost-api'), /does not exist/],
      ['ok in CloudWatch', message('quiet-api-5xx', 'quiet-api', { stateChangeTime: okAt }), /is OK/],
      // The alarm is real and firing, but about pay-api: the message would roll back checkout-api.
      ['other dimensions', message('pay-api-5xx', 'checkout-api', { stateChangeTime: firingAt }), /dimensions/],
      // Real and firing, but the message claims a change five minutes after the one CloudWatch saw.
      ['other time', message('pay-api-5xx', 'pay-api', { stateChangeTime: new Date(firingAt.getTime() + 5 * 60_000) }), /no change to ALARM at/],
    ];
    for (const [what, body, reason] of cases) {
      const res = await post(body);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status: 403, code: 'SNS_ALARM_NOT_CONFIRMED' });
      expect(res.body.error.message).toMatch(reason);
    }
    expect((await runs()).length).toBe(before);
    const refused = (await received()).filter((r: any) => r.data.outcome === 'alarm-not-confirmed');
    expect(refused).toHaveLength(cases.length);
    for (const r of refused) expect(typeof r.data.reason).toBe('string');

    // The forged pay-api message took no concurrency guard: the genuine alarm for the same service still starts its run.
    const genuine = await post(message('pay-api-5xx', 'pay-api', { stateChangeTime: firingAt }));
    expect(genuine.status).toBe(200);
    expect(genuine.body).toMatchObject({ outcome: 'accepted', runs: [{ runbookId: 'canary-rollback', outcome: 'accepted' }] });
  });

  it("starts exactly one run for the real alarm, with the alarm's own dimensions", async () => {
    const at = await realAlarm('cart-api-5xx', 'cart-api');
    const before = (await runs()).length;
    const res = await post(message('cart-api-5xx', 'cart-api', { stateChangeTime: at }));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('accepted');
    const again = await post(message('cart-api-5xx', 'cart-api', { stateChangeTime: at }));
    expect(again.body.outcome).toBe('duplicate');
    expect((await runs()).length).toBe(before + 1);
    const run = (await h.request('GET', `/v1/runs/${res.body.runs[0].runId}`)).body;
    expect(run.parameters).toMatchObject({ cluster: 'shop', service: 'cart-api', region: REGION, alarmName: 'cart-api-5xx' });
  });

  it("uses the alarm's configured dimensions when the message leaves them out", async () => {
    const at = await realAlarm('bare-api-5xx', 'bare-api');
    const bare = JSON.parse(message('bare-api-5xx', 'bare-api', { stateChangeTime: at }));
    bare.Trigger.Dimensions = [];
    // The runbook's trigger matches on dimensions: only CloudWatch's copy can make this one match.
    const res = await post(JSON.stringify(bare));
    expect(res.status).toBe(200);
    const run = (await h.request('GET', `/v1/runs/${res.body.runs[0].runId}`)).body;
    expect(run.parameters).toMatchObject({ cluster: 'shop', service: 'bare-api' });
  });

  it('asks CloudWatch in batches during an alarm storm, not once per message', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `storm-${i}-api`);
    const at = new Map<string, Date>();
    for (const n of names) at.set(n, await realAlarm(`${n}-5xx`, n));
    const calls = h.proxy.count('DescribeAlarms');
    // CloudWatch answering slowly, as it does under a storm: names asked for meanwhile wait for the next call.
    h.proxy.holdResponses('DescribeAlarms', 500);
    const answers = await Promise.all(names.flatMap((n) => [1, 2].map(() => post(message(`${n}-5xx`, n, { stateChangeTime: at.get(n) })))));
    expect(answers.map((a) => a.status).every((s) => s === 200)).toBe(true);
    expect(answers.filter((a) => a.body.outcome === 'accepted')).toHaveLength(names.length);
    // 40 messages about 20 alarms; batches of up to 100 names and a short cache: a handful of calls.
    h.proxy.holdResponses('DescribeAlarms', 0);
    expect(h.proxy.count('DescribeAlarms') - calls).toBeLessThanOrEqual(6);
  });

  it('leaves a record for a confirmed alarm whose run is then refused (here: a region outside the allow-list)', async () => {
    const west = new CloudWatchClient({ endpoint: h.moto.endpoint, region: 'us-west-2', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      await west.send(
        new PutMetricAlarmCommand({
          AlarmName: 'west-api-5xx',
          Namespace: 'AWS/ApplicationELB',
          MetricName: 'HTTPCode_Target_5XX_Count',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 5,
          ComparisonOperator: 'GreaterThanThreshold',
          Dimensions: [
            { Name: 'ClusterName', Value: 'shop' },
            { Name: 'ServiceName', Value: 'west-api' },
          ],
        }),
      );
      await west.send(new SetAlarmStateCommand({ AlarmName: 'west-api-5xx', StateValue: 'ALARM', StateReason: 'test' }));
    } finally {
      west.destroy();
    }
    const before = (await runs()).length;
    const res = await post(
      cloudWatchAlarmMessage({ alarmName: 'west-api-5xx', cluster: 'shop', service: 'west-api', region: 'us-west-2', accountId: ACCOUNT }),
    );
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('TARGET_NOT_ALLOWED');
    expect((await runs()).length).toBe(before);
    const failed = (await received()).filter((r: any) => r.data.outcome === 'failed');
    expect(failed.map((r: any) => r.data.code)).toEqual(['TARGET_NOT_ALLOWED']);
  });

  it('answers 503 (SNS delivers again) and starts nothing when CloudWatch cannot be reached; the redelivery then starts the run', async () => {
    const at = await realAlarm('flaky-api-5xx', 'flaky-api');
    const client = h.app.get(AwsClientFactory).cloudwatch(REGION);
    const down = jest
      .spyOn(client, 'send')
      .mockRejectedValue(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: {} }) as never);
    const before = (await runs()).length;
    const body = JSON.stringify(signer.notification(TOPIC, message('flaky-api-5xx', 'flaky-api', { stateChangeTime: at })));
    const send = () => fetch(`${h.baseUrl}/v1/webhooks/sns`, { method: 'POST', headers: { 'content-type': 'text/plain; charset=UTF-8' }, body });
    let res = await send();
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('SNS_ALARM_SOURCE_UNAVAILABLE');
    expect((await runs()).length).toBe(before);
    expect((await received()).some((r: any) => r.data.outcome === 'alarm-source-unavailable')).toBe(true);
    down.mockRestore();
    res = await send();
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).outcome).toBe('accepted');
  });
});
