import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CopyDBSnapshotCommand,
  type CopyDBSnapshotCommandInput,
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AuditRepository } from '../../src/audit/audit.repository';
import type { AuditService } from '../../src/audit/audit.service';
import { TargetPolicyService } from '../../src/auth/target-policy.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { ResilienceEstateAdapter } from '../../src/aws/resilience-estate.adapter';
import { TaggingAdapter } from '../../src/aws/tagging.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import { FleetTargetsService } from '../../src/fleets/fleet-targets.service';
import { ResiliencePostureService } from '../../src/fleets/resilience-posture.service';
import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { ResilienceEvidenceRepository } from '../../src/persistence/resilience-evidence.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import type { RunbookCatalog } from '../../src/runbooks/runbook-catalog.service';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startMoto, type MotoServer } from '../support/moto';

/**
 * The posture of a moto estate over two accounts (the home one and one reached by AssumeRole
 * into RUNBOOKD_ACCOUNT_ROLE_ARN) and three tiers, with evidence recorded in a real PostgreSQL
 * the way runs record it (runs + step_results with the steps' findings). Every verdict is
 * asserted exactly: met where a run proved it, breached with no recovery point, no-evidence
 * where no run exists, stale where the run is older than the tier's window, untiered listed.
 */
const HOME = '123456789012';
const A2 = '222222222222';
const REGION = 'us-east-1';
const DR = 'eu-west-1';
const ROLE_A2 = `arn:aws:iam::${A2}:role/runbookd`;
const DAY = 86_400_000;

let moto: MotoServer;
let tdb: TestDatabase;
let db: PgDatabase;
let saved: Record<string, string | undefined>;
let policyFile: string;

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
function rdsIn(region: string, account: string) {
  const base = { region, endpoint: moto.endpoint, credentials: creds };
  if (account === HOME) return new RDSClient(base);
  return new RDSClient({
    ...base,
    credentials: fromTemporaryCredentials({ params: { RoleArn: `arn:aws:iam::${account}:role/seed`, RoleSessionName: 'seed' }, clientConfig: base }),
  });
}

const POLICY = `
version: 1
scope: { accounts: ["${HOME}", "${A2}"], regions: [${REGION}, ${DR}] }
tierTag: runbookd:tier
tiers:
  critical:
    rpo: 15m
    rto: 60m
    restoreVerifiedWithin: 31d
    failoverTestedWithin: 92d
    require: [pitr, encryption, deletionProtection, crossRegionCopy]
  standard: { rpo: 24h, rto: 4h, restoreVerifiedWithin: 92d }
  bronze: { rpo: 7d, rto: 24h, minBackupRetention: 1d }
assignments:
  - { tier: standard, accounts: ["${A2}"] }
  - { tier: bronze, resources: ["arn:aws:rds:${REGION}:${A2}:db:scratch"] }
`;

async function recordRun(
  runbookId: string,
  parameters: Record<string, unknown>,
  state: 'succeeded' | 'failed',
  endedAt: Date,
  findings: unknown[],
  opts: { dryRun?: boolean } = {},
) {
  const id = `run-${Math.random().toString(36).slice(2, 10)}`;
  await new RunsRepository(db).insert({
    id,
    runbookId,
    runbookDigest: 'd',
    definition: {},
    parameters,
    dryRun: opts.dryRun ?? false,
    reason: null,
    trigger: { kind: 'rest' },
    actor: 'alice',
    dedupeKey: null,
    requestHash: null,
    concurrencyKey: null,
    expiresAt: new Date(Date.now() + DAY),
  });
  await db.query(`UPDATE runs SET state = $2, phase = 'done', outcome = $2, started_at = $3, ended_at = $4 WHERE id = $1`, [
    id,
    state,
    new Date(endedAt.getTime() - 600_000),
    endedAt,
  ]);
  await db.query(
    `INSERT INTO step_results (run_id, step_id, phase, position, uses, mutates, state, attempts, started_at, ended_at, output)
     VALUES ($1, 'verify', 'main', 5, 'rds.verify-restored', false, $2, 1, $3, $3, $4)`,
    [id, state, endedAt, JSON.stringify({ findings })],
  );
  return id;
}

const rto = (minutes: number, target = 240) => ({ id: 'rto', title: 'RTO', passed: minutes <= target, measured: minutes, target, unit: 'min' });
const switchTime = (s: number) => ({ id: 'switch-time', title: 'Switch time', passed: true, measured: s, target: 60, unit: 's' });

