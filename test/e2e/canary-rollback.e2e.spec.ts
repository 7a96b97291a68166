import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { cloudWatchAlarmMessage } from '../../scripts/sandbox/sns-signer';
import { checkoutTaskDefinition, SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { SnsCertificateFetcher } from '../../src/triggers/sns/sns-certificate.fetcher';
import { motoCertificate } from '../support/moto-sns';
import { eventually, Harness, REGION } from '../support/runbookd';

const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:${SANDBOX_CANARY.topic}`;

describe('canary-rollback end to end: moto SNS Publish → webhook → ECS rollback', () => {
  let h: Harness;
  const clientConfig = () => ({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  beforeAll(async () => {
    h = await Harness.start({ role: 'all', env: { RUNBOOKD_SNS_TOPICS: TOPIC } });
    jest.spyOn(h.app.get(SnsCertificateFetcher), 'fetch').mockImplementation(motoCertificate(h.moto.endpoint));
  });
  afterAll(async () => h?.close());

  it('rolls the service back to the previous task definition and reports the timeline', async () => {
    const ecs = new ECSClient(clientConfig());
    const sns = new SNSClient(clientConfig());
    const cloudwatch = new CloudWatchClient(clientConfig());
    try {
      const stable = (await ecs.send(new DescribeServicesCommand({ cluster: SANDBOX_CANARY.cluster, services: [SANDBOX_CANARY.service] }))).services![0]
        .taskDefinition!;
      // A canary deploy: a new revision goes out, and its 5xx alarm fires.
      const canary = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.42.0-bad')))).taskDefinition!
        .taskDefinitionArn!;
      await ecs.send(new UpdateServiceCommand({ cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, taskDefinition: canary }));
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'ALARM', StateReason: 'canary errors' }));

      await sns.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'http', Endpoint: `${h.baseUrl}/v1/webhooks/sns` }));
      // Without Subject: moto leaves it out of the string it signs even when it sends one.
      await sns.send(
        new PublishCommand({
          TopicArn: TOPIC,
          Message: cloudWatchAlarmMessage({
            alarmName: SANDBOX_CANARY.alarm,
            cluster: SANDBOX_CANARY.cluster,
            service: SANDBOX_CANARY.service,
            region: REGION,
            accountId: ACCOUNT,
          }),
        }),
      );

      const runId = await eventually(
        async () => {
          const list = (await h.request('GET', '/v1/runs?runbook=canary-rollback')).body.items;
          return list[0]?.id as string | undefined;
        },
        20_000,
        'the alarm to start canary-rollback',
      );
      await eventually(
        async () => {
          const s = (await ecs.send(new DescribeServicesCommand({ cluster: SANDBOX_CANARY.cluster, services: [SANDBOX_CANARY.service] }))).services![0];
          return s.taskDefinition === stable ? true : undefined;
        },
        30_000,
        'the service to be rolled back',
      );
      expect(h.proxy.count('UpdateService')).toBe(1); // runbookd's calls only (the test's own go straight to moto)
      // The canary's errors stop once the good revision runs again.
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'OK', StateReason: 'rolled back' }));

      const run = await h.waitForRun(runId, undefined, 30_000);
      expect(run.state).toBe('succeeded');
      const step = (id: string) => run.steps.find((s: any) => s.id === id);
      expect(step('target').output).toMatchObject({
        currentTaskDefinition: canary,
        targetTaskDefinition: stable,
        rule: 'previous-revision',
        changeNeeded: true,
      });
      expect(step('target').output.considered.map((c: any) => c.rule)).toEqual(['explicit', 'deployment-history', 'known-good-tag', 'previous-revision']);
      expect(step('rollback').output).toMatchObject({ previousTaskDefinition: canary, taskDefinition: stable, changed: true });
      expect(step('steady').state).toBe('succeeded');
      expect(step('alarm-ok').state).toBe('succeeded');

      const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
      const figure = (id: string) => report.figures.find((f: any) => f.id === id)?.value;
      expect(figure('from-task-definition')).toBe(canary.split('/').pop());
      expect(figure('to-task-definition')).toBe(stable.split('/').pop());
      expect(figure('deciding-rule')).toMatch(/previous ACTIVE revision/);
      for (const id of ['alarm-state-change-at', 'received-at', 'rollback-call-at', 'steady-at', 'alarm-ok-at']) expect(typeof figure(id)).toBe('string');
      for (const id of [
        'alarm-to-received-seconds',
        'received-to-rollback-seconds',
        'rollback-to-steady-seconds',
        'steady-to-alarm-ok-seconds',
        'alarm-to-recovered-seconds',
      ]) {
        expect(figure(id)).toBeGreaterThanOrEqual(0);
      }
      expect(report.findings).toEqual([expect.objectContaining({ id: 'alarm-recovered', passed: true })]);
      expect(report.final).toBe(true);

      // One message, one audit record saying what became of it.
      const webhook = (await h.request('GET', '/v1/audit?limit=500')).body.items.filter((r: any) => r.kind === 'sns.received');
      expect(webhook.map((r: any) => r.data.outcome)).toEqual(['accepted']);
    } finally {
      ecs.destroy();
      sns.destroy();
      cloudwatch.destroy();
    }
  });
});
