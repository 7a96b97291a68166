import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { checkoutTaskDefinition, SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { eventually, Harness, REGION, ROOT } from '../support/runbookd';

const ACCOUNT = '123456789012';
const KEY = `eb_${randomUUID()}`;
const HEADER = 'x-runbookd-api-key';
// The shape an EventBridge rule on CloudWatch alarm state changes delivers (a copy of the shared sample).
const SAMPLE = JSON.parse(readFileSync(path.join(ROOT, 'test', 'e2e', 'fixtures', 'cloudwatch-alarm-eventbridge.json'), 'utf8'));

/** The sample EventBridge event, about one alarm of the canary's cluster, changed at `at`. */
function alarmEvent(alarmName: string, service: string, at: Date, state = 'ALARM'): Record<string, any> {
  const e = structuredClone(SAMPLE);
  const t = at.toISOString().replace('Z', '+0000');
  e.id = randomUUID();
  e.time = at.toISOString().replace(/\.\d+Z$/, 'Z');
  e.region = REGION;
  e.account = ACCOUNT;
  e.resources = [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarmName}`];
  e.detail.alarmName = alarmName;
  e.detail.state.value = state;
  e.detail.state.timestamp = t;
  e.detail.configuration.metrics[0].metricStat.metric.dimensions = { ClusterName: SANDBOX_CANARY.cluster, ServiceName: service };
  return e;
}

/**
 * EventBridge as an alarm source: the API destination's key gets a post in, and then the event
 * takes the SNS notification's path (confirmation at CloudWatch, routing, dedupe), so a forged
 * event naming a quiet alarm starts nothing and a redelivery starts nothing twice.
 */
describe('EventBridge alarm events → the same alarm handling as SNS', () => {
  let h: Harness;
  let ecs: ECSClient;
  let cw: CloudWatchClient;
  const clientConfig = () => ({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  beforeAll(async () => {
    h = await Harness.start({
      role: 'all',
      env: { RUNBOOKD_EVENTBRIDGE_API_KEY_SHA256: `${'0'.repeat(64)},${createHash('sha256').update(KEY).digest('hex')}` },
    });
    ecs = new ECSClient(clientConfig());
    cw = new CloudWatchClient(clientConfig());
  });
  afterAll(async () => {
    ecs?.destroy();
    cw?.destroy();
    await h?.close();
  });

  const post = async (body: unknown, headers: Record<string, string> = { [HEADER]: KEY }) => {
    const res = await fetch(`${h.baseUrl}/v1/webhooks/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const runs = async () => (await h.request('GET', '/v1/runs?limit=200')).body.items as any[];
  const received = async () => (await h.request('GET', '/v1/audit?limit=1000')).body.items.filter((r: any) => r.kind === 'eventbridge.received');

  it('refuses a missing or wrong key (401), a malformed event and an oversized body, and starts nothing', async () => {
    const event = alarmEvent(SANDBOX_CANARY.alarm, SANDBOX_CANARY.service, new Date());
    expect((await post(event, {})).status).toBe(401);
    const wrong = await post(event, { [HEADER]: `${KEY}x` });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'WEBHOOK_UNAUTHENTICATED' } } });
    expect(JSON.stringify(wrong.body)).not.toContain(KEY);
    // runbookd's own API key is not the connection's key.
    expect((await post(event, { [HEADER]: h.keys.admin })).status).toBe(401);

    const notAlarm = { ...event, 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2' };
    expect(await post(notAlarm)).toMatchObject({ status: 400, body: { error: { code: 'WEBHOOK_EVENT_INVALID', details: { field: 'source' } } } });
    expect(await post({ ...event, id: 'x'.repeat(500) })).toMatchObject({
      status: 400,
      body: { error: { code: 'WEBHOOK_EVENT_INVALID', details: { field: 'id' } } },
    });
    expect(await post({ ...event, detail: { ...event.detail, alarmName: 7 } })).toMatchObject({
      status: 400,
      body: { error: { details: { field: 'detail.alarmName' } } },
    });
    expect((await post('{"id": ')).status).toBe(400);
    expect((await post('[1,2]')).status).toBe(400);
    const huge = { ...event, detail: { ...event.detail, padding: 'x'.repeat(2 * 1024 * 1024) } };
    expect((await post(huge)).status).toBe(413);
    expect(await runs()).toEqual([]);
    expect(await received()).toEqual([]);
  });

  it('a forged event naming an alarm that is OK at CloudWatch starts nothing (403), and its redelivery is a duplicate', async () => {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'billing-api-5xx',
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          { Name: 'ClusterName', Value: SANDBOX_CANARY.cluster },
          { Name: 'ServiceName', Value: 'billing-api' },
        ],
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'billing-api-5xx', StateValue: 'OK', StateReason: 'quiet' }));
    const forged = alarmEvent('billing-api-5xx', 'billing-api', new Date());
    const res = await post(forged);
    expect(res).toMatchObject({ status: 403, body: { error: { code: 'SNS_ALARM_NOT_CONFIRMED' } } });
    expect(res.body.error.message).toMatch(/is OK/);
    expect(await post(forged)).toMatchObject({ status: 200, body: { outcome: 'duplicate', runs: [] } });
    expect(await runs()).toEqual([]);
    expect((await received()).map((r: any) => r.data.outcome)).toEqual(['alarm-not-confirmed', 'duplicate']);
  });

  it('rolls the canary back as the SNS path does, once across redeliveries', async () => {
    const stable = (await ecs.send(new DescribeServicesCommand({ cluster: SANDBOX_CANARY.cluster, services: [SANDBOX_CANARY.service] }))).services![0]
      .taskDefinition!;
    const canary = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.42.0-bad')))).taskDefinition!
      .taskDefinitionArn!;
    await ecs.send(new UpdateServiceCommand({ cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, taskDefinition: canary }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'ALARM', StateReason: 'canary errors' }));
    const event = alarmEvent(SANDBOX_CANARY.alarm, SANDBOX_CANARY.service, new Date());

    const first = await post(event);
    expect(first).toMatchObject({
      status: 200,
      body: { eventId: event.id, outcome: 'accepted', runs: [{ runbookId: 'canary-rollback', outcome: 'accepted' }] },
    });
    const runId = first.body.runs[0].runId as string;
    // EventBridge delivers at least once: the same event again, twice at once, starts nothing more.
    const again = await Promise.all([post(event), post(event)]);
    for (const r of again) expect(r).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    // The same state change under another event id (a second rule, a replay from the archive) is the same run.
    const replayed = await post({ ...event, id: randomUUID() });
    expect(replayed.body.runs).toEqual([expect.objectContaining({ runbookId: 'canary-rollback', outcome: 'duplicate', runId })]);

    await eventually(
      async () => {
        const s = (await ecs.send(new DescribeServicesCommand({ cluster: SANDBOX_CANARY.cluster, services: [SANDBOX_CANARY.service] }))).services![0];
        return s.taskDefinition === stable ? true : undefined;
      },
      30_000,
      'the service to be rolled back',
    );
    expect(h.proxy.count('UpdateService')).toBe(1);
    await cw.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'OK', StateReason: 'rolled back' }));
    const run = await h.waitForRun(runId, undefined, 30_000);
    expect(run.state).toBe('succeeded');
    expect(run.trigger).toMatchObject({ kind: 'alarm', via: 'eventbridge', alarmName: SANDBOX_CANARY.alarm, messageId: `eventbridge:${event.id}` });
    expect(run.parameters).toMatchObject({ cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, alarmName: SANDBOX_CANARY.alarm });
    expect(run.steps.find((s: any) => s.id === 'rollback').output).toMatchObject({ previousTaskDefinition: canary, taskDefinition: stable, changed: true });
    expect((await runs()).filter((r) => r.runbookId === 'canary-rollback')).toHaveLength(1);
  });
});