function service() {
  const config = Object.assign(new AppConfig(), {
    aws: { region: REGION, maxAttempts: 2, connectTimeoutMs: 2000, requestTimeoutMs: 10_000, endpoints: { AWS_ENDPOINT_URL: moto.endpoint } },
    scope: { allowedAccounts: [HOME, A2], allowedRoleArns: [], allowedRegions: [REGION, DR] },
    fleets: { accountRoleArnTemplate: 'arn:aws:iam::{account}:role/runbookd', maxTargets: 1000 },
    resilience: { policyFile, cacheSeconds: 0 },
    nodeEnv: 'test',
  });
  const clients = new AwsClientFactory(config);
  const caller = new AwsCallerService({ append: jest.fn() } as unknown as AuditService);
  const targets = new FleetTargetsService(
    config,
    new TaggingAdapter(clients, caller),
    new TargetPolicyService(config, { list: () => [] } as unknown as RunbookCatalog),
  );
  const audit = { head: async () => ({ seq: 42, hash: 'ab'.repeat(32) }) } as unknown as AuditService;
  const records = { lastDigest: async () => ({ number: 7, position: 40 }) } as unknown as AuditRepository;
  return {
    svc: new ResiliencePostureService(
      config,
      targets,
      new ResilienceEstateAdapter(clients, caller),
      new ResilienceEvidenceRepository(db),
      audit,
      records,
      new Clock(),
    ),
    clients,
  };
}

const ids: Record<string, string> = {};

beforeAll(async () => {
  moto = await startMoto();
  saved = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  tdb = await createTestDatabase();
  db = new PgDatabase(tdb.url, 5);
  await migrate(db);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rbd-posture-'));
  policyFile = path.join(dir, 'resilience.yaml');
  writeFileSync(policyFile, POLICY);

  const home = rdsIn(REGION, HOME);
  const a2 = rdsIn(REGION, A2);
  const db1 = (rds: RDSClient, id: string, o: { tier?: string; retention?: number; safe?: boolean } = {}) =>
    rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBInstanceClass: 'db.t3.micro',
        Engine: 'postgres',
        MasterUsername: 'u',
        MasterUserPassword: 'password1',
        AllocatedStorage: 20,
        BackupRetentionPeriod: o.retention ?? 7,
        StorageEncrypted: o.safe ?? true,
        DeletionProtection: o.safe ?? true,
        MultiAZ: true,
        Tags: o.tier ? [{ Key: 'runbookd:tier', Value: o.tier }] : [],
      }),
    );
  // Home account: critical databases in three states, one Aurora cluster, one untagged scratch instance.
  await db1(home, 'orders', { tier: 'critical' });
  await db1(home, 'payments', { tier: 'critical' });
  await db1(home, 'legacy', { tier: 'critical', retention: 0, safe: false });
  await db1(home, 'scratch-home');
  await home.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: 'aurora-main',
      Engine: 'aurora-postgresql',
      MasterUsername: 'u',
      MasterUserPassword: 'password1',
      StorageEncrypted: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 7,
      Tags: [{ Key: 'runbookd:tier', Value: 'critical' }],
    }),
  );
  // Fresh manual snapshots, each copied to the DR region (a copy keeps its source's identifier).
  const dr = rdsIn(DR, HOME);
  for (const id of ['orders', 'payments']) {
    await home.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: `${id}-manual` }));
    // SourceRegion is the SDK's presigning input, not in the generated type.
    const copy = {
      SourceDBSnapshotIdentifier: `arn:aws:rds:${REGION}:${HOME}:snapshot:${id}-manual`,
      TargetDBSnapshotIdentifier: `${id}-dr`,
      SourceRegion: REGION,
    };
    await dr.send(new CopyDBSnapshotCommand(copy as CopyDBSnapshotCommandInput));
  }
  // legacy: no recovery point at all (moto takes an automated snapshot at creation; AWS would not with retention 0).
  for (const s of (await home.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: 'legacy' }))).DBSnapshots ?? []) {
    await home.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: s.DBSnapshotIdentifier }));
  }
  // Second account, reached by AssumeRole: standard by account, one explicitly bronze, one tagged critical (the tag beats the account).
  await db1(a2, 'reports');
  await db1(a2, 'scratch', { retention: 0 });
  await db1(a2, 'ledger', { tier: 'critical' });
  for (const c of [home, a2, dr]) c.destroy();

  const now = Date.now();
  ids.ordersRestore = await recordRun('backup-verification', { dbInstanceIdentifier: 'orders', region: REGION }, 'succeeded', new Date(now - 2 * DAY), [
    rto(12),
  ]);
  ids.ordersFailover = await recordRun('failover-test', { dbInstanceIdentifier: 'orders' }, 'succeeded', new Date(now - 10 * DAY), [switchTime(21)]);
  // An older run of the same resource is not the evidence: the newest is.
  await recordRun('backup-verification', { dbInstanceIdentifier: 'orders', region: REGION }, 'failed', new Date(now - 5 * DAY), [rto(400)]);
  // A dry run proves nothing, however new.
  await recordRun('backup-verification', { dbInstanceIdentifier: 'payments' }, 'succeeded', new Date(now - DAY), [rto(5)], { dryRun: true });
  // payments: verified once, 40 days ago: past the critical tier's 31 days.
  ids.paymentsRestore = await recordRun('backup-verification', { dbInstanceIdentifier: 'payments' }, 'succeeded', new Date(now - 40 * DAY), [rto(15)]);
  ids.paymentsFailover = await recordRun('failover-test', { dbInstanceIdentifier: 'payments' }, 'succeeded', new Date(now - 3 * DAY), [switchTime(95 * 60)]);
  ids.auroraRestore = await recordRun('backup-verification', { clusterIdentifier: 'aurora-main', region: REGION }, 'succeeded', new Date(now - 1 * DAY), [
    rto(30),
  ]);
  ids.auroraFailover = await recordRun('failover-test', { clusterIdentifier: 'aurora-main', region: REGION }, 'succeeded', new Date(now - 1 * DAY), [
    switchTime(12),
  ]);
  ids.reportsRestore = await recordRun(
    'backup-verification',
    { dbInstanceIdentifier: 'reports', region: REGION, roleArn: ROLE_A2 },
    'succeeded',
    new Date(now - 20 * DAY),
    [rto(90)],
  );
  ids.ledgerRestore = await recordRun(
    'backup-verification',
    { dbInstanceIdentifier: 'ledger', region: REGION, roleArn: ROLE_A2 },
    'failed',
    new Date(now - DAY),
    [],
  );
  // The same name in the home account is another database: this run is no evidence for A2's scratch.
  await recordRun('backup-verification', { dbInstanceIdentifier: 'scratch' }, 'succeeded', new Date(now - DAY), [rto(1)]);
}, 120_000);

