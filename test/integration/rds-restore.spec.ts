import { Logger } from '@nestjs/common';
import type { AuditService } from '../../src/audit/audit.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { RdsRestoreAdapter } from '../../src/aws/rds-restore.adapter';
import { runResourceTags } from '../../src/aws/resource-tags';
import { loadConfig } from '../../src/config/app.config';
import type { StepContext } from '../../src/steps/step.contract';
import { SANDBOX_BACKUPS, seedBackups } from '../../scripts/sandbox/seed-backups';
import { SANDBOX_ESTATE, seedSandbox } from '../../scripts/sandbox/seed-estate';
import { createRestoredResource } from '../../src/steps/rds/restore-create';
import { observeRestored } from '../../src/steps/rds/restored-resource';
import { startMoto, type MotoServer } from '../support/moto';

/** The RDS restore operations against moto: snapshots (and the DR copy), a look-before-act restore, tags, delete. */
const region = 'eu-west-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('RDS restore operations (moto)', () => {
  let moto: MotoServer;
  let rds: RdsRestoreAdapter;
  let factory: AwsClientFactory;
  const expiresAt = new Date('2030-01-01T00:00:00Z');
  const ctx = (runId: string): StepContext => ({
    runId,
    runbookId: 'backup-verification',
    stepId: 'restore',
    attempt: 1,
    startedAt: new Date(),
    memory: {},
    checkpoint: jest.fn(async () => undefined),
    dryRun: false,
    expiresAt,
    aws: { runId, runbookId: 'backup-verification', stepId: 'restore', actor: 'test', dryRun: false, expiresAt },
    log: new Logger('test'),
  });

  beforeAll(async () => {
    moto = await startMoto();
    await seedSandbox({ endpoint: moto.endpoint, region, credentials });
    const config = loadConfig({
      AWS_REGION: region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      RUNBOOKD_AWS_MAX_ATTEMPTS: '1',
    });
    factory = new AwsClientFactory(config);
    const audit = { append: jest.fn(async () => ({})), appendMany: jest.fn(async () => []) } as unknown as AuditService;
    rds = new RdsRestoreAdapter(factory, new AwsCallerService(audit));
  });
  afterAll(async () => {
    factory?.destroy();
    await moto?.stop();
  });

  it('seeds backups once, with a copy in the DR region that names its source instance', async () => {
    const first = await seedBackups({ endpoint: moto.endpoint, region, credentials });
    expect(first).toHaveLength(3);
    expect(await seedBackups({ endpoint: moto.endpoint, region, credentials })).toEqual([]);
    const c = ctx('r0seed');
    const local = await rds.describeSnapshots(c.aws, region, { kind: 'instance', identifier: SANDBOX_ESTATE.instance });
    expect(local[0]).toMatchObject({ identifier: SANDBOX_BACKUPS.instanceSnapshot, encrypted: true, status: 'available', region });
    expect(local.map((s) => s.type)).toEqual(expect.arrayContaining(['manual', 'automated']));
    const dr = await rds.describeSnapshots(c.aws, SANDBOX_BACKUPS.drRegion, { kind: 'instance', identifier: SANDBOX_ESTATE.instance });
    expect(dr.map((s) => s.identifier)).toEqual([SANDBOX_BACKUPS.drCopy]);
    const cluster = await rds.describeSnapshots(c.aws, region, { kind: 'cluster', identifier: SANDBOX_ESTATE.cluster });
    expect(cluster.map((s) => s.identifier)).toContain(SANDBOX_BACKUPS.clusterSnapshot);
  });

  it('restores once under the run’s name with its tags; a repeat finds the copy; another run may not take it; delete removes it', async () => {
    const c = ctx('r0one');
    const spec = {
      kind: 'instance' as const,
      identifier: 'rbd-r0one',
      instanceIdentifier: 'rbd-r0one',
      isolation: { vpcSecurityGroupIds: ['sg-0a1b2c3d'] },
      tags: runResourceTags(c),
      create: { from: 'snapshot' as const, snapshotIdentifier: SANDBOX_BACKUPS.instanceSnapshot },
    };
    expect(await createRestoredResource.run(rds, c, region, spec, 1)).toBe(false);
    expect(await createRestoredResource.run(rds, c, region, spec, 1)).toBe(true);
    const made = await rds.describeInstanceDetail(c.aws, region, 'rbd-r0one');
    expect(made.tags).toEqual(
      expect.arrayContaining([
        { Key: 'runbookd:run-id', Value: 'r0one' },
        { Key: 'runbookd:expires-at', Value: expiresAt.toISOString() },
      ]),
    );
    expect(made.vpcSecurityGroupIds).toEqual(['sg-0a1b2c3d']);
    expect(made.publiclyAccessible).toBe(false);

    const other = ctx('r0two');
    await expect(createRestoredResource.run(rds, other, region, { ...spec, tags: runResourceTags(other) }, 1)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    expect((await observeRestored(rds, other.aws, region, spec)).ours).toBe(false);

    await rds.deleteInstance(c.aws, region, 'rbd-r0one');
    expect(await rds.findInstance(c.aws, region, 'rbd-r0one')).toBeNull();
  });
});
