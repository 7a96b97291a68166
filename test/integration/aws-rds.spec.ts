import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import type { AuditService } from '../../src/audit/audit.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { RdsFailoverAdapter } from '../../src/aws/rds-failover.adapter';
import { AppConfig, AwsConfig } from '../../src/config/app.config';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { AwsStepError } from '../../src/aws/aws.error';
import { AlarmReaderService } from '../../src/aws/alarm-reader.service';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { Clock } from '../../src/common/clock';
import { freePort, startMoto, type MotoServer } from '../support/moto';

const REGION = 'eu-west-1';
const CANARY = 'canary-Moto-Secret-91ab';
const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_RDS',
  'AWS_ENDPOINT_URL_CLOUDWATCH',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
];

function appConfig(overrides: Partial<AwsConfig> = {}): AppConfig {
  return Object.assign(new AppConfig(), { aws: { region: REGION, maxAttempts: 3, endpoints: {}, ...overrides } });
}

const ctx: AwsCallContext = {
  runId: 'run-moto-1',
  runbookId: 'aurora-failover-test',
  stepId: 'failover',
  actor: 'apikey:alice',
  dryRun: false,
  expiresAt: new Date(Date.now() + 86_400_000),
};

let moto: MotoServer;
let savedEnv: Record<string, string | undefined>;
let factory: AwsClientFactory;
let append: jest.Mock;
let rds: RdsFailoverAdapter;
let alarms: AlarmReaderService;
const seededAt = new Date(Date.now() - 60_000);

beforeAll(async () => {
  moto = await startMoto();
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  // The point under test: nothing but the SDK's own AWS_ENDPOINT_URL handling routes calls to moto.
  process.env.AWS_ENDPOINT_URL = moto.endpoint;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';

  const seedRds = new RDSClient({ region: REGION });
  await seedRds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: 'orders',
      Engine: 'aurora-postgresql',
      EngineVersion: '15.4',
      MasterUsername: 'orders_admin',
      MasterUserPassword: CANARY,
    }),
  );
  for (const [id, tier] of [
    ['orders-1', 0],
    ['orders-2', 1],
  ] as const) {
    await seedRds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBClusterIdentifier: 'orders',
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.r6g.large',
        PromotionTier: tier,
      }),
    );
  }
  await seedRds.send(
    new CreateDBClusterCommand({ DBClusterIdentifier: 'lonely', Engine: 'aurora-postgresql', MasterUsername: 'u', MasterUserPassword: CANARY }),
  );
  await seedRds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'lonely-1',
      DBClusterIdentifier: 'lonely',
      Engine: 'aurora-postgresql',
      DBInstanceClass: 'db.r6g.large',
    }),
  );
  await seedRds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'billing',
      Engine: 'postgres',
      EngineVersion: '16.2',
      DBInstanceClass: 'db.m6g.large',
      AllocatedStorage: 20,
      MasterUsername: 'billing_admin',
      MasterUserPassword: CANARY,
      MultiAZ: true,
      AvailabilityZone: `${REGION}a`,
    }),
  );
  seedRds.destroy();

  const seedCw = new CloudWatchClient({ region: REGION });
  for (const name of ['orders-writer-cpu', 'orders-5xx']) {
    await seedCw.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'AWS/RDS',
        MetricName: 'CPUUtilization',
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 90,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
  }
  await seedCw.send(new SetAlarmStateCommand({ AlarmName: 'orders-5xx', StateValue: 'ALARM', StateReason: 'drill: forced' }));
  await seedCw.send(new SetAlarmStateCommand({ AlarmName: 'orders-writer-cpu', StateValue: 'OK', StateReason: 'quiet' }));
  seedCw.destroy();
});

beforeEach(() => {
  append = jest.fn(async () => ({}));
  factory = new AwsClientFactory(appConfig());
  const caller = new AwsCallerService({ append } as unknown as AuditService);
  rds = new RdsFailoverAdapter(factory, caller);
  alarms = new AlarmReaderService(new CloudWatchAdapter(factory, caller), appConfig({ describeAlarmsPerSecond: 50 }), new Clock());
});

afterEach(() => factory?.destroy());

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv ?? {})) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await moto?.stop();
});

