import { mockClient } from 'aws-sdk-client-mock';
import {
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { BackupClient, StartRestoreJobCommand } from '@aws-sdk/client-backup';
import { Logger } from '@nestjs/common';
import type { AuditService } from '../../src/audit/audit.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { BackupAdapter } from '../../src/aws/backup.adapter';
import { RdsRestoreAdapter } from '../../src/aws/rds-restore.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import type { StepContext } from '../../src/steps/step.contract';
import { CheckRestorePointStep } from '../../src/steps/backup/check-restore-point.step';
import { StartRestoreStep } from '../../src/steps/backup/start-restore.step';
import { CheckRestoreWindowStep } from '../../src/steps/rds/check-restore-window.step';
import { DeleteRestoredStep } from '../../src/steps/rds/delete-restored.step';
import { RestoreToPointInTimeStep } from '../../src/steps/rds/restore-to-point-in-time.step';

/**
 * Paths moto cannot show: restores in the DR region from replicated automated backups (moto has
 * no backup replication), hours-old snapshots (moto stamps snapshots with the time they are made),
 * deletes that AWS refuses, and AWS Backup's idempotency token across a resumed attempt.
 */
const rdsMock = mockClient(RDSClient);
const backupMock = mockClient(BackupClient);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {} } });
const audit = { append: jest.fn(async () => ({})), appendMany: jest.fn(async () => []) } as unknown as AuditService;
const caller = new AwsCallerService(audit);
const clients = new AwsClientFactory(config);
const rds = new RdsRestoreAdapter(clients, caller);
const backup = new BackupAdapter(clients, caller);

const NOW = Date.parse('2026-11-22T12:00:00Z');
class FixedClock extends Clock {
  override now(): Date {
    return new Date(NOW);
  }
  override nowMs(): number {
    return NOW;
  }
}
const clock = new FixedClock();

function ctx(memory: Record<string, unknown> = {}, attempt = 1): StepContext {
  const expiresAt = new Date(NOW + 86_400_000);
  return {
    runId: 'r0abc',
    runbookId: 'point-in-time-restore',
    stepId: 'restore',
    attempt,
    startedAt: new Date(NOW),
    memory,
    checkpoint: jest.fn(async () => undefined),
    dryRun: false,
    expiresAt,
    aws: { runId: 'r0abc', runbookId: 'point-in-time-restore', stepId: 'restore', actor: 'otto', dryRun: false, expiresAt },
    log: new Logger('test'),
  };
}

const billing = (over: Record<string, unknown> = {}) => ({
  DBInstances: [
    {
      DBInstanceIdentifier: 'billing-postgres',
      DBInstanceStatus: 'available',
      Engine: 'postgres',
      EngineVersion: '16.3',
      AllocatedStorage: 100,
      StorageEncrypted: true,
      KmsKeyId: 'k1',
      BackupRetentionPeriod: 30,
      DBInstanceArn: 'arn:aws:rds:eu-west-1:1:db:billing-postgres',
      LatestRestorableTime: new Date(NOW - 5 * 60_000),
      ...over,
    },
  ],
});

async function regionOf(call: { thisValue: unknown }): Promise<string> {
  return (call.thisValue as RDSClient).config.region();
}

beforeEach(() => {
  rdsMock.reset();
  backupMock.reset();
});

