import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { cloudWatchAlarmMessage } from '../../scripts/sandbox/sns-signer';
import { checkoutTaskDefinition, SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { SnsCertificateFetcher } from '../../src/triggers/sns/sns-certificate.fetcher';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { motoCertificate } from '../support/moto-sns';
import { eventually, Harness, REGION, ROOT } from '../support/runbookd';

const SERVER = 2;
const CLIENT = 3;
const ACCOUNT = '123456789012';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:${SANDBOX_CANARY.topic}`;
const otelEnv = (receiver: OtlpReceiver) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_SERVICE_NAME: 'runbookd-test',
});

/**
 * The spans of one run's trace, once the span named `awaiting` and a span of each of `steps`
 * (ended as recorded) have arrived: spans are exported in batches, after the run has ended.
 */
async function traceOf(receiver: OtlpReceiver, runId: string, awaiting: string, steps: { id: string; state: string }[] = []): Promise<ReceivedSpan[]> {
  const traceId = await eventually(() => receiver.spans.find((s) => s.attributes['runbookd.run_id'] === runId)?.traceId, 20_000, `spans of ${runId}`);
  return eventually(
    () => {
      const spans = receiver.trace(traceId);
      const stepsIn = steps.every((st) => spans.some((s) => s.attributes['runbookd.step_id'] === st.id && s.attributes['runbookd.step.outcome'] === st.state));
      return stepsIn && spans.some((s) => s.name === awaiting) ? spans : undefined;
    },
    20_000,
    `span ${awaiting} and every step's in trace ${traceId}`,
  );
}

