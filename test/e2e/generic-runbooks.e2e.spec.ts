import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeImagesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateServiceCommand, DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBSnapshotsCommand, ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { checkoutTaskDefinition, SANDBOX_CANARY } from '../../scripts/sandbox/seed-canary';
import { SANDBOX_ESTATE } from '../../scripts/sandbox/seed-estate';
import { Harness, REGION, ROOT } from '../support/runbookd';

/**
 * The runbooks written only with generic steps, end to end against moto through the recording
 * proxy (which sees only runbookd's calls: the test's own go to moto directly).
 */
const GENERIC = ['rds-manual-snapshot.yaml', 'ecs-force-new-deployment.yaml', 'ecs-scale-with-guard.yaml', 'ecs-deploy-with-target-health.yaml'];
const READ_ONLY = /^(Describe|List|Get)/;

describe('runbooks written with generic steps, against moto', () => {
  let h: Harness;
  let dir: string;
  const clientConfig = () => ({ endpoint: h.moto.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  /** The sandbox canary's alarm, the guard both ECS runbooks check. */
  const setAlarm = async (state: 'OK' | 'ALARM') => {
    const cw = new CloudWatchClient(clientConfig());
    try {
      await cw.send(new SetAlarmStateCommand({ AlarmName: SANDBOX_CANARY.alarm, StateValue: state, StateReason: 'generic e2e' }));
    } finally {
      cw.destroy();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-generic-e2e-'));
    for (const f of GENERIC) copyFileSync(path.join(ROOT, 'runbooks', f), path.join(dir, f));
    const fixtures = path.join(__dirname, 'fixtures', 'generic');
    for (const f of readdirSync(fixtures)) copyFileSync(path.join(fixtures, f), path.join(dir, f));
    h = await Harness.start({ role: 'all', runbooksDir: dir });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => h.proxy.clear());

  const start = async (runbook: string, parameters: Record<string, unknown>, dryRun = false): Promise<string> => {
    const res = await h.request('POST', `/v1/runbooks/${runbook}/runs`, { key: h.keys.operator, body: { parameters, dryRun, reason: 'generic e2e' } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);
  /** IAM actions of the calls the proxy forwarded (SigV4 signing names → IAM prefixes). */
  const seenActions = () => [...new Set(h.proxy.calls().map((c) => `${c.service === 'monitoring' ? 'cloudwatch' : c.service}:${c.action}`))].sort();
  const policyActions = async (runbook: string): Promise<string[]> => {
    const res = await h.request('GET', `/v1/runbooks/${runbook}/iam-policy`, { key: h.keys.viewer });
    expect(res.status).toBe(200);
    expect(res.body.Version).toBe('2012-10-17');
    return [...new Set((res.body.Statement as any[]).flatMap((s) => s.Action as string[]))].sort();
  };
  const auditOf = async (runId: string): Promise<any[]> => (await h.request('GET', `/v1/audit?runId=${runId}&limit=1000`)).body.items;

  it('rds-manual-snapshot: one audited CreateDBSnapshot, tagged with an expiry, waited until available', async () => {
    const runId = await start('rds-manual-snapshot', { dbInstanceIdentifier: SANDBOX_ESTATE.instance, pollSeconds: 0.5 });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(stepOf(run, 'source').output).toMatchObject({ status: 'available', engine: 'postgres' });
    expect(stepOf(run, 'source-available').output.findings[0]).toMatchObject({ passed: true, measured: 'available' });
    expect(stepOf(run, 'snapshot').output.snapshotIdentifier).toBe(`rbd-${runId}-snap`);
    expect(stepOf(run, 'available').output.polls).toBeGreaterThanOrEqual(1);
    expect(h.proxy.count('rds:CreateDBSnapshot')).toBe(1);
    // Least privilege: the policy holds exactly what the run called.
    expect(await policyActions('rds-manual-snapshot')).toEqual(seenActions());

    const rds = new RDSClient(clientConfig());
    try {
      const snap = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `rbd-${runId}-snap` }))).DBSnapshots![0];
      expect(snap.Status).toBe('available');
      const tags = (await rds.send(new ListTagsForResourceCommand({ ResourceName: snap.DBSnapshotArn! }))).TagList!;
      expect(tags).toEqual(
        expect.arrayContaining([
          { Key: 'runbookd:run-id', Value: runId },
          { Key: 'runbookd:expires-at', Value: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
        ]),
      );
    } finally {
      rds.destroy();
    }
    const audit = await auditOf(runId);
    expect(audit.filter((e) => e.kind === 'aws.request').map((e) => e.data.operation)).toEqual(['CreateDBSnapshot']);
    expect(audit.filter((e) => e.kind === 'aws.response').map((e) => [e.data.operation, e.data.outcome])).toEqual([['CreateDBSnapshot', 'ok']]);
  }, 60_000);

  it('a dry run makes no state-changing call and plans the exact input a run would send', async () => {
    const runId = await start('rds-manual-snapshot', { dbInstanceIdentifier: SANDBOX_ESTATE.instance, pollSeconds: 0.5 }, true);
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    const actions = h.proxy.calls().map((c) => c.action);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => !READ_ONLY.test(a))).toEqual([]);
    const snapshot = stepOf(run, 'snapshot');
    expect(snapshot.state).toBe('planned');
    expect(snapshot.output.plannedCalls).toEqual([
      {
        service: 'rds',
        operation: 'CreateDBSnapshot',
        region: REGION,
        input: {
          DBInstanceIdentifier: SANDBOX_ESTATE.instance,
          DBSnapshotIdentifier: `rbd-${runId}-snap`,
          Tags: [
            { Key: 'runbookd:run-id', Value: runId },
            { Key: 'runbookd:runbook', Value: 'rds-manual-snapshot' },
            { Key: 'runbookd:expires-at', Value: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
          ],
        },
      },
    ]);
    expect(stepOf(run, 'available').state).toBe('skipped');
  }, 60_000);

  it('ecs-force-new-deployment: one UpdateService with forceNewDeployment, then steady state', async () => {
    const runId = await start('ecs-force-new-deployment', { cluster: SANDBOX_CANARY.cluster, service: SANDBOX_CANARY.service, pollSeconds: 0.5 });
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(h.proxy.count('ecs:UpdateService')).toBe(1);
    expect(await policyActions('ecs-force-new-deployment')).toEqual(seenActions());
    expect(stepOf(run, 'steady').output).toMatchObject({ runningCount: expect.any(Number), taskDefinition: stepOf(run, 'before').output.taskDefinition });
    const audit = await auditOf(runId);
    expect(audit.filter((e) => e.kind === 'aws.request').map((e) => [e.data.operation, e.data.input.forceNewDeployment])).toEqual([['UpdateService', true]]);
  }, 60_000);

  describe('ecs-scale-with-guard', () => {
    const desired = async (): Promise<number> => {
      const ecs = new ECSClient(clientConfig());
      try {
        return (await ecs.send(new DescribeServicesCommand({ cluster: SANDBOX_CANARY.cluster, services: [SANDBOX_CANARY.service] }))).services![0]
          .desiredCount!;
      } finally {
        ecs.destroy();
      }
    };

    it('a quiet bake keeps the new count; the roll-back is skipped', async () => {
      await setAlarm('OK');
      const before = await desired();
      const runId = await start('ecs-scale-with-guard', {
        cluster: SANDBOX_CANARY.cluster,
        service: SANDBOX_CANARY.service,
        desiredCount: before + 1,
        guardAlarm: SANDBOX_CANARY.alarm,
        bakeSeconds: 1,
        pollSeconds: 0.3,
      });
      const run = await h.waitForRun(runId);
      expect(run.state).toBe('succeeded');
      expect(await desired()).toBe(before + 1);
      expect(stepOf(run, 'roll-back').state).toBe('skipped');
      expect(h.proxy.count('ecs:UpdateService')).toBe(1);
    }, 60_000);

    it('the guard alarm firing during the bake fails the watch at once and cleanup puts the count back', async () => {
      await setAlarm('OK');
      const before = await desired();
      // Fire the alarm as soon as the scale has gone out.
      let armed = true;
      h.proxy.onRequest(
        'UpdateService',
        () => {
          if (!armed) return;
          armed = false;
          return setAlarm('ALARM');
        },
        'answered',
      );
      const runId = await start('ecs-scale-with-guard', {
        cluster: SANDBOX_CANARY.cluster,
        service: SANDBOX_CANARY.service,
        desiredCount: before + 2,
        guardAlarm: SANDBOX_CANARY.alarm,
        bakeSeconds: 600,
        pollSeconds: 0.3,
      });
      const run = await h.waitForRun(runId);
      await setAlarm('OK');
      expect(run.state).toBe('failed');
      const bake = stepOf(run, 'bake');
      expect(bake.state).toBe('failed');
      expect(bake.error).toMatchObject({ code: 'AWS_WAIT_FAILURE_STATE', details: { polls: 1 } });
      expect(stepOf(run, 'roll-back')).toMatchObject({ state: 'succeeded', output: { desiredCount: before } });
      expect(await desired()).toBe(before);
      expect(h.proxy.count('ecs:UpdateService')).toBe(2);
      expect(await policyActions('ecs-scale-with-guard')).toEqual(seenActions());
    }, 60_000);
  });

  /**
   * ecs-deploy-with-target-health needs what the sandbox does not seed: an ECS service behind an
   * ALB target group, its targets two EC2 instances (moto reports an instance target healthy while
   * it runs and `unused` once it is stopped: the test's way to make a target unhealthy).
   */
  describe('ecs-deploy-with-target-health (the ELBv2 client)', () => {
    const WEB = 'checkout-web';
    let instances: string[] = [];
    let targetGroupArn = '';
    const ec2Send = async <T>(f: (ec2: EC2Client) => Promise<T>): Promise<T> => {
      const ec2 = new EC2Client(clientConfig());
      try {
        return await f(ec2);
      } finally {
        ec2.destroy();
      }
    };
    const stopInstance = (id: string) => ec2Send((ec2) => ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
    const startInstance = (id: string) => ec2Send((ec2) => ec2.send(new StartInstancesCommand({ InstanceIds: [id] })));
    const params = (extra: Record<string, unknown> = {}) => ({
      cluster: SANDBOX_CANARY.cluster,
      service: WEB,
      pollSeconds: 0.3,
      stopAlarms: [SANDBOX_CANARY.alarm],
      ...extra,
    });
    const requests = async (runId: string) => (await auditOf(runId)).filter((e) => e.kind === 'aws.request').map((e) => e.data.operation);

    beforeAll(async () => {
      const elb = new ElasticLoadBalancingV2Client(clientConfig());
      const ecs = new ECSClient(clientConfig());
      try {
        const { vpcId, subnets, imageId } = await ec2Send(async (ec2) => ({
          vpcId: (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0].VpcId!,
          subnets: (await ec2.send(new DescribeSubnetsCommand({}))).Subnets!.slice(0, 2).map((x) => x.SubnetId!),
          imageId: (await ec2.send(new DescribeImagesCommand({}))).Images![0].ImageId!,
        }));
        instances = await ec2Send(async (ec2) =>
          (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 2, MaxCount: 2 }))).Instances!.map((i) => i.InstanceId!),
        );
        const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'shop-web', Subnets: subnets }))).LoadBalancers![0];
        targetGroupArn = (await elb.send(new CreateTargetGroupCommand({ Name: WEB, Protocol: 'HTTP', Port: 8080, VpcId: vpcId, TargetType: 'instance' })))
          .TargetGroups![0].TargetGroupArn!;
        await elb.send(
          new CreateListenerCommand({
            LoadBalancerArn: lb.LoadBalancerArn!,
            Protocol: 'HTTP',
            Port: 80,
            DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
          }),
        );
        await elb.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: instances.map((Id) => ({ Id, Port: 8080 })) }));
        const td = (await ecs.send(new RegisterTaskDefinitionCommand(checkoutTaskDefinition('registry.example/checkout-web:2.3.0')))).taskDefinition!
          .taskDefinitionArn!;
        await ecs.send(
          new CreateServiceCommand({
            cluster: SANDBOX_CANARY.cluster,
            serviceName: WEB,
            taskDefinition: td,
            desiredCount: 2,
            launchType: 'FARGATE',
            loadBalancers: [{ targetGroupArn, containerName: 'app', containerPort: 8080 }],
          }),
        );
        // moto starts a service with no tasks running; setting the count is what makes it steady.
        await ecs.send(new UpdateServiceCommand({ cluster: SANDBOX_CANARY.cluster, service: WEB, desiredCount: 2 }));
      } finally {
        elb.destroy();
        ecs.destroy();
      }
    });
    beforeEach(() => setAlarm('OK'));

    it('healthy targets: checked before, one forced deployment, steady, checked after; the policy holds exactly the calls made', async () => {
      const runId = await start('ecs-deploy-with-target-health', params());
      const run = await h.waitForRun(runId);
      expect(run.state).toBe('succeeded');
      expect(stepOf(run, 'service').output.targetGroupArn).toBe(targetGroupArn);
      const healthy = instances.map((i) => `${i}:healthy`);
      expect(stepOf(run, 'healthy-before').output.findings[0]).toMatchObject({ passed: true, measured: JSON.stringify(healthy) });
      expect(stepOf(run, 'healthy-after').output.findings[0]).toMatchObject({ passed: true, measured: JSON.stringify(healthy) });
      expect(h.proxy.count('ecs:UpdateService')).toBe(1);
      expect(h.proxy.count('elasticloadbalancing:DescribeTargetHealth')).toBe(2);
      // elbv2 in the runbook, elasticloadbalancing in IAM: the policy names what AWS authorises.
      expect(await policyActions('ecs-deploy-with-target-health')).toEqual(seenActions());
      expect(seenActions()).toEqual(['cloudwatch:DescribeAlarms', 'ecs:DescribeServices', 'ecs:UpdateService', 'elasticloadbalancing:DescribeTargetHealth']);
      const audit = await auditOf(runId);
      expect(audit.filter((e) => e.kind === 'aws.request').map((e) => [e.data.service, e.data.operation, e.data.input.forceNewDeployment])).toEqual([
        ['ecs', 'UpdateService', true],
      ]);
    }, 60_000);

    it('a dry run reads the target health before and after, makes no state-changing call and plans the deployment', async () => {
      const runId = await start('ecs-deploy-with-target-health', params(), true);
      const run = await h.waitForRun(runId);
      expect(run.state).toBe('succeeded');
      const actions = h.proxy.calls().map((c) => c.action);
      expect(actions.filter((a) => !READ_ONLY.test(a))).toEqual([]);
      expect(h.proxy.count('elasticloadbalancing:DescribeTargetHealth')).toBe(2);
      expect(stepOf(run, 'deploy')).toMatchObject({
        state: 'planned',
        output: {
          plannedCalls: [
            { service: 'ecs', operation: 'UpdateService', region: REGION, input: { cluster: SANDBOX_CANARY.cluster, service: WEB, forceNewDeployment: true } },
          ],
        },
      });
      expect(await requests(runId)).toEqual([]);
    }, 60_000);

    it('an unhealthy target before: no deployment, and the run fails saying which target', async () => {
      await stopInstance(instances[1]);
      try {
        const runId = await start('ecs-deploy-with-target-health', params());
        const run = await h.waitForRun(runId);
        expect(run.state).toBe('failed');
        expect(stepOf(run, 'healthy-before').output.findings[0]).toMatchObject({
          passed: false,
          measured: JSON.stringify([`${instances[0]}:healthy`, `${instances[1]}:unused`]),
        });
        expect(['deploy', 'steady', 'healthy-after'].map((id) => stepOf(run, id).state)).toEqual(['skipped', 'skipped', 'skipped']);
        expect(h.proxy.count('ecs:UpdateService')).toBe(0);
        expect(await requests(runId)).toEqual([]);
      } finally {
        await startInstance(instances[1]);
      }
    }, 60_000);

    it('a target unhealthy after the deployment fails the run on the check after', async () => {
      let armed = true;
      h.proxy.onRequest(
        'ecs:UpdateService',
        () => {
          if (!armed) return;
          armed = false;
          return stopInstance(instances[0]).then(() => undefined);
        },
        'answered',
      );
      try {
        const runId = await start('ecs-deploy-with-target-health', params());
        const run = await h.waitForRun(runId);
        expect(run.state).toBe('failed');
        expect(stepOf(run, 'healthy-before').output.findings[0].passed).toBe(true);
        expect(stepOf(run, 'steady').state).toBe('succeeded');
        expect(stepOf(run, 'healthy-after').output.findings[0]).toMatchObject({
          passed: false,
          measured: JSON.stringify([`${instances[0]}:unused`, `${instances[1]}:healthy`]),
        });
        expect(h.proxy.count('ecs:UpdateService')).toBe(1);
      } finally {
        armed = false;
        await startInstance(instances[0]);
      }
    }, 60_000);

    it('a stop alarm in ALARM aborts the run before the deployment', async () => {
      await setAlarm('ALARM');
      const runId = await start('ecs-deploy-with-target-health', params());
      const run = await h.waitForRun(runId);
      expect(run.state).toBe('aborted');
      expect(run.error).toMatchObject({ code: 'STOP_CONDITION' });
      expect(run.error.message).toContain(SANDBOX_CANARY.alarm);
      expect(stepOf(run, 'healthy-before').output.findings[0].passed).toBe(true);
      expect(h.proxy.count('ecs:UpdateService')).toBe(0);
    }, 60_000);

    it('refuses a service that is behind no target group (the check says so; nothing deployed)', async () => {
      const runId = await start('ecs-deploy-with-target-health', params({ service: SANDBOX_CANARY.service }));
      const run = await h.waitForRun(runId);
      expect(run.state).toBe('failed');
      expect(stepOf(run, 'service').output.findings[0]).toMatchObject({ passed: false });
      expect(['healthy-before', 'deploy'].map((id) => stepOf(run, id).state)).toEqual(['skipped', 'skipped']);
      expect(h.proxy.count('ecs:UpdateService')).toBe(0);
    }, 60_000);
  });

  it('GET /v1/iam-policy covers every loaded runbook; an unknown runbook is a 404', async () => {
    const all = await h.request('GET', '/v1/iam-policy', { key: h.keys.viewer });
    expect(all.status).toBe(200);
    const actions = (all.body.Statement as any[]).flatMap((s) => s.Action);
    for (const a of ['rds:CreateDBSnapshot', 'ecs:UpdateService', 'cloudwatch:DescribeAlarms', 'elasticloadbalancing:DescribeTargetHealth'])
      expect(actions).toContain(a);
    expect((await h.request('GET', '/v1/runbooks/nope/iam-policy', { key: h.keys.viewer })).status).toBe(404);
  });

  it('aws.wait-until meeting its failure state fails at once (one look), not at its timeout', async () => {
    const runId = await start('generic-wait-failure', {});
    const run = await h.waitForRun(runId, undefined, 20_000);
    expect(run.state).toBe('failed');
    const step = stepOf(run, 'wait');
    expect(step.error).toMatchObject({ code: 'AWS_WAIT_FAILURE_STATE', details: { polls: 1, failWhen: "DBInstances[0].DBInstanceStatus == 'available'" } });
    expect(step.attempts).toBe(1);
    expect(h.proxy.count('rds:DescribeDBInstances')).toBe(1);
  }, 30_000);

  it('onFailure: step:<id> passes over the steps between, continueOnFailure goes on, the default still fails the run', async () => {
    const runId = await start('generic-on-failure', {});
    const run = await h.waitForRun(runId);
    expect(run.steps.map((s: any) => [s.id, s.state])).toEqual([
      ['missing', 'failed'],
      ['passed-over', 'skipped'],
      ['recover', 'succeeded'],
      ['missing-again', 'failed'],
      ['last', 'succeeded'],
      ['missing-finally', 'failed'],
    ]);
    expect(stepOf(run, 'missing').error.code).toBe('AWS_NOT_FOUND');
    expect(stepOf(run, 'recover').output.echo).toBe('recovered');
    expect(run.state).toBe('failed');
    expect(run.error.code).toBe('AWS_NOT_FOUND');
    const audit = await auditOf(runId);
    expect(audit.filter((e) => e.kind === 'step.ended' && e.data.stepId === 'passed-over').map((e) => e.data.state)).toEqual(['skipped']);
  }, 30_000);

  it('a || b falls back when a was skipped; a plain reference to a skipped step skips', async () => {
    const runId = await start('generic-fallback', {});
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');
    expect(stepOf(run, 'maybe').state).toBe('skipped');
    expect(stepOf(run, 'use')).toMatchObject({ state: 'succeeded', output: { echo: 'fallback' } });
    expect(stepOf(run, 'needs').state).toBe('skipped');
  }, 30_000);
});
