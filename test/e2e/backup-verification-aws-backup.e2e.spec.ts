import { mockClient } from 'aws-sdk-client-mock';
import {
  BackupClient,
  DescribeRecoveryPointCommand,
  DescribeRestoreJobCommand,
  ListRecoveryPointsByResourceCommand,
  PutRestoreValidationResultCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup';
import { CreateDBInstanceCommand, RDSClient, RestoreDBInstanceFromDBSnapshotCommand } from '@aws-sdk/client-rds';
import { seedBackups } from '../../scripts/sandbox/seed-backups';
import { eventually, Harness, REGION } from '../support/runbookd';

/**
 * The AWS Backup source of backup-verification. moto has no restore jobs, so AWS Backup is
 * aws-sdk-client-mock (in this process, where the app runs) while RDS stays moto: the mocked
 * StartRestoreJob creates the copy in moto the way AWS Backup would, and everything after it
 * (waiting, tagging, verifying, deleting) goes to moto through the recording proxy.
 */
const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };
const ROLE = 'arn:aws:iam::123456789012:role/backup-restore';
const RECOVERY_POINT = 'arn:aws:backup:eu-west-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45';
const backup = mockClient(BackupClient);
const stepOf = (run: any, id: string) => run.steps.find((s: any) => s.id === id);