describe('OpenTelemetry: one trace per run, exported over OTLP/HTTP', () => {
  let receiver: OtlpReceiver;
  let h: Harness;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    h = await Harness.start({ role: 'all', env: { ...otelEnv(receiver), RUNBOOKD_SNS_TOPICS: TOPIC } });
    jest.spyOn(h.app.get(SnsCertificateFetcher), 'fetch').mockImplementation(motoCertificate(h.moto.endpoint));
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.stop();
  });

  it('a failover test is one trace: the HTTP request at its root, a span per step, an AWS span for FailoverDBCluster under its step', async () => {
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'traced' },
    });
    expect(res.status).toBe(202);
    const run = await h.waitForRun(res.body.id);
    expect(run.state).toBe('succeeded');

    const spans = await traceOf(receiver, run.id, 'rds.FailoverDBCluster', run.steps);
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => [s.name, s.kind])).toEqual([['POST /v1/runbooks/:id/runs', SERVER]]);
    const root = roots[0];
    expect(root.attributes['http.response.status_code']).toBe(202);
    expect(root.service).toBe('runbookd-test');

    const stepSpans = spans.filter((s) => s.name.startsWith('step '));
    for (const s of stepSpans) {
      expect(s.parentSpanId).toBe(root.spanId);
      expect(s.attributes).toMatchObject({ 'runbookd.runbook': 'failover-test', 'runbookd.run_id': run.id });
    }
    // Every step the run recorded has its span, with what it used and how it ended.
    for (const step of run.steps) {
      const own = stepSpans.filter((s) => s.attributes['runbookd.step_id'] === step.id);
      expect(own.length).toBeGreaterThanOrEqual(1);
      expect(own[own.length - 1].attributes).toMatchObject({
        'runbookd.step.uses': step.uses,
        'runbookd.step.outcome': step.state,
        'runbookd.step.attempt': step.attempts,
      });
    }
    const failoverStep = stepSpans.find((s) => s.attributes['runbookd.step_id'] === 'failover')!;
    expect(failoverStep.attributes['runbookd.step.mutating']).toBe(true);

    // Exactly one FailoverDBCluster went out (the proxy counts it) and exactly one span says so, under its step.
    expect(h.proxy.count('FailoverDBCluster')).toBe(1);
    const aws = spans.filter((s) => s.name === 'rds.FailoverDBCluster');
    expect(aws).toHaveLength(1);
    expect(aws[0].kind).toBe(CLIENT);
    expect(aws[0].parentSpanId).toBe(failoverStep.spanId);
    expect(aws[0].attributes).toMatchObject({
      'rpc.service': 'rds',
      'rpc.method': 'FailoverDBCluster',
      'cloud.region': REGION,
      'runbookd.aws.mutating': true,
      'http.response.status_code': 200,
    });
    expect(typeof aws[0].attributes['aws.request_id']).toBe('string');
    // Reads are traced too, each under the step that made it.
    const reads = spans.filter((s) => s.kind === CLIENT && s.attributes['runbookd.aws.mutating'] === false);
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(stepSpans.map((s) => s.spanId)).toContain(r.parentSpanId);
    // Waits are events on short looks, never a span as long as the wait.
    for (const s of stepSpans.filter((x) => x.attributes['runbookd.step.outcome'] === 'waiting')) expect(s.events.map((e) => e.name)).toContain('wait');

    // The run records the trace it belongs to, so a resumed run (any worker) joins the same trace.
    const stored = (await h.request('GET', `/v1/runs/${run.id}`)).body;
    expect(stored.trigger.traceparent).toMatch(new RegExp(`^00-${root.traceId}-${root.spanId}-01$`));
  });

  it('a caller that traces sees the run inside its own trace (W3C traceparent honoured)', async () => {
    const callerTrace = 'a'.repeat(31) + '1';
    const res = await h.request('POST', '/v1/runbooks/failover-test/runs', {
      key: h.keys.operator,
      headers: { traceparent: `00-${callerTrace}-${'b'.repeat(16)}-01` },
      body: { parameters: { clusterIdentifier: 'orders-aurora' }, reason: 'traced from CI' },
    });
    const run = await h.waitForRun(res.body.id);
    const spans = await traceOf(receiver, run.id, 'rds.FailoverDBCluster');
    expect(spans[0].traceId).toBe(callerTrace);
    expect(spans.find((s) => s.name === 'POST /v1/runbooks/:id/runs')!.parentSpanId).toBe('b'.repeat(16));
  });

  it('an alarm-started rollback is one trace starting at the SNS message', async () => {
    const cfg = { endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const ecs = new ECSClient(cfg);
    const sns = new SNSClient(cfg);
    const cloudwatch = new CloudWatchClient(cfg);
    try {
      const canary = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-api:1.42.0-bad')))).taskDefinition!
        .taskDefinitionArn!;
      await ecs.send(new UpdateServiceCommand({ cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, taskDefinition: canary }));
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'ALARM', StateReason: 'canary errors' }));
      await sns.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'http', Endpoint: `${h.baseUrl}/v1/webhooks/sns` }));
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
        async () => (await h.request('GET', '/v1/runs?runbook=canary-rollback')).body.items[0]?.id as string | undefined,
        20_000,
        'the alarm to start canary-rollback',
      );
      const spans = await traceOf(receiver, runId, 'ecs.UpdateService', [{ id: 'rollback', state: 'succeeded' }]);
      const root = spans.filter((s) => !s.parentSpanId);
      expect(root.map((s) => s.name)).toEqual(['POST /v1/webhooks/sns']);
      const rollback = spans.find((s) => s.name === 'step rollback')!;
      expect(rollback.parentSpanId).toBe(root[0].spanId);
      expect(spans.find((s) => s.name === 'ecs.UpdateService')!.parentSpanId).toBe(rollback.spanId);
      // The CloudWatch confirmation the webhook made before accepting is in the same trace.
      expect(spans.some((s) => s.name === 'cloudwatch.DescribeAlarms')).toBe(true);
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: 'OK', StateReason: 'rolled back' }));
      await h.waitForRun(runId, undefined, 30_000);
    } finally {
      ecs.destroy();
      sns.destroy();
      cloudwatch.destroy();
    }
  });

  it('with tracing off, no OpenTelemetry module is loaded; with it on, they are (so the check can fail)', async () => {
    const main = path.join(ROOT, 'dist', 'app.factory.js');
    // A process of its own: Jest's module registry is not Node's require.cache.
    const script = `
      const { loadConfig } = require(${JSON.stringify(path.join(ROOT, 'dist', 'config', 'app.config.js'))});
      const { createApp } = require(${JSON.stringify(main)});
      createApp(loadConfig({ ...process.env, RUNBOOKD_ROLE: 'all' })).then(async (app) => {
        await app.init();
        const files = Object.keys(require.cache);
        const packages = [...new Set(files.filter((k) => k.includes('/node_modules/@opentelemetry/')).map((k) => k.split('/node_modules/').pop().split('/').slice(0, 2).join('/')))];
        if (files.some((k) => k.endsWith('otlp-trace.backend.js'))) packages.push('runbookd:otlp-trace.backend');
        await app.close();
        process.stdout.write(JSON.stringify(packages.sort()));
        process.exit(0);
      }, (err) => { console.error(err); process.exit(1); });`;
    const { OTEL_EXPORTER_OTLP_ENDPOINT: _, ...off } = h.env;
    const run = async (env: Record<string, string>): Promise<string[]> =>
      JSON.parse((await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: ROOT })).stdout);
    // prom-client (the /metrics library) depends on the API package itself, a no-op facade it
    // always loads; nothing of the SDK, the exporter or runbookd's backend loads with tracing off.
    expect(await run(off)).toEqual(['@opentelemetry/api']);
    expect(await run({ ...off, ...otelEnv(receiver) })).toEqual(
      expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http', 'runbookd:otlp-trace.backend']),
    );
  });
});