describe('point-in-time restore in the DR region', () => {
  const replicated = {
    DBInstanceAutomatedBackups: [
      {
        DBInstanceIdentifier: 'billing-postgres',
        Region: 'eu-west-1',
        Status: 'replicating',
        DBInstanceAutomatedBackupsArn: 'arn:aws:rds:ap-northeast-1:1:auto-backup:ab-xyz',
        RestoreWindow: { EarliestTime: new Date(NOW - 7 * 86_400_000), LatestTime: new Date(NOW - 20 * 60_000) },
      },
    ],
  };

  it('checks the point against the replicated backups’ window and restores from them in the DR region', async () => {
    rdsMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'billing-postgres' }).resolves(billing());
    rdsMock.on(DescribeDBInstanceAutomatedBackupsCommand).resolves(replicated);
    const window = new CheckRestoreWindowStep(rds, config);
    const checked = await window.run(
      { dbInstanceIdentifier: 'billing-postgres', targetRegion: 'ap-northeast-1', restoreTime: new Date(NOW - 3600_000).toISOString() },
      ctx(),
    );
    if (checked.kind !== 'done') throw new Error('expected done');
    expect(checked.output).toMatchObject({
      restoreRegion: 'ap-northeast-1',
      sourceAutomatedBackupsArn: 'arn:aws:rds:ap-northeast-1:1:auto-backup:ab-xyz',
      latestRestorableTime: new Date(NOW - 20 * 60_000).toISOString(),
      restoreIdentifier: 'rbd-r0abc',
    });
    expect(checked.output.findings[0].passed).toBe(true);
    expect(await regionOf(rdsMock.commandCalls(DescribeDBInstanceAutomatedBackupsCommand)[0])).toBe('ap-northeast-1');

    // A point newer than the replicated window's end is outside it, even though the source has it.
    const late = await window.run(
      { dbInstanceIdentifier: 'billing-postgres', targetRegion: 'ap-northeast-1', restoreTime: new Date(NOW - 60_000).toISOString() },
      ctx(),
    );
    if (late.kind !== 'done') throw new Error('expected done');
    expect(late.output.findings[0]).toMatchObject({ passed: false, detail: expect.stringContaining('in ap-northeast-1') });

    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'rbd-r0abc' })
      .rejects(Object.assign(new Error('not found'), { name: 'DBInstanceNotFoundFault' }));
    rdsMock.on(RestoreDBInstanceToPointInTimeCommand).resolves({});
    const restore = new RestoreToPointInTimeStep(rds, config, clock);
    const input = {
      kind: 'instance' as const,
      sourceIdentifier: 'billing-postgres',
      identifier: 'rbd-r0abc',
      region: 'eu-west-1',
      targetRegion: 'ap-northeast-1',
      sourceAutomatedBackupsArn: 'arn:aws:rds:ap-northeast-1:1:auto-backup:ab-xyz',
      restoreTime: new Date(NOW - 3600_000).toISOString(),
    };
    const c = ctx();
    await restore.run(input, c);
    const calls = rdsMock.commandCalls(RestoreDBInstanceToPointInTimeCommand);
    expect(calls).toHaveLength(1);
    expect(await regionOf(calls[0])).toBe('ap-northeast-1');
    const sent = calls[0].args[0].input;
    expect(sent).toMatchObject({
      SourceDBInstanceAutomatedBackupsArn: 'arn:aws:rds:ap-northeast-1:1:auto-backup:ab-xyz',
      TargetDBInstanceIdentifier: 'rbd-r0abc',
      PubliclyAccessible: false,
    });
    expect(sent.SourceDBInstanceIdentifier).toBeUndefined();
    expect(c.checkpoint).toHaveBeenCalledWith({ requestedAtMs: NOW });
    // The dry-run plan is the same request.
    const [planned] = await restore.plan(input, ctx());
    expect(planned).toMatchObject({
      operation: 'RestoreDBInstanceToPointInTime',
      region: 'ap-northeast-1',
      input: { SourceDBInstanceAutomatedBackupsArn: sent.SourceDBInstanceAutomatedBackupsArn },
    });
  });

  it('refuses when nothing is replicated to the DR region, and for Aurora clusters', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves(billing());
    rdsMock.on(DescribeDBInstanceAutomatedBackupsCommand).resolves({ DBInstanceAutomatedBackups: [] });
    const window = new CheckRestoreWindowStep(rds, config);
    await expect(
      window.run({ dbInstanceIdentifier: 'billing-postgres', targetRegion: 'ap-northeast-1', useLatestRestorableTime: true }, ctx()),
    ).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: 'no automated backups of billing-postgres (eu-west-1) are replicated to ap-northeast-1',
    });
    rdsMock
      .on(DescribeDBClustersCommand)
      .resolves({ DBClusters: [{ DBClusterIdentifier: 'orders', Status: 'available', Engine: 'aurora-postgresql', EngineVersion: '15.4' }] });
    await expect(window.run({ clusterIdentifier: 'orders', targetRegion: 'ap-northeast-1', useLatestRestorableTime: true }, ctx())).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
  });
});

describe('backup checks', () => {
  it('a snapshot three hours old fails the 60-minute RPO check with its measured age', async () => {
    rdsMock.on(DescribeDBSnapshotsCommand).resolves({
      DBSnapshots: [
        {
          DBSnapshotIdentifier: 'rds:billing-postgres-2026-11-22-09-00',
          DBInstanceIdentifier: 'billing-postgres',
          SnapshotType: 'automated',
          Status: 'available',
          SnapshotCreateTime: new Date(NOW - 180 * 60_000),
          Encrypted: false,
        },
        {
          DBSnapshotIdentifier: 'billing-old',
          DBInstanceIdentifier: 'billing-postgres',
          SnapshotType: 'manual',
          Status: 'available',
          SnapshotCreateTime: new Date(NOW - 2 * 86_400_000),
          Encrypted: true,
        },
        {
          DBSnapshotIdentifier: 'other-db-newer',
          DBInstanceIdentifier: 'other-db',
          SnapshotType: 'manual',
          Status: 'available',
          SnapshotCreateTime: new Date(NOW - 60_000),
          Encrypted: true,
        },
      ],
    });
    const step = new CheckRestorePointStep(rds, backup, config, clock);
    const out = await step.run(
      {
        source: 'rds-snapshot',
        kind: 'instance',
        identifier: 'billing-postgres',
        arn: 'arn',
        rpoTargetMinutes: 60,
        retentionDays: 30,
        backupRetentionPeriod: 7,
      },
      ctx(),
    );
    if (out.kind !== 'done') throw new Error('expected done');
    const f = Object.fromEntries(out.output.findings.map((x) => [x.id, x]));
    expect(out.output.restorePointId).toBe('rds:billing-postgres-2026-11-22-09-00');
    expect(f['newest-backup-age']).toMatchObject({ passed: false, measured: 180, target: 60, unit: 'min' });
    expect(f['backup-retention']).toMatchObject({ passed: false, measured: 7, target: 30 });
    expect(f['backup-encrypted']).toMatchObject({ passed: false, measured: 'not encrypted' });
  });
});

