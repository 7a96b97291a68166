import {
  CopyDBSnapshotCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { SANDBOX_ESTATE, type SeedOptions } from './seed-estate';

/**
 * Backups for the sandbox estate (after `seedSandbox`): a manual snapshot of the instance and
 * of the cluster, and a cross-region copy of the instance snapshot in the DR region, so the
 * restore runbooks have something current to check and restore. Existing ones are left alone.
 */
export const SANDBOX_BACKUPS = {
  instanceSnapshot: `${SANDBOX_ESTATE.instance}-manual`,
  clusterSnapshot: `${SANDBOX_ESTATE.cluster}-manual`,
  drRegion: 'ap-northeast-1',
  drCopy: `${SANDBOX_ESTATE.instance}-manual-dr`,
} as const;

export async function seedBackups(options: SeedOptions & { drRegion?: string }): Promise<string[]> {
  const drRegion = options.drRegion ?? SANDBOX_BACKUPS.drRegion;
  const base = { endpoint: options.endpoint, credentials: options.credentials ?? { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 2 };
  const rds = new RDSClient({ ...base, region: options.region });
  const dr = new RDSClient({ ...base, region: drRegion });
  const created: string[] = [];
  try {
    let arn = await snapshotArn(rds, SANDBOX_BACKUPS.instanceSnapshot);
    if (!arn) {
      const out = await rds.send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: SANDBOX_ESTATE.instance, DBSnapshotIdentifier: SANDBOX_BACKUPS.instanceSnapshot }),
      );
      arn = out.DBSnapshot!.DBSnapshotArn!;
      created.push(`snapshot ${SANDBOX_BACKUPS.instanceSnapshot}`);
    }
    if (!(await snapshotArn(dr, SANDBOX_BACKUPS.drCopy))) {
      await dr.send(new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: arn, TargetDBSnapshotIdentifier: SANDBOX_BACKUPS.drCopy }));
      created.push(`snapshot ${SANDBOX_BACKUPS.drCopy} (${drRegion})`);
    }
    const clusterSnaps = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: SANDBOX_ESTATE.cluster }));
    if (!(clusterSnaps.DBClusterSnapshots ?? []).some((s) => s.DBClusterSnapshotIdentifier === SANDBOX_BACKUPS.clusterSnapshot)) {
      await rds.send(
        new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: SANDBOX_ESTATE.cluster, DBClusterSnapshotIdentifier: SANDBOX_BACKUPS.clusterSnapshot }),
      );
      created.push(`cluster snapshot ${SANDBOX_BACKUPS.clusterSnapshot}`);
    }
  } finally {
    rds.destroy();
    dr.destroy();
  }
  return created;
}

async function snapshotArn(rds: RDSClient, id: string): Promise<string | null> {
  try {
    const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
    return out.DBSnapshots?.[0]?.DBSnapshotArn ?? null;
  } catch (e) {
    if ((e as { name?: string }).name === 'DBSnapshotNotFoundFault') return null;
    throw e;
  }
}
