import { CreateDBClusterCommand, CreateDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AuditService } from '../../src/audit/audit.service';
import { AuthError } from '../../src/auth/auth.error';
import { TargetPolicyService } from '../../src/auth/target-policy.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { TaggingAdapter } from '../../src/aws/tagging.adapter';
import { AppConfig, FleetsConfig, ScopeConfig } from '../../src/config/app.config';
import { FleetError } from '../../src/fleets/fleet.error';
import { parseFleetRequest } from '../../src/fleets/fleet-request';
import { FleetTargetsService } from '../../src/fleets/fleet-targets.service';
import type { RunbookCatalog } from '../../src/runbooks/runbook-catalog.service';
import type { FleetSettings } from '../../src/model/runbook.types';
import { startMoto, type MotoServer } from '../support/moto';

/**
 * Target resolution against moto with three accounts (the home one of the default credentials,
 * two reached by AssumeRole into the role template) and two regions: what the tagging API finds,
 * which role each target gets, and what is refused before anything is asked.
 */
const HOME = '123456789012';
const A2 = '222222222222';
const A3 = '333333333333';
const REGIONS = ['us-east-1', 'eu-west-1'];
const TEMPLATE = 'arn:aws:iam::{account}:role/runbookd';

const rdsFleet: FleetSettings = { resourceTypes: ['rds:db'], bind: { dbInstanceIdentifier: '${{ target.id }}' } };
const ecsFleet: FleetSettings = { resourceTypes: ['ecs:service'], bind: { service: '${{ target.id }}' } };
const ctx: AwsCallContext = {
  runId: '',
  runbookId: 'backup-verification',
  stepId: 'targets',
  actor: 'alice',
  dryRun: false,
  expiresAt: new Date(Date.now() + 3_600_000),
};

let moto: MotoServer;
let saved: Record<string, string | undefined>;

function service(overrides: { scope?: Partial<ScopeConfig>; fleets?: Partial<FleetsConfig> } = {}) {
  const config = Object.assign(new AppConfig(), {
    aws: { region: 'us-east-1', maxAttempts: 2, connectTimeoutMs: 2000, requestTimeoutMs: 10_000, endpoints: { AWS_ENDPOINT_URL: moto.endpoint } },
    scope: { allowedAccounts: [HOME, A2, A3], allowedRoleArns: [], allowedRegions: REGIONS, ...overrides.scope },
    fleets: { accountRoleArnTemplate: TEMPLATE, maxTargets: 1000, ...overrides.fleets },
    nodeEnv: 'test',
  });
  const clients = new AwsClientFactory(config);
  const tagging = new TaggingAdapter(clients, new AwsCallerService({ append: jest.fn() } as unknown as AuditService));
  const policy = new TargetPolicyService(config, { list: () => [] } as unknown as RunbookCatalog);
  return { targets: new FleetTargetsService(config, tagging, policy), clients, config };
}

const creds = { accessKeyId: 'testing', secretAccessKey: 'testing' };
function sdk(region: string, account: string) {
  const base = { region, endpoint: moto.endpoint, credentials: creds };
  if (account === HOME) return base;
  return {
    ...base,
    credentials: fromTemporaryCredentials({ params: { RoleArn: `arn:aws:iam::${account}:role/seed`, RoleSessionName: 'seed' }, clientConfig: base }),
  };
}

