import { mockClient } from 'aws-sdk-client-mock';
import {
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  type DescribeServicesCommandOutput,
  ListServiceDeploymentsCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionsCommand,
  TagResourceCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { Logger } from '@nestjs/common';
import type { AuditService } from '../../src/audit/audit.service';
import { AlarmReaderService } from '../../src/aws/alarm-reader.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { EcsAdapter } from '../../src/aws/ecs.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import type { StepContext } from '../../src/steps/step.contract';
import { WaitForAlarmStateStep } from '../../src/steps/cloudwatch/wait-for-alarm-state.step';
import { MarkKnownGoodStep } from '../../src/steps/ecs/mark-known-good.step';
import { ResolveRollbackTargetStep } from '../../src/steps/ecs/resolve-rollback-target.step';
import { UpdateServiceTaskDefinitionStep } from '../../src/steps/ecs/update-service-task-definition.step';
import { WaitForSteadyStateStep } from '../../src/steps/ecs/wait-for-steady-state.step';

/**
 * The last-known-good rules and the rollback's look-before-act against a mocked ECS: moto records
 * no deployment history (no ListServiceDeployments) and UpdateService creates no deployment.
 */
const ecsMock = mockClient(ECSClient);
const cwMock = mockClient(CloudWatchClient);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {}, describeAlarmsPerSecond: 50 } });
const audit = { append: jest.fn(async () => ({})), appendMany: jest.fn(async () => []) } as unknown as AuditService;
const clients = new AwsClientFactory(config);
const caller = new AwsCallerService(audit);
const ecs = new EcsAdapter(clients, caller);
const cloudwatch = new CloudWatchAdapter(clients, caller);
const alarms = new AlarmReaderService(cloudwatch, config, new Clock());