afterAll(async () => {
  await db?.close();
  await tdb?.drop();
  await moto?.stop();
  for (const [k, v] of Object.entries(saved ?? {})) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

type Posture = Awaited<ReturnType<ResiliencePostureService['posture']>>;
const verdicts = (p: Posture, id: string, account = HOME) => {
  const r = p.resources.find((x) => x.id === id && x.account === account);
  if (!r) throw new Error(`${id} in ${account} is not in the posture`);
  return { tier: r.tier, verdict: r.verdict, objectives: Object.fromEntries(r.objectives.map((o) => [o.objective, o.verdict])) };
};

describe('resilience posture of a moto estate (2 accounts, 3 tiers)', () => {
  let posture: Posture;
  let calls: Record<string, number>;

  beforeAll(async () => {
    const { svc, clients } = service();
    posture = await svc.posture('alice');
    calls = posture.calls;
    clients.onModuleDestroy();
  }, 60_000);

  it('gives exactly the expected verdict per objective', () => {
    const critical = (o: Record<string, string>) => ({
      rpo: 'met',
      'config:pitr': 'met',
      'config:encryption': 'met',
      'config:deletionProtection': 'met',
      'config:crossRegionCopy': 'met',
      ...o,
    });
    expect(verdicts(posture, 'orders')).toEqual({
      tier: 'critical',
      verdict: 'met',
      objectives: critical({ 'restore-verified': 'met', 'failover-tested': 'met' }),
    });
    // Restore evidence 40 days old: stale. The failover switched in 95 min, over the 60 min RTO: breached.
    expect(verdicts(posture, 'payments')).toEqual({
      tier: 'critical',
      verdict: 'breached',
      objectives: critical({ 'restore-verified': 'stale', 'failover-tested': 'breached' }),
    });
    // No snapshot, no automated backups: no recovery point; and never tested.
    expect(verdicts(posture, 'legacy')).toEqual({
      tier: 'critical',
      verdict: 'breached',
      objectives: {
        rpo: 'breached',
        'restore-verified': 'no-evidence',
        'failover-tested': 'no-evidence',
        'config:pitr': 'breached',
        'config:encryption': 'breached',
        'config:deletionProtection': 'breached',
        'config:crossRegionCopy': 'breached',
      },
    });
    // Aurora: restore and failover proven; no copy in the DR region.
    expect(verdicts(posture, 'aurora-main')).toEqual({
      tier: 'critical',
      verdict: 'breached',
      objectives: critical({ 'restore-verified': 'met', 'failover-tested': 'met', 'config:crossRegionCopy': 'breached' }),
    });
    expect(verdicts(posture, 'scratch-home')).toEqual({ tier: null, verdict: 'untiered', objectives: {} });
    expect(verdicts(posture, 'reports', A2)).toEqual({ tier: 'standard', verdict: 'met', objectives: { rpo: 'met', 'restore-verified': 'met' } });
    // Retention 0, but the snapshot moto took at creation is a recovery point well within 7 days.
    expect(verdicts(posture, 'scratch', A2)).toEqual({
      tier: 'bronze',
      verdict: 'breached',
      objectives: { rpo: 'met', 'restore-verified': 'no-evidence', 'backup-retention': 'breached' },
    });
    // Never failover-tested, its last restore verification failed.
    expect(verdicts(posture, 'ledger', A2)).toEqual({
      tier: 'critical',
      verdict: 'breached',
      objectives: { ...critical({ 'restore-verified': 'breached', 'failover-tested': 'no-evidence' }), 'config:crossRegionCopy': 'breached' },
    });
    // Nothing else: the cluster's member instances are not resources of their own.
    expect(posture.resources.map((r) => `${r.account}/${r.id}`).sort()).toEqual(
      [
        `${A2}/ledger`,
        `${A2}/reports`,
        `${A2}/scratch`,
        `${HOME}/aurora-main`,
        `${HOME}/legacy`,
        `${HOME}/orders`,
        `${HOME}/payments`,
        `${HOME}/scratch-home`,
      ].sort(),
    );
  });

  it('names the run that proves each verdict, with measured value and target', () => {
    const orders = posture.resources.find((r) => r.id === 'orders')!;
    expect(orders.objectives.find((o) => o.objective === 'restore-verified')).toMatchObject({
      measured: 720,
      target: 3600,
      unit: 's',
      evidenceRunId: ids.ordersRestore,
    });
    expect(orders.objectives.find((o) => o.objective === 'failover-tested')).toMatchObject({ measured: 21, target: 3600, evidenceRunId: ids.ordersFailover });
    const payments = posture.resources.find((r) => r.id === 'payments')!;
    expect(payments.objectives.find((o) => o.objective === 'restore-verified')).toMatchObject({
      verdict: 'stale',
      measured: 900,
      evidenceRunId: ids.paymentsRestore,
    });
    const rpo = orders.objectives.find((o) => o.objective === 'rpo')!;
    expect(rpo.evidenceRunId).toBeNull();
    expect(rpo.measured as number).toBeLessThan(900);
    expect(posture.resources.find((r) => r.id === 'ledger')!.objectives.find((o) => o.objective === 'restore-verified')).toMatchObject({
      evidenceRunId: ids.ledgerRestore,
      measured: null,
    });
    expect(posture.auditHead).toEqual({ seq: 42, hash: 'ab'.repeat(32), digest: { number: 7, position: 40 } });
  });

  it('lists the worst first and untiered last', () => {
    const order = posture.resources.map((r) => r.verdict);
    const rank = (v: string) => ['breached', 'stale', 'no-evidence', 'met', 'untiered'].indexOf(v);
    expect(order.map(rank)).toEqual([...order.map(rank)].sort((a, b) => a - b));
    expect(order.at(-1)).toBe('untiered');
  });

  it('reads each account and region with list calls only, never one call per database', () => {
    // 2 accounts × 2 regions × (instances, clusters, snapshots, cluster snapshots), one page each; plus nothing per resource.
    expect(calls).toEqual({ 'rds:DescribeDBInstances': 4, 'rds:DescribeDBClusters': 4, 'rds:DescribeDBSnapshots': 4, 'rds:DescribeDBClusterSnapshots': 4 });
    expect(posture.searched).toEqual([
      { account: HOME, region: REGION, resources: 5 },
      { account: HOME, region: DR, resources: 0 },
      { account: A2, region: REGION, resources: 3 },
      { account: A2, region: DR, resources: 0 },
    ]);
  });

  it('filters by tier, account and verdict', async () => {
    const { svc, clients } = service();
    try {
      expect((await svc.posture('alice', { tier: 'standard' })).resources.map((r) => r.id)).toEqual(['reports']);
      expect((await svc.posture('alice', { tier: 'untiered' })).resources.map((r) => r.id)).toEqual(['scratch-home']);
      expect((await svc.posture('alice', { account: A2 })).resources.map((r) => r.id).sort()).toEqual(['ledger', 'reports', 'scratch']);
      expect((await svc.posture('alice', { verdict: 'stale' })).resources.map((r) => r.id)).toEqual(['payments']);
    } finally {
      clients.onModuleDestroy();
    }
  });
});