beforeAll(async () => {
  moto = await startMoto();
  saved = { AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  // Per account and region: two production instances, one staging, one untagged; one production cluster; one production ECS service.
  for (const account of [HOME, A2, A3]) {
    for (const region of REGIONS) {
      const rds = new RDSClient(sdk(region, account));
      const db = (id: string, tags: Record<string, string>) =>
        rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: id,
            DBInstanceClass: 'db.t3.micro',
            Engine: 'postgres',
            MasterUsername: 'u',
            MasterUserPassword: 'password1',
            AllocatedStorage: 20,
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
      await db(`orders-${region}`, { environment: 'production', team: 'orders' });
      await db(`billing-${region}`, { environment: 'production', team: 'billing' });
      await db(`staging-${region}`, { environment: 'staging' });
      await db(`scratch-${region}`, {});
      await rds.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: `aurora-${region}`,
          Engine: 'aurora-postgresql',
          MasterUsername: 'u',
          MasterUserPassword: 'password1',
          Tags: [{ Key: 'environment', Value: 'production' }],
        }),
      );
      const ecs = new ECSClient(sdk(region, account));
      await ecs.send(new CreateClusterCommand({ clusterName: 'prod' }));
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'api', containerDefinitions: [{ name: 'api', image: 'nginx', memory: 128 }] }));
      await ecs.send(
        new CreateServiceCommand({
          cluster: 'prod',
          serviceName: 'api',
          taskDefinition: 'api',
          desiredCount: 1,
          tags: [{ key: 'environment', value: 'production' }],
        }),
      );
      rds.destroy();
      ecs.destroy();
    }
  }
  // 105 more in the home account's first region: more than one page (100) of GetResources.
  const rds = new RDSClient(sdk('us-east-1', HOME));
  for (let i = 0; i < 105; i++) {
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: `bulk-${String(i).padStart(3, '0')}`,
        DBInstanceClass: 'db.t3.micro',
        Engine: 'postgres',
        MasterUsername: 'u',
        MasterUserPassword: 'password1',
        AllocatedStorage: 20,
        Tags: [{ Key: 'batch', Value: 'bulk' }],
      }),
    );
  }
  rds.destroy();
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved ?? {}))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  await moto?.stop();
});

const req = (fleet: FleetSettings, body: Record<string, unknown>, allowed: string[] = [HOME, A2, A3]) =>
  parseFleetRequest('backup-verification', fleet, body, allowed).selector;