describe('AWS Backup restore start', () => {
  it('sends the same idempotency token on a resumed attempt, so AWS Backup answers with the same job', async () => {
    backupMock.on(StartRestoreJobCommand).resolves({ RestoreJobId: 'job-1' });
    const step = new StartRestoreStep(rds, backup, config, clock);
    const input = {
      source: 'aws-backup' as const,
      kind: 'instance' as const,
      restorePointId: 'arn:aws:backup:eu-west-1:1:recovery-point:rp',
      identifier: 'rbd-r0abc',
      engine: 'postgres',
      backupRoleArn: 'arn:aws:iam::123456789012:role/r',
      dbSubnetGroupName: 'isolated',
    };
    const first = await step.run(input, ctx());
    const again = await step.run(input, ctx({ requestedAtMs: NOW - 1000 }, 2));
    const tokens = backupMock.commandCalls(StartRestoreJobCommand).map((c) => c.args[0].input.IdempotencyToken);
    expect(tokens).toEqual(['r0abc-restore', 'r0abc-restore']);
    expect(backupMock.commandCalls(StartRestoreJobCommand)[0].args[0].input.Metadata).toMatchObject({
      DBSubnetGroupName: 'isolated',
      PubliclyAccessible: 'false',
    });
    if (first.kind !== 'done' || again.kind !== 'done') throw new Error('expected done');
    expect(first.output).toMatchObject({ restoreJobId: 'job-1', resumed: false });
    expect(again.output).toMatchObject({ restoreJobId: 'job-1', resumed: true, requestedAtMs: NOW - 1000 });
  });
});

describe('cleanup of a restored copy', () => {
  const copy = { DBInstances: [{ DBInstanceIdentifier: 'rbd-r0abc', DBInstanceStatus: 'available', DBInstanceArn: 'arn:aws:rds:eu-west-1:1:db:rbd-r0abc' }] };
  const failure = (name: string) => Object.assign(new Error(`${name}: no`), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });

  it('a delete AWS refuses becomes a failed finding naming the copy (the run then fails)', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves(copy);
    rdsMock.on(DeleteDBInstanceCommand).rejects(failure('InvalidParameterCombination'));
    const out = await new DeleteRestoredStep(rds, config, clock).run({ kind: 'instance', identifier: 'rbd-r0abc' }, ctx());
    if (out.kind !== 'done') throw new Error('expected done');
    expect(out.output.outcome).toBe('not-deleted');
    expect(out.output.findings[0]).toMatchObject({ id: 'restored-copy-deleted', passed: false, title: 'Restored instance rbd-r0abc (eu-west-1) is deleted' });
    expect(out.output.findings[0].detail).toContain('could not delete instance rbd-r0abc (eu-west-1)');
    expect(out.output.resources).toEqual([expect.objectContaining({ identifier: 'rbd-r0abc', state: 'delete-failed' })]);
    expect(rdsMock.commandCalls(DeleteDBInstanceCommand)[0].args[0].input).toEqual({
      DBInstanceIdentifier: 'rbd-r0abc',
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    });
  });

  it('a copy that is busy (still being created) is looked at again later, and given up with a finding after 90 minutes', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves(copy);
    rdsMock.on(DeleteDBInstanceCommand).rejects(failure('InvalidDBInstanceStateFault'));
    const step = new DeleteRestoredStep(rds, config, clock);
    const out = await step.run({ kind: 'instance', identifier: 'rbd-r0abc', pollSeconds: 5 }, ctx());
    expect(out).toMatchObject({ kind: 'wait', afterSeconds: 5 });
    const late = { ...ctx({}, 40), startedAt: new Date(NOW - 91 * 60_000) };
    const given = await step.run({ kind: 'instance', identifier: 'rbd-r0abc', pollSeconds: 5 }, late);
    expect(given).toMatchObject({ kind: 'done', output: { outcome: 'not-deleted', findings: [{ passed: false, measured: 'AWS_INVALID_STATE' }] } });
  });

  it('confirms a copy that is still deleting', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce(copy)
      .resolves({ DBInstances: [{ ...copy.DBInstances[0], DBInstanceStatus: 'deleting' }] });
    rdsMock.on(DeleteDBInstanceCommand).resolves({});
    const out = await new DeleteRestoredStep(rds, config, clock).run({ kind: 'instance', identifier: 'rbd-r0abc' }, ctx());
    if (out.kind !== 'done') throw new Error('expected done');
    expect(out.output).toMatchObject({ outcome: 'deleting', findings: [{ passed: true, measured: 'deleting' }] });
  });
});