describe('backup-verification with source aws-backup', () => {
  let h: Harness;
  let rds: RDSClient;
  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    await seedBackups({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
    rds = new RDSClient({ endpoint: h.moto.endpoint, region: REGION, credentials: CREDS });
  });
  afterAll(async () => {
    rds?.destroy();
    backup.restore();
    await h?.close();
  });
  beforeEach(() => {
    h.proxy.clear();
    backup.reset();
    backup.on(ListRecoveryPointsByResourceCommand).resolves({
      RecoveryPoints: [
        {
          RecoveryPointArn: RECOVERY_POINT,
          CreationDate: new Date(Date.now() - 10 * 60_000),
          Status: 'COMPLETED',
          BackupVaultName: 'prod-vault',
          EncryptionKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k1',
        },
        { RecoveryPointArn: `${RECOVERY_POINT}-old`, CreationDate: new Date(Date.now() - 26 * 3600_000), Status: 'COMPLETED', BackupVaultName: 'prod-vault' },
      ],
    });
    backup.on(DescribeRecoveryPointCommand).resolves({
      RecoveryPointArn: RECOVERY_POINT,
      IsEncrypted: true,
      EncryptionKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k1',
      Lifecycle: { DeleteAfterDays: 35 },
    });
    backup.on(PutRestoreValidationResultCommand).resolves({});
  });

  const start = async () => {
    const res = await h.request('POST', '/v1/runbooks/backup-verification/runs', {
      key: h.keys.operator,
      body: {
        parameters: {
          dbInstanceIdentifier: 'billing-postgres',
          source: 'aws-backup',
          backupRoleArn: ROLE,
          pollSeconds: 0.2,
          vpcSecurityGroupIds: ['sg-0a1b2c3d'],
        },
      },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  it('restores the newest recovery point (job RUNNING then COMPLETED), tags and verifies the copy, reports SUCCESSFUL, deletes it', async () => {
    backup.on(StartRestoreJobCommand).callsFake(async (input) => {
      await rds.send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBSnapshotIdentifier: 'billing-postgres-manual',
          DBInstanceIdentifier: input.Metadata.DBInstanceIdentifier,
        }),
      );
      return { RestoreJobId: 'job-ok' };
    });
    backup
      .on(DescribeRestoreJobCommand)
      .resolvesOnce({ RestoreJobId: 'job-ok', Status: 'RUNNING', PercentDone: '40%' })
      .resolves({ RestoreJobId: 'job-ok', Status: 'COMPLETED', CreatedResourceArn: 'arn:aws:rds:eu-west-1:123456789012:db:restored' });
    const runId = await start();
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('succeeded');

    const starts = backup.commandCalls(StartRestoreJobCommand);
    expect(starts).toHaveLength(1);
    expect(starts[0].args[0].input).toEqual({
      RecoveryPointArn: RECOVERY_POINT,
      IamRoleArn: ROLE,
      IdempotencyToken: `${runId}-restore`,
      ResourceType: 'RDS',
      Metadata: { DBInstanceIdentifier: `rbd-${runId}`, PubliclyAccessible: 'false', MultiAZ: 'false', VpcSecurityGroupIds: '["sg-0a1b2c3d"]' },
    });
    expect(backup.commandCalls(DescribeRestoreJobCommand).length).toBeGreaterThanOrEqual(2);
    expect(stepOf(run, 'available').attempts).toBeGreaterThanOrEqual(2);
    // AWS Backup restores without tags: the run tags the copy itself.
    expect(h.proxy.count('AddTagsToResource')).toBe(1);
    const validation = backup.commandCalls(PutRestoreValidationResultCommand);
    expect(validation).toHaveLength(1);
    expect(validation[0].args[0].input).toMatchObject({ RestoreJobId: 'job-ok', ValidationStatus: 'SUCCESSFUL' });
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);

    const report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
    const f = (id: string) => report.findings.find((x: any) => x.id === id);
    expect(f('backup-retention')).toMatchObject({ passed: true, measured: 35, target: 30 });
    expect(f('backup-encrypted').measured).toBe('KMS key arn:aws:kms:eu-west-1:123456789012:key/k1');
    expect(f('newest-backup-age').passed).toBe(true);
    expect(report.resources).toEqual([expect.objectContaining({ identifier: `rbd-${runId}`, state: 'deleted', createdByStepId: 'restore' })]);
  });

  it('a copy that does not match its source: FAILED validation naming the check, the copy still deleted, the run failed', async () => {
    backup.on(StartRestoreJobCommand).callsFake(async (input) => {
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: input.Metadata.DBInstanceIdentifier,
          Engine: 'postgres',
          EngineVersion: '15.2',
          DBInstanceClass: 'db.t4g.medium',
          AllocatedStorage: 100,
          StorageEncrypted: true,
          MasterUsername: 'x',
          MasterUserPassword: 'sandbox-only-password',
        }),
      );
      return { RestoreJobId: 'job-mismatch' };
    });
    backup.on(DescribeRestoreJobCommand).resolves({ RestoreJobId: 'job-mismatch', Status: 'COMPLETED' });
    const runId = await start();
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('failed');
    expect(run.error).toMatchObject({ code: 'FINDINGS_FAILED', details: { findings: ['engine-version-matches'] } });
    const validation = backup.commandCalls(PutRestoreValidationResultCommand);
    expect(validation).toHaveLength(1);
    expect(validation[0].args[0].input).toMatchObject({ RestoreJobId: 'job-mismatch', ValidationStatus: 'FAILED' });
    expect(validation[0].args[0].input.ValidationStatusMessage).toContain('engine-version-matches (measured 15.2, expected 16.3)');
    expect(stepOf(run, 'delete-copy').output.outcome).toBe('deleted');
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);
  });

  it('a run cancelled while the restore job runs: cleanup lets the job end, then deletes the copy it made', async () => {
    let jobStatus = 'RUNNING';
    let copy = '';
    backup.on(StartRestoreJobCommand).callsFake(async (input) => {
      copy = input.Metadata.DBInstanceIdentifier;
      return { RestoreJobId: 'job-slow' };
    });
    backup.on(DescribeRestoreJobCommand).callsFake(async () => ({ RestoreJobId: 'job-slow', Status: jobStatus }));
    const runId = await start();
    await h.waitForRun(runId, ['waiting']);
    expect((await h.request('POST', `/v1/runs/${runId}/cancel`, { key: h.keys.operator })).status).toBe(202);
    // Cleanup is now waiting on the job; AWS Backup finishes the copy only afterwards.
    await eventually(
      async () => {
        const r = (await h.request('GET', `/v1/runs/${runId}`)).body;
        return r.phase === 'cleanup' && stepOf(r, 'settle-job')?.state === 'waiting' ? r : undefined;
      },
      20_000,
      'cleanup to wait on the restore job',
    );
    expect(h.proxy.count('DeleteDBInstance')).toBe(0);
    await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBSnapshotIdentifier: 'billing-postgres-manual', DBInstanceIdentifier: copy }));
    jobStatus = 'COMPLETED';
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('cancelled');
    expect(stepOf(run, 'settle-job').output.status).toBe('COMPLETED');
    expect(stepOf(run, 'delete-copy').output.outcome).toBe('deleted');
    expect(h.proxy.count('DeleteDBInstance')).toBe(1);
  });

  it('a restore job that FAILED fails the run with AWS Backup’s reason; cleanup still runs; no validation is put', async () => {
    backup.on(StartRestoreJobCommand).resolves({ RestoreJobId: 'job-failed' });
    backup.on(DescribeRestoreJobCommand).resolves({ RestoreJobId: 'job-failed', Status: 'FAILED', StatusMessage: 'Insufficient DB instance capacity' });
    const runId = await start();
    const run = await h.waitForRun(runId);
    expect(run.state).toBe('failed');
    expect(stepOf(run, 'available').error).toMatchObject({ code: 'RESTORE_FAILED', message: expect.stringContaining('Insufficient DB instance capacity') });
    expect(stepOf(run, 'delete-copy')).toMatchObject({ state: 'succeeded', output: { outcome: 'absent' } });
    expect(backup.commandCalls(PutRestoreValidationResultCommand)).toHaveLength(0);
  });
});