class FixedClock extends Clock {
  constructor(public ms: number) {
    super();
  }
  override now(): Date {
    return new Date(this.ms);
  }
  override nowMs(): number {
    return this.ms;
  }
}
const T0 = Date.parse('2026-11-22T10:00:00Z');
const TD = (rev: number, family = 'api') => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${family}:${rev}`;

function ctx(memory: Record<string, unknown> = {}): StepContext {
  return {
    runId: 'r1',
    runbookId: 'canary-rollback',
    stepId: 's',
    attempt: 1,
    startedAt: new Date(T0),
    memory,
    checkpoint: jest.fn(async () => undefined),
    dryRun: false,
    expiresAt: new Date(T0 + 86_400_000),
    aws: { runId: 'r1', runbookId: 'canary-rollback', stepId: 's', actor: 'sns:t', dryRun: false, expiresAt: new Date(T0 + 86_400_000) },
    log: new Logger('test'),
  };
}

const service = (taskDefinition: string, over: Record<string, unknown> = {}): DescribeServicesCommandOutput =>
  ({
    services: [
      {
        serviceName: 'api',
        serviceArn: 'arn:aws:ecs:eu-west-1:123456789012:service/prod/api',
        clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/prod',
        status: 'ACTIVE',
        taskDefinition,
        desiredCount: 3,
        runningCount: 3,
        pendingCount: 0,
        deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition, rolloutState: 'COMPLETED', desiredCount: 3, runningCount: 3 }],
        ...over,
      },
    ],
    failures: [],
  }) as unknown as DescribeServicesCommandOutput;

const subject = { cluster: 'prod', service: 'api' };

beforeEach(() => {
  ecsMock.reset();
  cwMock.reset();
  ecsMock.on(DescribeServicesCommand).resolves(service(TD(7)));
  ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD(7), TD(6), TD(5), TD(4)] });
  ecsMock.on(ListTagsForResourceCommand).resolves({ tags: [] });
  ecsMock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [] });
});

describe('last known good task definition', () => {
  const resolve = () => new ResolveRollbackTargetStep(ecs, config);

  it('rule 1: an explicit taskDefinition wins over everything else', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(3), family: 'api', revision: 3, status: 'ACTIVE' } });
    const out = await resolve().run({ ...subject, taskDefinition: 'api:3' }, ctx());
    expect(out).toMatchObject({ kind: 'done', output: { rule: 'explicit', targetTaskDefinition: TD(3), currentTaskDefinition: TD(7), changeNeeded: true } });
    expect(ecsMock.commandCalls(ListServiceDeploymentsCommand)).toHaveLength(0);
  });

  it('rule 1 naming the current revision: a recorded no-op', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(7), family: 'api', revision: 7, status: 'ACTIVE' } });
    const out = await resolve().run({ ...subject, taskDefinition: 'api:7' }, ctx());
    expect(out).toMatchObject({ output: { rule: 'explicit', changeNeeded: false } });
    expect(new ResolveRollbackTargetStep(ecs, config).summarize((out as any).output)).toMatch(/nothing to roll back/);
  });

  it('rule 2: the newest SUCCESSFUL deployment whose target differs from the current one', async () => {
    ecsMock.on(ListServiceDeploymentsCommand).resolves({
      serviceDeployments: [
        { serviceDeploymentArn: 'arn:d/3', status: 'IN_PROGRESS', targetServiceRevisionArn: 'rev-7', createdAt: new Date(T0 - 60_000) },
        {
          serviceDeploymentArn: 'arn:d/2',
          status: 'SUCCESSFUL',
          targetServiceRevisionArn: 'rev-5',
          createdAt: new Date(T0 - 3_600_000),
          finishedAt: new Date(T0 - 3_000_000),
        },
        { serviceDeploymentArn: 'arn:d/1', status: 'SUCCESSFUL', targetServiceRevisionArn: 'rev-4', createdAt: new Date(T0 - 7_200_000) },
        { serviceDeploymentArn: 'arn:d/4', status: 'SUCCESSFUL', targetServiceRevisionArn: 'rev-7b', createdAt: new Date(T0 - 120_000) },
      ],
    });
    ecsMock.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [
        { serviceRevisionArn: 'rev-5', taskDefinition: TD(5) },
        { serviceRevisionArn: 'rev-4', taskDefinition: TD(4) },
        // A SUCCESSFUL deployment of the current revision (a scale-out, a forced redeploy) is not a rollback target.
        { serviceRevisionArn: 'rev-7b', taskDefinition: TD(7) },
      ],
    });
    const out = await resolve().run(subject, ctx());
    expect(out).toMatchObject({ output: { rule: 'deployment-history', targetTaskDefinition: TD(5) } });
  });

  it('rule 3: the newest revision tagged runbookd:known-good when history has nothing', async () => {
    ecsMock.on(ListTagsForResourceCommand, { resourceArn: TD(5) }).resolves({ tags: [{ key: 'runbookd:known-good', value: '2026-11-20T10:00:00Z' }] });
    ecsMock.on(ListTagsForResourceCommand, { resourceArn: TD(4) }).resolves({ tags: [{ key: 'runbookd:known-good', value: '2026-11-19T10:00:00Z' }] });
    const out = await resolve().run(subject, ctx());
    expect(out).toMatchObject({ output: { rule: 'known-good-tag', targetTaskDefinition: TD(5) } });
    expect((out as any).output.considered.map((c: any) => c.rule)).toEqual(['explicit', 'deployment-history', 'known-good-tag']);
  });

  it('rule 4: the previous ACTIVE revision, also when ECS has no deployment history API (it falls through)', async () => {
    ecsMock
      .on(ListServiceDeploymentsCommand)
      .rejects(Object.assign(new Error('not supported'), { name: 'UnsupportedFeatureException', $metadata: { httpStatusCode: 400 } }));
    ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD(8), TD(7), TD(5), TD(3)] });
    const out = await resolve().run(subject, ctx());
    // Revision 8 is newer than the current one (registered, never deployed): not a rollback.
    expect(out).toMatchObject({ output: { rule: 'previous-revision', targetTaskDefinition: TD(5) } });
    expect((out as any).output.considered[1].result).toMatch(/unavailable \(UnsupportedFeatureException\)/);
  });

  it('refuses to guess when no rule gives an answer', async () => {
    ecsMock.on(ListTaskDefinitionsCommand).resolves({ taskDefinitionArns: [TD(7)] });
    await expect(resolve().run(subject, ctx())).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringMatching(/no task definition to roll api back to/),
    });
  });
});

describe('rolling back', () => {
  it('sends UpdateService once, checkpointing before the call', async () => {
    ecsMock.on(UpdateServiceCommand).resolves({ service: service(TD(5)).services![0] });
    const step = new UpdateServiceTaskDefinitionStep(ecs, config, new FixedClock(T0));
    const c = ctx();
    const out = await step.run(
      { ...subject, taskDefinition: TD(5), receivedAt: new Date(T0 - 500).toISOString(), alarmStateChangeTime: new Date(T0 - 60_500).toISOString() },
      c,
    );
    expect(c.checkpoint).toHaveBeenCalledWith({ requestedAtMs: T0, previousTaskDefinition: TD(7) });
    expect(ecsMock.commandCalls(UpdateServiceCommand).map((x) => x.args[0].input)).toEqual([{ cluster: 'prod', service: 'api', taskDefinition: TD(5) }]);
    const figures = Object.fromEntries((out as any).output.figures.map((f: any) => [f.id, f.value]));
    expect(figures).toMatchObject({ 'alarm-to-received-seconds': 60, 'received-to-rollback-seconds': 0.5 });
  });

  it('sends nothing when the service already runs the target (resumed after a crash, or nothing to do)', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(service(TD(5)));
    const step = new UpdateServiceTaskDefinitionStep(ecs, config, new FixedClock(T0));
    const resumed = await step.run({ ...subject, taskDefinition: TD(5) }, ctx({ requestedAtMs: T0 - 1000, previousTaskDefinition: TD(7) }));
    expect(resumed).toMatchObject({ output: { changed: true, resumed: true, previousTaskDefinition: TD(7) } });
    const noop = await step.run({ ...subject, taskDefinition: TD(5) }, ctx());
    expect(noop).toMatchObject({ output: { changed: false } });
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('waits for one deployment with running = desired on the target', async () => {
    const step = new WaitForSteadyStateStep(ecs, config, new FixedClock(T0));
    ecsMock.on(DescribeServicesCommand).resolves(
      service(TD(5), {
        runningCount: 1,
        deployments: [
          { id: 'a', status: 'PRIMARY', taskDefinition: TD(5) },
          { id: 'b', status: 'ACTIVE', taskDefinition: TD(7) },
        ],
      }),
    );
    expect(await step.run({ ...subject, taskDefinition: TD(5) }, ctx())).toMatchObject({ kind: 'wait' });
    ecsMock.on(DescribeServicesCommand).resolves(service(TD(5)));
    expect(await step.run({ ...subject, taskDefinition: TD(5), requestedAtMs: T0 - 42_000 }, ctx())).toMatchObject({
      kind: 'done',
      output: { steadyAtMs: T0, figures: expect.arrayContaining([{ id: 'rollback-to-steady-seconds', label: expect.any(String), value: 42, unit: 's' }]) },
    });
  });

  it('fails with a finding when the alarm is not back to OK within the window', async () => {
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'api-5xx', StateValue: 'ALARM' }] });
    const clock = new FixedClock(T0 + 10_000);
    const step = new WaitForAlarmStateStep(alarms, config, clock);
    expect(await step.run({ alarmName: 'api-5xx', windowSeconds: 60, sinceMs: T0 }, ctx())).toMatchObject({ kind: 'wait' });
    clock.ms = T0 + 61_000;
    expect(await step.run({ alarmName: 'api-5xx', windowSeconds: 60, sinceMs: T0 }, ctx())).toMatchObject({
      kind: 'done',
      output: { reached: false, findings: [{ id: 'alarm-recovered', passed: false, detail: 'still ALARM after 60s' }] },
    });
  });

  it('tags the revision known-good only after the bake time with the service steady and alarms OK', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(service(TD(5)));
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'api-5xx', StateValue: 'OK' }] });
    const clock = new FixedClock(T0 + 1000);
    const step = new MarkKnownGoodStep(ecs, alarms, config, clock);
    const input = { ...subject, taskDefinition: TD(5), bakeSeconds: 300, alarmNames: ['api-5xx'] };
    expect(await step.run(input, ctx())).toMatchObject({ kind: 'wait', afterSeconds: 299 });
    clock.ms = T0 + 300_000;
    expect(await step.run(input, ctx())).toMatchObject({ output: { tagged: true } });
    expect(ecsMock.commandCalls(TagResourceCommand)[0].args[0].input).toMatchObject({
      resourceArn: TD(5),
      tags: expect.arrayContaining([{ key: 'runbookd:known-good', value: new Date(T0 + 300_000).toISOString() }]),
    });
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: 'api-5xx', StateValue: 'ALARM' }] });
    expect(await step.run(input, ctx())).toMatchObject({ output: { tagged: false, reason: 'api-5xx is ALARM' } });
    expect(ecsMock.commandCalls(TagResourceCommand)).toHaveLength(1);
  });

  it('bakes the revision the service ran at the first look when none is named, and does not tag a replaced one', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(service(TD(5)));
    const clock = new FixedClock(T0);
    const step = new MarkKnownGoodStep(ecs, alarms, config, clock);
    const first = await step.run({ ...subject, bakeSeconds: 60 }, ctx());
    expect(first).toMatchObject({ kind: 'wait', memory: { taskDefinition: TD(5) } });
    ecsMock.on(DescribeServicesCommand).resolves(service(TD(6)));
    clock.ms = T0 + 60_000;
    expect(await step.run({ ...subject, bakeSeconds: 60 }, ctx({ taskDefinition: TD(5) }))).toMatchObject({
      output: { taskDefinition: TD(5), tagged: false, reason: 'the service no longer runs api:5' },
    });
    expect(ecsMock.commandCalls(TagResourceCommand)).toHaveLength(0);
  });
});
