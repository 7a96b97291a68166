import { mockClient } from 'aws-sdk-client-mock';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  FailoverDBClusterCommand,
  RDSClient,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { Logger } from '@nestjs/common';
import type { AuditService } from '../../src/audit/audit.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { RdsFailoverAdapter } from '../../src/aws/rds-failover.adapter';
import { Clock } from '../../src/common/clock';
import { AppConfig } from '../../src/config/app.config';
import { EngineError } from '../../src/engine/engine.error';
import type { StepContext } from '../../src/steps/step.contract';
import { DescribeFailoverTargetStep } from '../../src/steps/rds/describe-failover-target.step';
import { FailoverStep } from '../../src/steps/rds/failover.step';
import { WaitForFailoverStep } from '../../src/steps/rds/wait-for-failover.step';

/**
 * The Multi-AZ instance path and the look-before-act of a resumed failover, against a mocked RDS
 * (moto ignores ForceFailover and never moves the primary's zone, so it cannot show these).
 */
const rdsMock = mockClient(RDSClient);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {} } });
const audit = { append: jest.fn(async () => ({})), appendMany: jest.fn(async () => []) } as unknown as AuditService;
const rds = new RdsFailoverAdapter(new AwsClientFactory(config), new AwsCallerService(audit));

class FixedClock extends Clock {
  constructor(public ms: number) {
    super();
  }
  override now(): Date {
    return new Date(this.ms);
  }
  override nowMs(): number {
    return this.ms;
  }
}

const T0 = Date.parse('2026-11-22T10:00:00Z');

function ctx(memory: Record<string, unknown> = {}, attempt = 1): StepContext {
  return {
    runId: 'r1',
    runbookId: 'failover-test',
    stepId: 's',
    attempt,
    startedAt: new Date(T0),
    memory,
    checkpoint: jest.fn(async () => undefined),
    dryRun: false,
    expiresAt: new Date(T0 + 86_400_000),
    aws: { runId: 'r1', runbookId: 'failover-test', stepId: 's', actor: 'otto', dryRun: false, expiresAt: new Date(T0 + 86_400_000) },
    log: new Logger('test'),
  };
}

const instance = (over: Record<string, unknown> = {}) => ({
  DBInstances: [
    {
      DBInstanceIdentifier: 'billing-postgres',
      DBInstanceStatus: 'available',
      Engine: 'postgres',
      EngineVersion: '16.4',
      AvailabilityZone: 'eu-west-1a',
      SecondaryAvailabilityZone: 'eu-west-1b',
      MultiAZ: true,
      DBInstanceArn: 'arn:aws:rds:eu-west-1:1:db:billing-postgres',
      ...over,
    },
  ],
});

const cluster = (writer: string, status = 'available') => ({
  DBClusters: [
    {
      DBClusterIdentifier: 'orders',
      Status: status,
      Engine: 'aurora-postgresql',
      EngineVersion: '15.4',
      MultiAZ: true,
      DBClusterArn: 'arn:aws:rds:eu-west-1:1:cluster:orders',
      DBClusterMembers: ['orders-1', 'orders-2'].map((id) => ({ DBInstanceIdentifier: id, IsClusterWriter: id === writer, PromotionTier: 1 })),
    },
  ],
});

beforeEach(() => {
  rdsMock.reset();
  rdsMock.on(DescribeEventsCommand).resolves({ Events: [] });
});