async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    expect(err instanceof FleetError || err instanceof AuthError).toBe(true);
    const e = err as FleetError | AuthError;
    return { code: e.code, ...e.details, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('fleet target resolution (tagging API on moto, 3 accounts × 2 regions)', () => {
  it('finds exactly the tagged instances in every allowed account and region, each with the role for its account (none at home)', async () => {
    const { targets, clients } = service();
    const out = await targets.resolve(
      'backup-verification',
      req(rdsFleet, { targets: { tags: { environment: 'production' }, accounts: 'allowed', regions: REGIONS } }),
      ctx,
    );
    expect(out.homeAccount).toBe(HOME);
    const seen = out.targets.map((t) => `${t.account}/${t.region}/${t.id}/${t.roleArn ?? 'home'}`);
    const expected: string[] = [];
    for (const account of [HOME, A2, A3]) {
      for (const region of ['eu-west-1', 'us-east-1']) {
        for (const id of ['billing', 'orders'])
          expected.push(`${account}/${region}/${id}-${region}/${account === HOME ? 'home' : `arn:aws:iam::${account}:role/runbookd`}`);
      }
    }
    expect(seen).toEqual(expected);
    expect(out.targets.map((t) => t.index)).toEqual([...expected.keys()]);
    expect(out.targets[0]).toMatchObject({
      resourceType: 'rds:db',
      arn: `arn:aws:rds:eu-west-1:${HOME}:db:billing-eu-west-1`,
      tags: { environment: 'production', team: 'billing' },
    });
    expect(out.searched).toHaveLength(6);
    expect(out.searched.every((s) => s.found === 2)).toBe(true);
    clients.destroy();
  });

  it('ANDs tag keys, ORs the values of one key, and reads every page', async () => {
    const { targets, clients } = service();
    const both = await targets.resolve(
      'b',
      req(rdsFleet, { targets: { tags: { environment: 'production', team: ['orders', 'nobody'] }, accounts: [A2], regions: ['eu-west-1'] } }),
      ctx,
    );
    expect(both.targets.map((t) => t.id)).toEqual(['orders-eu-west-1']);
    const bulk = await targets.resolve('b', req(rdsFleet, { targets: { tags: { batch: 'bulk' } } }), ctx);
    expect(bulk.targets).toHaveLength(105);
    expect(bulk.calls['tagging:GetResources']).toBe(2);
    expect(bulk.targets[104]).toMatchObject({ id: 'bulk-104', account: HOME, region: 'us-east-1', roleArn: null });
    clients.destroy();
  });

  it('finds ECS services (with their cluster) and Aurora clusters per account', async () => {
    const { targets, clients } = service();
    const ecs = await targets.resolve(
      'canary-rollback',
      req(ecsFleet, { targets: { tags: { environment: 'production' }, accounts: [A3], regions: ['us-east-1'] } }),
      ctx,
    );
    expect(ecs.targets).toEqual([
      expect.objectContaining({
        id: 'api',
        cluster: 'prod',
        account: A3,
        region: 'us-east-1',
        resourceType: 'ecs:service',
        arn: `arn:aws:ecs:us-east-1:${A3}:service/prod/api`,
      }),
    ]);
    const clusters = await targets.resolve(
      'failover-test',
      req(
        { resourceTypes: ['rds:cluster'], bind: { clusterIdentifier: '${{ target.id }}' } },
        { targets: { tags: { environment: 'production' }, accounts: [HOME, A2] } },
      ),
      ctx,
    );
    expect(clusters.targets.map((t) => `${t.account}/${t.id}`)).toEqual([`${HOME}/aurora-us-east-1`, `${A2}/aurora-us-east-1`]);
    clients.destroy();
  });

  it('refuses an account outside the allow-list with 403 naming it, a role outside the role patterns, and an unlisted region', async () => {
    const { targets } = service({ scope: { allowedAccounts: [HOME, A2] } });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { tags: { environment: 'production' }, accounts: [A2, A3] } }), ctx))).toMatchObject({
      code: 'TARGET_NOT_ALLOWED',
      account: A3,
      field: 'targets.accounts',
      message: expect.stringContaining(A3),
    });
    const roles = service({ scope: { allowedRoleArns: ['arn:aws:iam::*:role/runbookd-*'] } });
    expect(await refusal(roles.targets.resolve('b', req(rdsFleet, { targets: { tags: { a: 'b' }, accounts: [A2] } }), ctx))).toMatchObject({
      code: 'TARGET_NOT_ALLOWED',
      account: A2,
    });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { tags: { a: 'b' }, regions: ['ap-south-1'] } }), ctx))).toMatchObject({
      code: 'TARGET_NOT_ALLOWED',
      region: 'ap-south-1',
    });
  });

  it('refuses another account when no role template is configured', async () => {
    const { targets } = service({ fleets: { accountRoleArnTemplate: undefined } });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { tags: { a: 'b' }, accounts: [HOME, A2] } }), ctx))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'targets.accounts',
      message: expect.stringContaining('RUNBOOKD_ACCOUNT_ROLE_ARN'),
    });
  });

  it('takes an explicit list as given (no lookup), and refuses an ARN in an account or region the request does not list', async () => {
    const { targets } = service();
    const list = await targets.resolve('b', req(rdsFleet, { targets: [`arn:aws:rds:eu-west-1:${A2}:db:orders-eu-west-1`, 'orders-us-east-1'] }), ctx);
    expect(list.targets.map((t) => ({ arn: t.arn, roleArn: t.roleArn }))).toEqual([
      { arn: `arn:aws:rds:us-east-1:${HOME}:db:orders-us-east-1`, roleArn: null },
      { arn: `arn:aws:rds:eu-west-1:${A2}:db:orders-eu-west-1`, roleArn: `arn:aws:iam::${A2}:role/runbookd` },
    ]);
    expect(list.calls['tagging:GetResources']).toBeUndefined();
    const arn = `arn:aws:rds:eu-west-1:${A3}:db:orders-eu-west-1`;
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { resources: [arn], accounts: [A2] } }), ctx))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'targets.resources[0]',
    });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { resources: [arn], regions: ['us-east-1'] } }), ctx))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'targets.resources[0]',
    });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { resources: ['orders'], regions: REGIONS } }), ctx))).toMatchObject({
      code: 'FLEET_TARGETS_INVALID',
      field: 'targets.resources[0]',
    });
    const outside = service({ scope: { allowedAccounts: [HOME] } });
    expect(await refusal(outside.targets.resolve('b', req(rdsFleet, { targets: [arn] }, [HOME]), ctx))).toMatchObject({
      code: 'TARGET_NOT_ALLOWED',
      account: A3,
    });
  });

  it('refuses more targets than the configured maximum', async () => {
    const { targets } = service({ fleets: { maxTargets: 50 } });
    expect(await refusal(targets.resolve('b', req(rdsFleet, { targets: { tags: { batch: 'bulk' } } }), ctx))).toMatchObject({
      code: 'FLEET_TOO_MANY_TARGETS',
      count: 105,
      max: 50,
    });
  });
});
