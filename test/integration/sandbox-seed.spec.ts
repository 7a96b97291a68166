import { DescribeAlarmsCommand, CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { SANDBOX_ESTATE, seedSandbox } from '../../scripts/sandbox/seed-estate';
import { startMoto, type MotoServer } from '../support/moto';

const region = 'eu-west-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('sandbox seed (moto)', () => {
  let moto: MotoServer;
  let rds: RDSClient;
  let cloudwatch: CloudWatchClient;

  beforeAll(async () => {
    moto = await startMoto();
    rds = new RDSClient({ endpoint: moto.endpoint, region, credentials });
    cloudwatch = new CloudWatchClient({ endpoint: moto.endpoint, region, credentials });
    await seedSandbox({ endpoint: moto.endpoint, region });
  });

  afterAll(async () => {
    rds?.destroy();
    cloudwatch?.destroy();
    await moto?.stop();
  });

  it('creates the Aurora cluster with one writer and one reader', async () => {
    const { DBClusters } = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: SANDBOX_ESTATE.cluster }));
    const members = DBClusters![0].DBClusterMembers!;
    expect(members).toHaveLength(2);
    expect(members.filter((m) => m.IsClusterWriter).map((m) => m.DBInstanceIdentifier)).toEqual([SANDBOX_ESTATE.clusterWriter]);
    expect(DBClusters![0]).toMatchObject({ Engine: 'aurora-postgresql', StorageEncrypted: true, BackupRetentionPeriod: 30 });
  });

  it('creates billing-postgres as a Multi-AZ instance', async () => {
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: SANDBOX_ESTATE.instance }));
    expect(DBInstances![0]).toMatchObject({ MultiAZ: true, AllocatedStorage: 100, StorageType: 'gp3', StorageEncrypted: true });
  });

  it('creates both alarms in state OK', async () => {
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [...SANDBOX_ESTATE.alarms] }));
    expect(MetricAlarms!.map((a) => [a.AlarmName, a.StateValue]).sort()).toEqual([...SANDBOX_ESTATE.alarms].map((name) => [name, 'OK']).sort());
  });

  it('seeding again changes nothing', async () => {
    const again = await seedSandbox({ endpoint: moto.endpoint, region });
    expect(again.created).toEqual([]);
    // 6 for the RDS estate, 4 for the canary-rollback service (cluster, task definition, service, alarm).
    expect(again.existing).toHaveLength(10);

    const { DBClusters } = await rds.send(new DescribeDBClustersCommand({}));
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({}));
    const { MetricAlarms } = await cloudwatch.send(new DescribeAlarmsCommand({}));
    expect(DBClusters!.map((c) => c.DBClusterIdentifier)).toEqual([SANDBOX_ESTATE.cluster]);
    expect(DBClusters![0].DBClusterMembers).toHaveLength(2);
    expect(DBInstances!.map((i) => i.DBInstanceIdentifier).sort()).toEqual(
      [SANDBOX_ESTATE.clusterWriter, SANDBOX_ESTATE.clusterReader, SANDBOX_ESTATE.instance].sort(),
    );
    expect(MetricAlarms).toHaveLength(3);
  });
});