describe('Multi-AZ instance failover', () => {
  it('prechecks the primary and standby zones and refuses an instance that is not Multi-AZ', async () => {
    const step = new DescribeFailoverTargetStep(rds, config);
    rdsMock.on(DescribeDBInstancesCommand).resolves(instance());
    const out = await step.run({ dbInstanceIdentifier: 'billing-postgres' }, ctx());
    expect(out).toEqual({ kind: 'done', output: expect.objectContaining({ kind: 'instance', writer: 'eu-west-1a', standbyZone: 'eu-west-1b' }) });

    rdsMock.on(DescribeDBInstancesCommand).resolves(instance({ MultiAZ: false, SecondaryAvailabilityZone: undefined }));
    await expect(step.run({ dbInstanceIdentifier: 'billing-postgres' }, ctx())).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('not Multi-AZ'),
    });
  });

  it('plans and sends RebootDBInstance with ForceFailover', async () => {
    const step = new FailoverStep(rds, config, new FixedClock(T0));
    const input = { kind: 'instance' as const, identifier: 'billing-postgres', expectedWriter: 'eu-west-1a' };
    expect(await step.plan(input)).toEqual([
      { service: 'rds', operation: 'RebootDBInstance', input: { DBInstanceIdentifier: 'billing-postgres', ForceFailover: true }, region: 'eu-west-1' },
    ]);
    rdsMock.on(RebootDBInstanceCommand).resolves({ $metadata: { requestId: 'req-1' } });
    const c = ctx();
    const out = await step.run(input, c);
    expect(c.checkpoint).toHaveBeenCalledWith({ requestedAtMs: T0 });
    expect(out).toMatchObject({ kind: 'done', output: { operation: 'RebootDBInstance', resumed: false, requestedAtMs: T0 } });
    expect(rdsMock.commandCalls(RebootDBInstanceCommand)[0].args[0].input).toEqual({ DBInstanceIdentifier: 'billing-postgres', ForceFailover: true });
  });

  it('waits while the instance reboots, then measures the switch from the RDS completion event', async () => {
    const clock = new FixedClock(T0 + 5_000);
    const step = new WaitForFailoverStep(rds, config, clock);
    const input = { kind: 'instance' as const, identifier: 'billing-postgres', previousWriter: 'eu-west-1a', requestedAtMs: T0 };

    rdsMock.on(DescribeDBInstancesCommand).resolves(instance({ DBInstanceStatus: 'rebooting' }));
    const first = await step.run(input, ctx());
    expect(first).toMatchObject({ kind: 'wait', afterSeconds: 2 });

    clock.ms = T0 + 40_000;
    rdsMock.on(DescribeDBInstancesCommand).resolves(instance({ AvailabilityZone: 'eu-west-1b', SecondaryAvailabilityZone: 'eu-west-1a' }));
    rdsMock.on(DescribeEventsCommand).resolves({
      Events: [{ Date: new Date(T0 + 23_500), Message: 'Multi-AZ instance failover completed', EventCategories: ['failover'] }],
    });
    const second = await step.run(input, ctx({}, 2));
    expect(second).toMatchObject({ kind: 'done', output: { newWriter: 'eu-west-1b', switchSeconds: 23.5, measuredBy: 'rds-event' } });
  });

  it('keeps waiting when the zone has not moved, however often it is asked', async () => {
    const step = new WaitForFailoverStep(rds, config, new FixedClock(T0 + 1000));
    rdsMock.on(DescribeDBInstancesCommand).resolves(instance());
    const out = await step.run({ kind: 'instance', identifier: 'billing-postgres', previousWriter: 'eu-west-1a', requestedAtMs: T0, pollSeconds: 5 }, ctx());
    expect(out).toMatchObject({ kind: 'wait', afterSeconds: 5, note: expect.stringContaining('eu-west-1a') });
  });
});

describe('a failover step resumed after its worker died', () => {
  const input = { kind: 'cluster' as const, identifier: 'orders', expectedWriter: 'orders-1' };

  it('does not call FailoverDBCluster again when the writer already moved', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves(cluster('orders-2'));
    const step = new FailoverStep(rds, config, new FixedClock(T0 + 30_000));
    const out = await step.run(input, ctx({ requestedAtMs: T0 }, 2));
    expect(rdsMock.commandCalls(FailoverDBClusterCommand)).toHaveLength(0);
    expect(out).toMatchObject({ kind: 'done', output: { resumed: true, requestedAtMs: T0 } });
  });

  it('does not call it again while the cluster is failing over', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves(cluster('orders-1', 'failing-over'));
    const out = await new FailoverStep(rds, config, new FixedClock(T0 + 3_000)).run(input, ctx({ requestedAtMs: T0 }, 2));
    expect(rdsMock.commandCalls(FailoverDBClusterCommand)).toHaveLength(0);
    expect(out).toMatchObject({ output: { resumed: true } });
  });

  it('does not call it again when RDS logged a failover since the first attempt', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves(cluster('orders-1'));
    rdsMock
      .on(DescribeEventsCommand)
      .resolves({ Events: [{ Date: new Date(T0 + 800), Message: 'Started cross AZ failover to DB instance: orders-2', EventCategories: ['failover'] }] });
    await new FailoverStep(rds, config, new FixedClock(T0 + 2_000)).run(input, ctx({ requestedAtMs: T0 }, 2));
    expect(rdsMock.commandCalls(FailoverDBClusterCommand)).toHaveLength(0);
  });

  it('sends it when nothing shows the first attempt reached AWS', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves(cluster('orders-1'));
    rdsMock.on(FailoverDBClusterCommand).resolves({ $metadata: { requestId: 'req-2' } });
    const out = await new FailoverStep(rds, config, new FixedClock(T0 + 2_000)).run(input, ctx({ requestedAtMs: T0 }, 2));
    expect(rdsMock.commandCalls(FailoverDBClusterCommand)).toHaveLength(1);
    expect(out).toMatchObject({ output: { resumed: false, requestId: 'req-2', requestedAtMs: T0 + 2_000 } });
  });
});

describe('Aurora precheck', () => {
  it('refuses a cluster without a reader to promote', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ ...cluster('orders-1').DBClusters[0], DBClusterMembers: [{ DBInstanceIdentifier: 'orders-1', IsClusterWriter: true }] }],
    });
    const err = await new DescribeFailoverTargetStep(rds, config).run({ clusterIdentifier: 'orders' }, ctx()).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toContain('needs a reader');
  });

  it('refuses a targetInstance that is not a reader', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves(cluster('orders-1'));
    await expect(new DescribeFailoverTargetStep(rds, config).run({ clusterIdentifier: 'orders', targetInstance: 'orders-1' }, ctx())).rejects.toThrow(
      'targetInstance orders-1 is not a reader of orders (readers: orders-2)',
    );
  });
});
