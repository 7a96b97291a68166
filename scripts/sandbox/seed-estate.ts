import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  type CreateDBClusterCommandInput,
  type CreateDBInstanceCommandInput,
} from '@aws-sdk/client-rds';
import { seedCanary } from './seed-canary';

/**
 * The sandbox estate: what an operator would find in a small production account, so runbooks
 * (failover drills, restore verification, capacity reports) have something real-looking to act on.
 * Everything is checked before it is created, so seeding an already seeded moto is a no-op.
 */

export interface SeedOptions {
  endpoint: string;
  region: string;
  /** moto accepts any credentials; real ones are never needed and never looked up. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface SeedResult {
  created: string[];
  existing: string[];
}

export const SANDBOX_ESTATE = {
  cluster: 'orders-aurora',
  clusterWriter: 'orders-aurora-1',
  clusterReader: 'orders-aurora-2',
  instance: 'billing-postgres',
  alarms: ['orders-aurora-replica-lag-high', 'billing-postgres-cpu-high'],
} as const;

const SANDBOX_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const tags = (team: string, service: string) => [
  { Key: 'environment', Value: 'production' },
  { Key: 'team', Value: team },
  { Key: 'service', Value: service },
];

export async function seedSandbox(options: SeedOptions): Promise<SeedResult> {
  const clientConfig = {
    endpoint: options.endpoint,
    region: options.region,
    credentials: options.credentials ?? SANDBOX_CREDENTIALS,
    // A sandbox that is down should fail the seed quickly rather than back off for a minute.
    maxAttempts: 2,
  };
  const rds = new RDSClient(clientConfig);
  const cloudwatch = new CloudWatchClient(clientConfig);
  const result: SeedResult = { created: [], existing: [] };
  const note = (created: boolean, what: string) => (created ? result.created : result.existing).push(what);

  try {
    const az = (suffix: string) => `${options.region}${suffix}`;

    note(
      await ensureCluster(rds, {
        DBClusterIdentifier: SANDBOX_ESTATE.cluster,
        Engine: 'aurora-postgresql',
        EngineVersion: '15.4',
        DatabaseName: 'orders',
        MasterUsername: 'orders_admin',
        MasterUserPassword: 'sandbox-only-password',
        StorageEncrypted: true,
        BackupRetentionPeriod: 30,
        PreferredBackupWindow: '02:00-02:30',
        DeletionProtection: false,
        AvailabilityZones: [az('a'), az('b'), az('c')],
        Tags: tags('orders', 'orders-api'),
      }),
      `cluster ${SANDBOX_ESTATE.cluster}`,
    );
    // moto makes the first instance that joins a cluster its writer, so the order here matters.
    for (const [id, zone] of [
      [SANDBOX_ESTATE.clusterWriter, az('a')],
      [SANDBOX_ESTATE.clusterReader, az('b')],
    ] as const) {
      note(
        await ensureInstance(rds, {
          DBInstanceIdentifier: id,
          DBClusterIdentifier: SANDBOX_ESTATE.cluster,
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.r6g.large',
          AvailabilityZone: zone,
          PromotionTier: 1,
          Tags: tags('orders', 'orders-api'),
        }),
        `instance ${id}`,
      );
    }

    note(
      await ensureInstance(rds, {
        DBInstanceIdentifier: SANDBOX_ESTATE.instance,
        Engine: 'postgres',
        EngineVersion: '16.3',
        DBInstanceClass: 'db.m6g.large',
        DBName: 'billing',
        MasterUsername: 'billing_admin',
        MasterUserPassword: 'sandbox-only-password',
        AllocatedStorage: 100,
        StorageType: 'gp3',
        StorageEncrypted: true,
        MultiAZ: true,
        BackupRetentionPeriod: 30,
        PreferredBackupWindow: '03:00-03:30',
        Tags: tags('payments', 'billing'),
      }),
      `instance ${SANDBOX_ESTATE.instance}`,
    );

    const alarms: PutMetricAlarmCommandInput[] = [
      {
        AlarmName: 'orders-aurora-replica-lag-high',
        AlarmDescription: 'Aurora reader is more than 1 s behind the writer',
        Namespace: 'AWS/RDS',
        MetricName: 'AuroraReplicaLag',
        Dimensions: [{ Name: 'DBClusterIdentifier', Value: SANDBOX_ESTATE.cluster }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
        Threshold: 1000,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'missing',
        Unit: 'Milliseconds',
      },
      {
        AlarmName: 'billing-postgres-cpu-high',
        AlarmDescription: 'billing-postgres CPU above 80 % for 15 minutes',
        Namespace: 'AWS/RDS',
        MetricName: 'CPUUtilization',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: SANDBOX_ESTATE.instance }],
        Statistic: 'Average',
        Period: 300,
        EvaluationPeriods: 3,
        Threshold: 80,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'missing',
        Unit: 'Percent',
      },
    ];
    for (const alarm of alarms) {
      note(await ensureAlarm(cloudwatch, alarm), `alarm ${alarm.AlarmName}`);
    }
    await seedCanary(clientConfig, note);
  } finally {
    rds.destroy();
    cloudwatch.destroy();
  }
  return result;
}

async function ensureCluster(rds: RDSClient, input: CreateDBClusterCommandInput): Promise<boolean> {
  try {
    await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: input.DBClusterIdentifier }));
    return false;
  } catch (e) {
    if (errorName(e) !== 'DBClusterNotFoundFault') throw e;
  }
  try {
    await rds.send(new CreateDBClusterCommand(input));
    return true;
  } catch (e) {
    // Two seeders racing (a test and the demo) both saw "not found"; the loser is fine.
    if (errorName(e) === 'DBClusterAlreadyExistsFault') return false;
    throw e;
  }
}

async function ensureInstance(rds: RDSClient, input: CreateDBInstanceCommandInput): Promise<boolean> {
  try {
    await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: input.DBInstanceIdentifier }));
    return false;
  } catch (e) {
    if (errorName(e) !== 'DBInstanceNotFoundFault') throw e;
  }
  try {
    await rds.send(new CreateDBInstanceCommand(input));
    return true;
  } catch (e) {
    if (errorName(e) === 'DBInstanceAlreadyExistsFault') return false;
    throw e;
  }
}

async function ensureAlarm(cloudwatch: CloudWatchClient, input: PutMetricAlarmCommandInput): Promise<boolean> {
  const name = input.AlarmName!;
  const found = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm'] }));
  if ((found.MetricAlarms ?? []).length > 0) return false;
  await cloudwatch.send(new PutMetricAlarmCommand(input));
  // Real CloudWatch starts an alarm in INSUFFICIENT_DATA; the estate is meant to look healthy.
  await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'OK', StateReason: 'Seeded by runbookd sandbox' }));
  return true;
}

function errorName(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'name' in e ? String(e.name) : undefined;
}
