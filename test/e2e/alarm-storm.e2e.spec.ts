import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { cloudWatchAlarmMessage, createTestSnsSigner, type TestSnsSigner } from '../../scripts/sandbox/sns-signer';
import { eventually, Harness, REGION } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:storm-alarms`;
const CLUSTER = 'storm';
/** CloudWatch's DescribeAlarms quota as the proxy plays it: calls past this in any second are throttled. */
const QUOTA_PER_SECOND = 5;
const WAVE = 10;

/**
 * An alarm storm against a DescribeAlarms quota. Every rollback waits for its alarm to return to
 * OK by polling DescribeAlarms, and every new notification is confirmed with DescribeAlarms: in
 * one account they spend one quota. If the waits spend it, CloudWatch throttles the confirmations,
 * the notifications are answered 503 and, once SNS's retries run out, lost.
 */
describe('an alarm storm within the DescribeAlarms quota', () => {
  let h: Harness;
  let signer: TestSnsSigner;
  let dir: string;
  let ecs: ECSClient;
  let cw: CloudWatchClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runbookd-storm-'));
    signer = createTestSnsSigner(dir);
    h = await Harness.start({
      role: 'all',
      env: {
        RUNBOOKD_SNS_TOPICS: TOPIC,
        RUNBOOKD_SNS_CERTS_DIR: signer.certsDir,
        RUNBOOKD_WORKER_CONCURRENCY: '20',
        // One process does everything here, so its share is the whole quota, less one for safety.
        RUNBOOKD_DESCRIBE_ALARMS_PER_SECOND: String(QUOTA_PER_SECOND - 1),
      },
    });
    const config = { endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    ecs = new ECSClient(config);
    cw = new CloudWatchClient(config);
  });
  afterAll(async () => {
    ecs?.destroy();
    cw?.destroy();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const taskDefinition = (family: string, tag: string) => ({
    family,
    networkMode: 'awsvpc' as const,
    requiresCompatibilities: ['FARGATE' as const],
    cpu: '256',
    memory: '512',
    containerDefinitions: [{ name: 'app', image: `registry.example/${family}:${tag}`, essential: true }],
  });

  /** A service whose canary (revision 2) went out over a good revision 1, with its 5xx alarm firing. */
  async function canaryGoneBad(service: string): Promise<{ good: string; changedAt: Date }> {
    const good = (await ecs.send(new RegisterTaskDefinitionCommand(taskDefinition(service, 'good')))).taskDefinition!.taskDefinitionArn!;
    await ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName: service, taskDefinition: good, desiredCount: 1, launchType: 'FARGATE' }));
    const canary = (await ecs.send(new RegisterTaskDefinitionCommand(taskDefinition(service, 'canary')))).taskDefinition!.taskDefinitionArn!;
    await ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service, taskDefinition: canary, desiredCount: 1 }));
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: `${service}-5xx`,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [
          { Name: 'ClusterName', Value: CLUSTER },
          { Name: 'ServiceName', Value: service },
        ],
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: `${service}-5xx`, StateValue: 'ALARM', StateReason: 'canary errors' }));
    return { good, changedAt: new Date() };
  }

  async function notify(service: string, changedAt: Date): Promise<{ status: number; body: any }> {
    const body = signer.notification(
      TOPIC,
      cloudWatchAlarmMessage({ alarmName: `${service}-5xx`, cluster: CLUSTER, service, region: REGION, accountId: ACCOUNT, stateChangeTime: changedAt }),
    );
    const res = await fetch(`${h.baseUrl}/v1/webhooks/sns`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  it('confirms every notification and finishes every rollback while earlier rollbacks poll their alarms, never throttled', async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
    const services = Array.from({ length: 2 * WAVE }, (_, i) => `svc-${i}`);
    const seeded = new Map<string, { good: string; changedAt: Date }>();
    for (const s of services) seeded.set(s, await canaryGoneBad(s));
    h.proxy.rateLimit('monitoring:DescribeAlarms', QUOTA_PER_SECOND);
    // How many alarms each DescribeAlarms asked about (CloudWatch speaks JSON 1.0 to the SDK).
    const namesPerCall: number[] = [];
    h.proxy.onRequest('monitoring:DescribeAlarms', (info) => void namesPerCall.push((JSON.parse(info.body.toString()).AlarmNames ?? []).length));
    const started = Date.now();

    // Wave 1: rollbacks that end up waiting for their alarms, which stay in ALARM for now.
    const wave1 = await Promise.all(services.slice(0, WAVE).map((s) => notify(s, seeded.get(s)!.changedAt)));
    expect(wave1.map((r) => [r.status, r.body.outcome])).toEqual(wave1.map(() => [200, 'accepted']));
    const wave1Runs = wave1.map((r) => r.body.runs[0].runId as string);
    await eventually(
      async () => {
        const runs = await Promise.all(wave1Runs.map(async (id) => (await h.request('GET', `/v1/runs/${id}`)).body));
        return runs.every((r) => r.state === 'waiting' && r.steps.find((s: any) => s.id === 'alarm-ok')?.state === 'waiting') ? true : undefined;
      },
      30_000,
      'the first wave to wait for their alarms',
    );

    // Wave 2 arrives while the first wave polls: every notification is confirmed and accepted.
    const wave2 = await Promise.all(services.slice(WAVE).map((s) => notify(s, seeded.get(s)!.changedAt)));
    expect(wave2.map((r) => [r.status, r.body.outcome])).toEqual(wave2.map(() => [200, 'accepted']));
    const runIds = [...wave1Runs, ...wave2.map((r) => r.body.runs[0].runId as string)];

    // Polls keep going for a few rounds, then the rolled-back services recover.
    await eventually(async () => (Date.now() - started > 8_000 ? true : undefined), 15_000, 'a few polling rounds');
    for (const s of services) await cw.send(new SetAlarmStateCommand({ AlarmName: `${s}-5xx`, StateValue: 'OK', StateReason: 'rolled back' }));
    for (const id of runIds) expect((await h.waitForRun(id, undefined, 40_000)).state).toBe('succeeded');
    const elapsedS = (Date.now() - started) / 1000;

    for (const s of services) {
      const now = (await ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [s] }))).services![0];
      expect(now.taskDefinition).toBe(seeded.get(s)!.good);
    }
    expect(h.proxy.count('UpdateService')).toBe(2 * WAVE);
    // Never throttled, and the calls stayed within the configured rate.
    expect(h.proxy.throttled('monitoring:DescribeAlarms')).toBe(0);
    const calls = h.proxy.count('monitoring:DescribeAlarms');
    expect(calls).toBeLessThanOrEqual(Math.ceil(elapsedS * (QUOTA_PER_SECOND - 1)) + 1);
    // Confirmations and polls shared calls: some call asked about several alarms at once.
    expect(Math.max(...namesPerCall)).toBeGreaterThan(1);
  }, 120_000);
});
