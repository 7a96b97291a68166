import { Logger } from '@nestjs/common';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import type { AuditService } from '../../src/audit/audit.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { RdsRestoreAdapter } from '../../src/aws/rds-restore.adapter';
import { runResourceTags } from '../../src/aws/resource-tags';
import { Clock } from '../../src/common/clock';
import { loadConfig } from '../../src/config/app.config';
import type { StepContext } from '../../src/steps/step.contract';
import { DeleteRestoredStep } from '../../src/steps/rds/delete-restored.step';
import { TagRestoredStep } from '../../src/steps/rds/tag-restored.step';
import { createRestoredResource } from '../../src/steps/rds/restore-create';
import { SANDBOX_BACKUPS, seedBackups } from '../../scripts/sandbox/seed-backups';
import { SANDBOX_ESTATE, seedSandbox } from '../../scripts/sandbox/seed-estate';
import { startMoto, type MotoServer } from '../support/moto';

/**
 * Restore cleanup deletes only what this run made, resource by resource: the restored cluster's
 * `<id>-1` instance is checked on its own, not assumed to come with the cluster. Against moto.
 */
const region = 'eu-west-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('rds.delete-restored: ownership checked per resource (moto)', () => {
  let moto: MotoServer;
  let rds: RdsRestoreAdapter;
  let raw: RDSClient;
  let factory: AwsClientFactory;
  let step: DeleteRestoredStep;
  const expiresAt = new Date('2030-01-01T00:00:00Z');
  const ctx = (runId: string, stepId = 'delete-copy'): StepContext => ({
    runId,
    runbookId: 'point-in-time-restore',
    stepId,
    attempt: 1,
    startedAt: new Date(),
    memory: {},
    checkpoint: jest.fn(async () => undefined),
    dryRun: false,
    expiresAt,
    aws: { runId, runbookId: 'point-in-time-restore', stepId, actor: 'test', dryRun: false, expiresAt },
    log: new Logger('test'),
  });
  const instanceIds = async () => ((await raw.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).map((i) => i.DBInstanceIdentifier);
  /** Someone else's instance: another run's tags, or none. */
  const foreignInstance = (id: string, tags: Array<{ Key: string; Value: string }>, clusterId?: string) =>
    raw.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: 'db.r6g.large',
        Tags: tags,
        ...(clusterId
          ? { Engine: 'aurora-postgresql', DBClusterIdentifier: clusterId }
          : { Engine: 'postgres', AllocatedStorage: 20, MasterUsername: 'someone', MasterUserPassword: 'not-ours-123' }),
      }),
    );
  /** This run's restored cluster, made the way the restore steps make it. */
  const restoreCluster = (runId: string, identifier: string) => {
    const c = ctx(runId, 'restore');
    return createRestoredResource.run(
      rds,
      c,
      region,
      {
        kind: 'cluster',
        identifier,
        instanceIdentifier: `${identifier}-1`,
        engine: 'aurora-postgresql',
        isolation: {},
        tags: runResourceTags(c),
        create: { from: 'snapshot', snapshotIdentifier: SANDBOX_BACKUPS.clusterSnapshot },
      },
      1,
    );
  };
  /** Runs the step to its end (it may ask to look again while the instance goes). */
  const cleanup = async (runId: string, identifier: string) => {
    for (let i = 0; i < 20; i++) {
      const out = await step.run({ kind: 'cluster', identifier, instanceIdentifier: `${identifier}-1`, region, pollSeconds: 0.2 }, ctx(runId));
      if (out.kind === 'done') return out.output;
    }
    throw new Error('cleanup never finished');
  };

  beforeAll(async () => {
    moto = await startMoto();
    await seedSandbox({ endpoint: moto.endpoint, region, credentials });
    await seedBackups({ endpoint: moto.endpoint, region, credentials });
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
    step = new DeleteRestoredStep(rds, config, new Clock());
    raw = new RDSClient({ region, endpoint: moto.endpoint, credentials });
  }, 60_000);
  afterAll(async () => {
    raw?.destroy();
    factory?.destroy();
    await moto?.stop();
  });

  it('deletes its own cluster and instance (the tagged pair)', async () => {
    expect(await restoreCluster('r0mine', 'drill-mine')).toBe(false);
    const out = await cleanup('r0mine', 'drill-mine');
    expect(out).toMatchObject({ outcome: expect.stringMatching(/^(deleted|deleting)$/) });
    expect(out.findings.every((f) => f.passed)).toBe(true);
    expect(await instanceIds()).not.toContain('drill-mine-1');
  });

  it('leaves a foreign, untagged `<id>-1` instance alone and reports it as not deleted', async () => {
    expect(await restoreCluster('r0runa', 'drill-a')).toBe(false);
    // Our instance is gone (a crash before it was made, or deleted by hand) and a stranger took the name.
    await rds.deleteInstance(ctx('r0runa').aws, region, 'drill-a-1');
    await foreignInstance('drill-a-1', []);
    const out = await cleanup('r0runa', 'drill-a');
    expect(await instanceIds()).toContain('drill-a-1');
    expect(out.outcome).toBe('not-deleted');
    const failed = out.findings.filter((f) => !f.passed);
    expect(failed.map((f) => f.detail).join(' ')).toMatch(/drill-a-1.*not created by this run/);
    // The report's resources list only what the run made.
    expect(out.resources.map((r) => r.identifier)).not.toContain('drill-a-1');
  });

  it("leaves another run's `<id>-1` instance alone even inside this run's cluster, and keeps the cluster it cannot empty", async () => {
    expect(await restoreCluster('r0runb', 'drill-b')).toBe(false);
    // Swap the instance for another run's: drop ours, then a stranger adds its own under the same name.
    await rds.deleteInstance(ctx('r0runb').aws, region, 'drill-b-1');
    await foreignInstance('drill-b-1', runResourceTags({ runId: 'r0other', runbookId: 'backup-verification', expiresAt }), 'drill-b');
    const out = await cleanup('r0runb', 'drill-b');
    expect(await instanceIds()).toContain('drill-b-1');
    expect(out.outcome).toBe('not-deleted');
    expect(
      out.findings
        .filter((f) => !f.passed)
        .map((f) => f.detail)
        .join(' '),
    ).toMatch(/drill-b-1.*not created by this run/);
    expect(out.resources.map((r) => r.identifier)).toEqual(['drill-b']);
  });

  it("tagging a restored cluster does not adopt a stranger's standalone `<id>-1` instance, so cleanup still leaves it", async () => {
    expect(await restoreCluster('r0rune', 'drill-e')).toBe(false);
    await rds.deleteInstance(ctx('r0rune').aws, region, 'drill-e-1');
    await foreignInstance('drill-e-1', []);
    const tagged = await new TagRestoredStep(rds, loadConfig({ AWS_REGION: region })).run(
      { kind: 'cluster', identifier: 'drill-e', instanceIdentifier: 'drill-e-1', region },
      ctx('r0rune', 'tag'),
    );
    expect(tagged.kind === 'done' && tagged.output.tagged.some((arn) => arn.endsWith(':db:drill-e-1'))).toBe(false);
    const out = await cleanup('r0rune', 'drill-e');
    expect(out.outcome).toBe('not-deleted');
    expect(await instanceIds()).toContain('drill-e-1');
  });

  it('a restore refuses a cluster whose `<id>-1` name another holds, before creating anything', async () => {
    await foreignInstance('drill-c-1', []);
    await expect(restoreCluster('r0runc', 'drill-c')).rejects.toMatchObject({ code: 'PRECONDITION_FAILED', message: expect.stringContaining('drill-c-1') });
    expect(await rds.findCluster(ctx('r0runc').aws, region, 'drill-c')).toBeNull();
    expect(await instanceIds()).toContain('drill-c-1');
    expect(await instanceIds()).toEqual(expect.arrayContaining([SANDBOX_ESTATE.clusterWriter]));
  });
});