describe('RdsFailoverAdapter against moto', () => {
  it('reports the cluster, its members and its writer', async () => {
    const cluster = await rds.describeCluster(ctx, REGION, 'orders');
    expect(cluster).toMatchObject({ identifier: 'orders', status: 'available', engine: 'aurora-postgresql', engineVersion: '15.4', writer: 'orders-1' });
    expect(cluster.members).toEqual(
      expect.arrayContaining([
        { instanceId: 'orders-1', isWriter: true, promotionTier: 0 },
        { instanceId: 'orders-2', isWriter: false, promotionTier: 1 },
      ]),
    );
    expect(cluster.members).toHaveLength(2);
    expect(cluster.arn).toMatch(/^arn:aws:rds:eu-west-1:\d{12}:cluster:orders$/);
    expect(append).not.toHaveBeenCalled();
  });

  it('fails the cluster over and audits both sides of the call', async () => {
    const receipt = await rds.failoverCluster(ctx, REGION, { clusterIdentifier: 'orders' });
    expect(typeof receipt.requestId).toBe('string');
    expect((await rds.describeCluster(ctx, REGION, 'orders')).writer).toBe('orders-2');

    expect(append.mock.calls.map((c) => c[0].kind)).toEqual(['aws.request', 'aws.response']);
    expect(append.mock.calls[0][0]).toMatchObject({
      runId: 'run-moto-1',
      actor: 'apikey:alice',
      data: { service: 'rds', operation: 'FailoverDBCluster', region: REGION, stepId: 'failover', input: { DBClusterIdentifier: 'orders' } },
    });
    expect(append.mock.calls[1][0].data).toMatchObject({ outcome: 'ok', requestId: receipt.requestId, httpStatus: 200 });

    // And back, naming the target this time.
    await rds.failoverCluster(ctx, REGION, { clusterIdentifier: 'orders', targetInstance: 'orders-1' });
    expect((await rds.describeCluster(ctx, REGION, 'orders')).writer).toBe('orders-1');
  });

  it('maps real wire errors to coded ones', async () => {
    await expect(rds.describeCluster(ctx, REGION, 'no-such-cluster')).rejects.toMatchObject({
      code: 'AWS_NOT_FOUND',
      retryable: false,
      details: { awsCode: 'DBClusterNotFoundFault', httpStatus: 404 },
    });
    await expect(rds.describeInstance(ctx, REGION, 'no-such-instance')).rejects.toMatchObject({
      code: 'AWS_NOT_FOUND',
      details: { awsCode: 'DBInstanceNotFoundFault' },
    });
    // A one-instance cluster cannot fail over: busy/invalid state, worth retrying later.
    const err = await rds.failoverCluster(ctx, REGION, { clusterIdentifier: 'lonely' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsStepError);
    expect(err).toMatchObject({ code: 'AWS_INVALID_STATE', retryable: true, details: { awsCode: 'InvalidDBClusterStateFault' } });
    expect(append.mock.calls[1][0].data).toMatchObject({ outcome: 'error', errorCode: 'AWS_INVALID_STATE' });
    expect(typeof append.mock.calls[1][0].data.requestId).toBe('string');
  });

  it('describes a Multi-AZ instance and reboots it with failover', async () => {
    const billing = await rds.describeInstance(ctx, REGION, 'billing');
    expect(billing).toMatchObject({
      identifier: 'billing',
      status: 'available',
      engine: 'postgres',
      engineVersion: '16.2',
      multiAZ: true,
      availabilityZone: `${REGION}a`,
      clusterIdentifier: null,
    });
    expect(billing.arn).toMatch(/:db:billing$/);
    const member = await rds.describeInstance(ctx, REGION, 'orders-2');
    expect(member.clusterIdentifier).toBe('orders');

    expect(rds.planRebootWithFailover(REGION, 'billing').input).toEqual({ DBInstanceIdentifier: 'billing', ForceFailover: true });
    const receipt = await rds.rebootWithFailover(ctx, REGION, 'billing');
    expect(typeof receipt.requestId).toBe('string');
    expect(append).toHaveBeenCalledTimes(2);
  });

  it('lists recent events of an instance', async () => {
    const events = await rds.describeRecentEvents(ctx, REGION, { sourceType: 'db-instance', sourceId: 'billing', since: seededAt });
    expect(events.map((e) => e.message)).toContain('DB instance created');
    expect(events.every((e) => Date.parse(e.at) >= seededAt.getTime())).toBe(true);
    const future = await rds.describeRecentEvents(ctx, REGION, { sourceType: 'db-instance', sourceId: 'billing', since: new Date(Date.now() + 3_600_000) });
    expect(future).toEqual([]);
  });

  it('never audits the master password of anything it touched', () => {
    expect(JSON.stringify(append.mock.calls)).not.toContain(CANARY);
  });
});

describe('CloudWatchAdapter against moto', () => {
  // moto 5.2 has no PutCompositeAlarm, so composite alarms are covered by the unit test only.
  it('reads alarm states set with SetAlarmState and reports missing names', async () => {
    const result = await alarms.states(ctx, REGION, ['orders-5xx', 'orders-writer-cpu', 'no-such-alarm']);
    expect(result.missing).toEqual(['no-such-alarm']);
    expect(result.alarms.map((a) => a.name)).toEqual(['orders-5xx', 'orders-writer-cpu']);
    expect(result.alarms[0]).toMatchObject({ name: 'orders-5xx', state: 'ALARM', reason: 'drill: forced' });
    expect(result.alarms[1]).toMatchObject({ state: 'OK', reason: 'quiet' });
    expect(Number.isNaN(Date.parse(result.alarms[0].updatedAt ?? ''))).toBe(false);
  });
});

describe('endpoint resolution', () => {
  it('prefers AWS_ENDPOINT_URL_<SERVICE> over AWS_ENDPOINT_URL', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const before = { all: process.env.AWS_ENDPOINT_URL, rds: process.env.AWS_ENDPOINT_URL_RDS };
    process.env.AWS_ENDPOINT_URL = dead;
    process.env.AWS_ENDPOINT_URL_RDS = moto.endpoint;
    const local = new AwsClientFactory(appConfig({ maxAttempts: 1 }));
    const caller = new AwsCallerService({ append } as unknown as AuditService);
    try {
      expect((await new RdsFailoverAdapter(local, caller).describeCluster(ctx, REGION, 'orders')).identifier).toBe('orders');
      // CloudWatch has no service-specific variable set, so it follows AWS_ENDPOINT_URL to the dead port.
      const err = await new CloudWatchAdapter(local, caller).alarmConfigurations(ctx, REGION, ['orders-5xx']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AwsStepError);
      expect(err).toMatchObject({ code: 'AWS_UNAVAILABLE', retryable: true, details: { awsCode: 'ECONNREFUSED' } });
    } finally {
      local.destroy();
      process.env.AWS_ENDPOINT_URL = before.all;
      if (before.rds === undefined) delete process.env.AWS_ENDPOINT_URL_RDS;
      else process.env.AWS_ENDPOINT_URL_RDS = before.rds;
    }
  });
});
