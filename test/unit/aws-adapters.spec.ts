import { mockClient } from 'aws-sdk-client-mock';
import {
  CreateDBInstanceCommand,
  DBClusterNotFoundFault,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  FailoverDBClusterCommand,
  InvalidDBClusterStateFault,
  RDSClient,
  RebootDBInstanceCommand,
} from '@aws-sdk/client-rds';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { Test } from '@nestjs/testing';
import { AuditService } from '../../src/audit/audit.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { RdsEstateAdapter } from '../../src/aws/rds-estate.adapter';
import { RdsFailoverAdapter } from '../../src/aws/rds-failover.adapter';
import { RdsRestoreAdapter } from '../../src/aws/rds-restore.adapter';
import { REDACTED } from '../../src/common/redact';
import { Clock } from '../../src/common/clock';
import { AppConfig, AwsConfig } from '../../src/config/app.config';
import { AlarmReaderService } from '../../src/aws/alarm-reader.service';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { AwsStepError, toAwsStepError } from '../../src/aws/aws.error';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { GenericAwsAdapter } from '../../src/aws/generic.adapter';
import { RdsLeftoversAdapter } from '../../src/aws/rds-leftovers.adapter';
import { AWS_PROVIDERS } from '../../src/aws/aws.providers';

const REGION = 'eu-west-1';
const CANARY = 'canary-Secret-7f3a9c!';

function appConfig(overrides: Partial<AwsConfig> = {}): AppConfig {
  return Object.assign(new AppConfig(), {
    aws: { region: 'us-east-2', maxAttempts: 4, endpoints: {}, connectTimeoutMs: 5000, requestTimeoutMs: 60000, ...overrides },
  });
}

function ctx(overrides: Partial<AwsCallContext> = {}): AwsCallContext {
  return {
    runId: 'run-1',
    runbookId: 'failover-test',
    stepId: 'failover',
    actor: 'apikey:alice',
    dryRun: false,
    expiresAt: new Date('2030-01-01T00:00:00Z'),
    ...overrides,
  };
}

function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 400, requestId: 'req-err' },
    ...extra,
  });
}

interface AuditCall {
  kind: string;
  runId?: string | null;
  actor: string;
  data: Record<string, unknown>;
}

const rdsMock = mockClient(RDSClient);
const cwMock = mockClient(CloudWatchClient);

let factory: AwsClientFactory;
let append: jest.Mock<Promise<unknown>, [AuditCall]>;
let caller: AwsCallerService;
let rds: RdsFailoverAdapter;
let alarms: AlarmReaderService;
/** What happened, in order: audit writes and SDK sends interleaved. */
let timeline: string[];

beforeEach(() => {
  rdsMock.reset();
  cwMock.reset();
  timeline = [];
  append = jest.fn(async (input: AuditCall) => {
    timeline.push(`audit:${input.kind}`);
    return { seq: timeline.length };
  });
  factory = new AwsClientFactory(appConfig());
  caller = new AwsCallerService({ append } as unknown as AuditService);
  rds = new RdsFailoverAdapter(factory, caller);
  alarms = new AlarmReaderService(new CloudWatchAdapter(factory, caller), appConfig({ describeAlarmsPerSecond: 50 }), new Clock());
});

afterEach(() => factory.destroy());

afterAll(() => {
  rdsMock.restore();
  cwMock.restore();
});

describe('toAwsStepError', () => {
  const where = { service: 'rds', operation: 'FailoverDBCluster' };
  it.each([
    ['Throttling', 'AWS_THROTTLED', true],
    ['ThrottlingException', 'AWS_THROTTLED', true],
    ['TooManyRequestsException', 'AWS_THROTTLED', true],
    ['RequestLimitExceeded', 'AWS_THROTTLED', true],
    ['RequestThrottled', 'AWS_THROTTLED', true],
    ['InvalidDBClusterStateFault', 'AWS_INVALID_STATE', true],
    ['InvalidDBInstanceStateFault', 'AWS_INVALID_STATE', true],
    ['InvalidDBInstanceState', 'AWS_INVALID_STATE', true],
    ['IncorrectStateFault', 'AWS_INVALID_STATE', true],
    ['InvalidStateException', 'AWS_INVALID_STATE', true],
    ['DBClusterNotFoundFault', 'AWS_NOT_FOUND', false],
    ['DBInstanceNotFound', 'AWS_NOT_FOUND', false],
    ['ResourceNotFoundException', 'AWS_NOT_FOUND', false],
    ['AccessDenied', 'AWS_ACCESS_DENIED', false],
    ['AccessDeniedException', 'AWS_ACCESS_DENIED', false],
    ['UnauthorizedOperation', 'AWS_ACCESS_DENIED', false],
    ['ExpiredToken', 'AWS_ACCESS_DENIED', false],
    ['InvalidClientTokenId', 'AWS_ACCESS_DENIED', false],
    ['ValidationError', 'AWS_INVALID_INPUT', false],
    ['InvalidParameterValue', 'AWS_INVALID_INPUT', false],
    ['InvalidParameterCombination', 'AWS_INVALID_INPUT', false],
    ['MissingParameter', 'AWS_INVALID_INPUT', false],
    ['TimeoutError', 'AWS_TIMEOUT', true],
    // A name runbookd derives from the run already taken: the step looks and adopts it when it is this run's (issue 23, hole 3).
    ['DBClusterAlreadyExistsFault', 'AWS_ALREADY_EXISTS', false],
  ])('%s → %s (retryable %s)', (name, code, retryable) => {
    const e = toAwsStepError(sdkError(name), where);
    expect(e).toBeInstanceOf(AwsStepError);
    expect(e.area).toBe('aws');
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
    expect(e.details).toEqual({ service: 'rds', operation: 'FailoverDBCluster', awsCode: name, requestId: 'req-err', httpStatus: 400 });
  });

  it('maps server faults, 5xx and socket errors to AWS_UNAVAILABLE', () => {
    expect(toAwsStepError(sdkError('SomethingOdd', { $fault: 'server', $metadata: { httpStatusCode: 503 } }), where).code).toBe('AWS_UNAVAILABLE');
    expect(toAwsStepError(sdkError('Weird', { $metadata: { httpStatusCode: 502 } }), where).code).toBe('AWS_UNAVAILABLE');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const mapped = toAwsStepError(refused, where);
    expect(mapped.code).toBe('AWS_UNAVAILABLE');
    expect(mapped.retryable).toBe(true);
    expect(mapped.details.awsCode).toBe('ECONNREFUSED');
    const aggregate = new AggregateError([refused], 'all addresses failed');
    expect(toAwsStepError(aggregate, where).code).toBe('AWS_UNAVAILABLE');
    // What the SDK throws when the socket error comes from another realm (Jest's sandbox).
    const wrapped = new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:4566');
    expect(toAwsStepError(wrapped, where)).toMatchObject({ code: 'AWS_UNAVAILABLE', details: { awsCode: 'ECONNREFUSED' } });
    expect(toAwsStepError(new Error('EXPLODED badly'), where).code).toBe('AWS_FAILED');
  });

  it('uses $retryable.throttling and HTTP 429 even for unknown names', () => {
    expect(toAwsStepError(sdkError('Odd', { $retryable: { throttling: true } }), where).code).toBe('AWS_THROTTLED');
    expect(toAwsStepError(sdkError('Odd', { $metadata: { httpStatusCode: 429 } }), where).code).toBe('AWS_THROTTLED');
  });

  it('falls back to AWS_FAILED for unknown errors and non-errors, and passes AwsStepError through', () => {
    expect(toAwsStepError('boom', where).code).toBe('AWS_FAILED');
    expect(toAwsStepError(undefined, where).code).toBe('AWS_FAILED');
    const already = new AwsStepError('AWS_NOT_FOUND', 'x', { ...where });
    expect(toAwsStepError(already, where)).toBe(already);
  });

  it('serialises as a coded error', () => {
    const e = toAwsStepError(sdkError('Throttling'), where);
    expect(e.name).toBe('AwsStepError');
    expect(e.toJSON()).toMatchObject({ code: 'AWS_THROTTLED', retryable: true, details: { awsCode: 'Throttling' } });
  });
});

describe('AwsClientFactory', () => {
  it('configures adaptive retries (lower case) and the configured attempts', async () => {
    const client = factory.rds(REGION);
    const retryMode = client.config.retryMode as unknown;
    expect(typeof retryMode === 'function' ? await (retryMode as () => Promise<string>)() : retryMode).toBe('adaptive');
    expect(await client.config.maxAttempts()).toBe(4);
    // The strategy the SDK actually built: proves 'adaptive' was recognised, not silently replaced.
    const strategy = (await client.config.retryStrategy()) as { mode?: string };
    expect(strategy.mode).toBe('adaptive');
    expect(await client.config.region()).toBe(REGION);
  });

  it('defaults the region to the configured one', async () => {
    expect(await factory.cloudwatch().config.region()).toBe('us-east-2');
    expect(factory.cloudwatch()).toBe(factory.cloudwatch('us-east-2'));
  });

  it('caches one client per service, region and role', () => {
    const a = factory.rds(REGION);
    expect(factory.rds(REGION)).toBe(a);
    expect(factory.rds('us-west-2')).not.toBe(a);
    const assumed = factory.rds(REGION, 'arn:aws:iam::123456789012:role/drill');
    expect(assumed).not.toBe(a);
    expect(factory.rds(REGION, 'arn:aws:iam::123456789012:role/drill')).toBe(assumed);
    expect(factory.cloudwatch(REGION)).not.toBe(a);
  });

  it('assumes the role through temporary credentials', () => {
    const settings = factory.settings(REGION, 'arn:aws:iam::123456789012:role/drill');
    expect(typeof settings.credentials).toBe('function');
    expect(factory.settings(REGION).credentials).toBeUndefined();
  });

  it('destroys its clients and forgets them', () => {
    const a = factory.rds(REGION);
    const destroy = jest.spyOn(a, 'destroy');
    factory.onModuleDestroy();
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(factory.rds(REGION)).not.toBe(a);
  });

  it('takes new services as one line', async () => {
    class FakeClient {
      constructor(readonly settings: unknown) {}
      destroy(): void {}
    }
    const c = factory.client('ecs', FakeClient, REGION);
    expect(c.settings).toEqual({
      region: REGION,
      maxAttempts: 4,
      retryMode: 'adaptive',
      requestHandler: { connectionTimeout: 5000, requestTimeout: 60000, throwOnRequestTimeout: true },
    });
    expect(factory.client('ecs', FakeClient, REGION)).toBe(c);
  });
});

describe('AwsCallerService', () => {
  const createMeta = { service: 'rds', operation: 'CreateDBInstance', mutates: true, region: REGION };

  it('audits a mutating call before and after sending, with the input redacted', async () => {
    rdsMock.on(CreateDBInstanceCommand).callsFake(async () => {
      timeline.push('send');
      return { $metadata: { httpStatusCode: 200, requestId: 'req-create' }, DBInstance: {} };
    });
    const command = new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'drill-run-1',
      DBInstanceClass: 'db.t3.micro',
      Engine: 'postgres',
      MasterUsername: 'admin',
      MasterUserPassword: CANARY,
    });
    const out = await caller.send<{ $metadata: { requestId: string } }>(ctx(), factory.rds(REGION), command, createMeta);

    expect(out.$metadata.requestId).toBe('req-create');
    expect(timeline).toEqual(['audit:aws.request', 'send', 'audit:aws.response']);
    const [request, response] = append.mock.calls.map((c) => c[0]);
    expect(request).toEqual({
      kind: 'aws.request',
      runId: 'run-1',
      actor: 'apikey:alice',
      data: {
        stepId: 'failover',
        service: 'rds',
        operation: 'CreateDBInstance',
        region: REGION,
        input: expect.objectContaining({ DBInstanceIdentifier: 'drill-run-1', MasterUserPassword: REDACTED }),
      },
    });
    expect(response).toEqual({
      kind: 'aws.response',
      runId: 'run-1',
      actor: 'apikey:alice',
      data: expect.objectContaining({
        stepId: 'failover',
        service: 'rds',
        operation: 'CreateDBInstance',
        outcome: 'ok',
        requestId: 'req-create',
        httpStatus: 200,
      }),
    });
    expect(JSON.stringify(append.mock.calls)).not.toContain(CANARY);
    // The command itself still carries the real value: redaction copies, it does not mutate.
    expect(rdsMock.commandCalls(CreateDBInstanceCommand)[0].args[0].input.MasterUserPassword).toBe(CANARY);
  });

  it('audits the failure of a mutating call and throws the coded error', async () => {
    rdsMock
      .on(FailoverDBClusterCommand)
      .rejects(new InvalidDBClusterStateFault({ message: 'cluster is busy', $metadata: { httpStatusCode: 400, requestId: 'req-busy' } }));
    const err = await rds.failoverCluster(ctx(), REGION, { clusterIdentifier: 'orders' }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AwsStepError);
    expect(err).toMatchObject({ code: 'AWS_INVALID_STATE', retryable: true, details: { awsCode: 'InvalidDBClusterStateFault', requestId: 'req-busy' } });
    expect(append.mock.calls.map((c) => c[0].kind)).toEqual(['aws.request', 'aws.response']);
    expect(append.mock.calls[1][0].data).toMatchObject({
      outcome: 'error',
      requestId: 'req-busy',
      httpStatus: 400,
      errorCode: 'AWS_INVALID_STATE',
      awsCode: 'InvalidDBClusterStateFault',
    });
  });

  it('does not send a mutating call whose request could not be audited', async () => {
    append.mockRejectedValueOnce(new Error('database down'));
    await expect(rds.failoverCluster(ctx(), REGION, { clusterIdentifier: 'orders' })).rejects.toThrow('database down');
    expect(rdsMock.calls()).toHaveLength(0);
  });

  it('does not audit reads', async () => {
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'orders', DBClusterMembers: [] }] });
    await rds.describeCluster(ctx(), REGION, 'orders');
    expect(append).not.toHaveBeenCalled();
  });

  it('refuses a mutating call in a dry run without sending or auditing it', async () => {
    const err = await rds.failoverCluster(ctx({ dryRun: true }), REGION, { clusterIdentifier: 'orders' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsStepError);
    expect(err).toMatchObject({ code: 'AWS_DRY_RUN_VIOLATION', retryable: false });
    await expect(rds.rebootWithFailover(ctx({ dryRun: true }), REGION, 'db-1')).rejects.toMatchObject({ code: 'AWS_DRY_RUN_VIOLATION' });
    expect(rdsMock.calls()).toHaveLength(0);
    expect(append).not.toHaveBeenCalled();
  });

  it('lets reads through in a dry run', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: 'db-1' }] });
    await expect(rds.describeInstance(ctx({ dryRun: true }), REGION, 'db-1')).resolves.toMatchObject({ identifier: 'db-1' });
  });
});

describe('RdsFailoverAdapter', () => {
  it('maps throttling on a read to a retryable AWS_THROTTLED without the input in the error', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejects(sdkError('Throttling', { $retryable: { throttling: true } }));
    const err = (await rds.describeCluster(ctx(), REGION, 'orders').catch((e: unknown) => e)) as AwsStepError;
    expect(err).toBeInstanceOf(AwsStepError);
    expect(err.code).toBe('AWS_THROTTLED');
    expect(err.retryable).toBe(true);
    expect(err.details).toEqual({ service: 'rds', operation: 'DescribeDBClusters', awsCode: 'Throttling', requestId: 'req-err', httpStatus: 400 });
  });

  it('reports a missing cluster as AWS_NOT_FOUND', async () => {
    rdsMock.on(DescribeDBClustersCommand).rejects(new DBClusterNotFoundFault({ message: 'DBCluster nope not found.', $metadata: { httpStatusCode: 404 } }));
    await expect(rds.describeCluster(ctx(), REGION, 'nope')).rejects.toMatchObject({
      code: 'AWS_NOT_FOUND',
      retryable: false,
      details: { awsCode: 'DBClusterNotFoundFault' },
    });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
    await expect(rds.describeCluster(ctx(), REGION, 'nope')).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
  });

  it('describes a cluster as a plain object with its writer', async () => {
    rdsMock.on(DescribeDBClustersCommand, { DBClusterIdentifier: 'orders' }).resolves({
      DBClusters: [
        {
          DBClusterIdentifier: 'orders',
          Status: 'available',
          Engine: 'aurora-postgresql',
          EngineVersion: '15.4',
          MultiAZ: true,
          DBClusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders',
          DBClusterMembers: [
            { DBInstanceIdentifier: 'orders-1', IsClusterWriter: false, PromotionTier: 1 },
            { DBInstanceIdentifier: 'orders-2', IsClusterWriter: true, PromotionTier: 0 },
          ],
        },
      ],
    });
    expect(await rds.describeCluster(ctx(), REGION, 'orders')).toEqual({
      identifier: 'orders',
      status: 'available',
      engine: 'aurora-postgresql',
      engineVersion: '15.4',
      members: [
        { instanceId: 'orders-1', isWriter: false, promotionTier: 1 },
        { instanceId: 'orders-2', isWriter: true, promotionTier: 0 },
      ],
      writer: 'orders-2',
      multiAZ: true,
      arn: 'arn:aws:rds:eu-west-1:123456789012:cluster:orders',
      endpoint: null,
      readerEndpoint: null,
    });
  });

  it('describes an instance', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: 'billing',
          DBInstanceStatus: 'available',
          Engine: 'postgres',
          EngineVersion: '16.2',
          AvailabilityZone: 'eu-west-1a',
          SecondaryAvailabilityZone: 'eu-west-1b',
          MultiAZ: true,
          DBInstanceArn: 'arn:aws:rds:eu-west-1:123456789012:db:billing',
        },
      ],
    });
    expect(await rds.describeInstance(ctx(), REGION, 'billing')).toEqual({
      identifier: 'billing',
      status: 'available',
      engine: 'postgres',
      engineVersion: '16.2',
      availabilityZone: 'eu-west-1a',
      secondaryAvailabilityZone: 'eu-west-1b',
      multiAZ: true,
      clusterIdentifier: null,
      arn: 'arn:aws:rds:eu-west-1:123456789012:db:billing',
    });
  });

  it('sends exactly what it plans', async () => {
    rdsMock.on(FailoverDBClusterCommand).resolves({ $metadata: { requestId: 'req-fo' } });
    rdsMock.on(RebootDBInstanceCommand).resolves({ $metadata: { requestId: 'req-rb' } });

    const params = { clusterIdentifier: 'orders', targetInstance: 'orders-1' };
    expect(rds.planFailoverCluster(REGION, params)).toEqual({
      service: 'rds',
      operation: 'FailoverDBCluster',
      region: REGION,
      input: { DBClusterIdentifier: 'orders', TargetDBInstanceIdentifier: 'orders-1' },
    });
    expect(await rds.failoverCluster(ctx(), REGION, params)).toEqual({ requestId: 'req-fo' });
    expect(rdsMock.commandCalls(FailoverDBClusterCommand)[0].args[0].input).toEqual(rds.planFailoverCluster(REGION, params).input);
    expect(rds.planFailoverCluster(REGION, { clusterIdentifier: 'orders' }).input).toEqual({ DBClusterIdentifier: 'orders' });

    expect(rds.planRebootWithFailover({ region: REGION, roleArn: 'arn:aws:iam::1:role/r' }, 'billing')).toEqual({
      service: 'rds',
      operation: 'RebootDBInstance',
      region: REGION,
      input: { DBInstanceIdentifier: 'billing', ForceFailover: true },
    });
    expect(await rds.rebootWithFailover(ctx(), REGION, 'billing')).toEqual({ requestId: 'req-rb' });
    expect(rdsMock.commandCalls(RebootDBInstanceCommand)[0].args[0].input).toEqual({ DBInstanceIdentifier: 'billing', ForceFailover: true });
  });

  it('pages through recent events, keeps those since the moment, oldest first', async () => {
    const since = new Date('2024-05-01T10:00:00Z');
    rdsMock
      .on(DescribeEventsCommand)
      .resolvesOnce({
        Events: [
          { Date: new Date('2024-05-01T10:00:30Z'), Message: 'Completed failover to DB instance: orders-1', EventCategories: ['failover'] },
          { Date: new Date('2024-05-01T09:00:00Z'), Message: 'too old', EventCategories: [] },
        ],
        Marker: 'page-2',
      })
      .resolvesOnce({ Events: [{ Date: new Date('2024-05-01T10:00:05Z'), Message: 'Started cross AZ failover', EventCategories: ['failover'] }] });

    const events = await rds.describeRecentEvents(ctx(), REGION, { sourceType: 'db-cluster', sourceId: 'orders', since });
    expect(events).toEqual([
      { at: '2024-05-01T10:00:05.000Z', message: 'Started cross AZ failover', categories: ['failover'] },
      { at: '2024-05-01T10:00:30.000Z', message: 'Completed failover to DB instance: orders-1', categories: ['failover'] },
    ]);
    const inputs = rdsMock.commandCalls(DescribeEventsCommand).map((c) => c.args[0].input);
    expect(inputs).toEqual([
      { SourceType: 'db-cluster', SourceIdentifier: 'orders', StartTime: since, MaxRecords: 100, Marker: undefined },
      { SourceType: 'db-cluster', SourceIdentifier: 'orders', StartTime: since, MaxRecords: 100, Marker: 'page-2' },
    ]);
  });
});

describe('SDK attempts', () => {
  // After a timeout the SDK cannot know whether AWS acted; a retry inside the SDK would send a
  // mutation twice where the step's look-before-act never gets a say.
  it("sends every adapter's mutations through a one-attempt client and its reads through the retrying one", async () => {
    rdsMock.on(FailoverDBClusterCommand).resolves({ $metadata: {} });
    rdsMock.on(DeleteDBInstanceCommand).resolves({ $metadata: {} });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [] });
    const generic = new GenericAwsAdapter(caller, factory);
    const leftovers = new RdsLeftoversAdapter(caller, factory);

    await rds.failoverCluster(ctx(), REGION, { clusterIdentifier: 'orders' });
    await generic.call(ctx(), REGION, 'rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'scratch' }, true);
    await leftovers.delete(ctx(), { type: 'rds:db-instance', identifier: 'scratch', region: REGION });
    await generic.call(ctx(), REGION, 'rds', 'DescribeDBInstances', {}, false);
    await leftovers.listTagged(ctx(), REGION).catch(() => undefined);

    const attempts = await Promise.all(
      rdsMock.calls().map(async (c) => [(c.args[0] as object).constructor.name, await (c.thisValue as RDSClient).config.maxAttempts()]),
    );
    expect(attempts.slice(0, 4)).toEqual([
      ['FailoverDBClusterCommand', 1],
      ['DeleteDBInstanceCommand', 1],
      ['DeleteDBInstanceCommand', 1],
      ['DescribeDBInstancesCommand', 4],
    ]);
    expect(attempts.slice(4)).toContainEqual(['DescribeDBInstancesCommand', 4]);
  });
});

describe('Paginated reads', () => {
  it('follow every page through the door, counting each request, and stop when the endpoint repeats its Marker', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [{ DBInstanceIdentifier: 'a', Engine: 'postgres', AllocatedStorage: 20 }], Marker: 'm1' })
      .resolves({ DBInstances: [{ DBInstanceIdentifier: 'b', Engine: 'aurora-postgresql' }], Marker: 'm2' });
    const tally = {};
    const listed = await new RdsEstateAdapter(factory, caller).listInstances(ctx(), REGION, tally);

    // m1, then m2 twice: the third answer repeats the token it was asked with, and the listing ends there.
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input.Marker)).toEqual([undefined, 'm1', 'm2']);
    expect(listed.map((i) => i.identifier)).toEqual(['a', 'b', 'b']);
    expect(tally).toEqual({ 'rds:DescribeDBInstances': 3 });
    expect(await (rdsMock.call(0).thisValue as RDSClient).config.maxAttempts()).toBe(4);
  });

  it('turn an SDK error on a later page into the coded error', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolvesOnce({ DBInstances: [], Marker: 'm1' }).rejects(sdkError('Throttling'));
    const err = await new RdsEstateAdapter(factory, caller).listInstances(ctx(), REGION).catch((e) => e);
    expect(err).toBeInstanceOf(AwsStepError);
    expect(err).toMatchObject({ code: 'AWS_THROTTLED', retryable: true, details: { service: 'rds', operation: 'DescribeDBInstances' } });
  });
});

describe('CloudWatchAdapter', () => {
  it('reads alarms in batches of 100 names, follows NextToken and reports missing names', async () => {
    const names = Array.from({ length: 230 }, (_, i) => `guard-${i}`);
    const exists = (n: string): boolean => !['guard-7', 'guard-150'].includes(n);
    cwMock.on(DescribeAlarmsCommand).callsFake(async (input: { AlarmNames: string[]; NextToken?: string }) => {
      const present = input.AlarmNames.filter(exists);
      // Split every batch in two pages so paging is exercised.
      const half = Math.ceil(present.length / 2);
      const page = input.NextToken ? present.slice(half) : present.slice(0, half);
      const alarm = (n: string) => ({
        AlarmName: n,
        StateValue: n === 'guard-3' ? 'ALARM' : 'OK',
        StateReason: `reason ${n}`,
        StateUpdatedTimestamp: new Date('2024-05-01T10:00:00Z'),
      });
      return {
        MetricAlarms: page.filter((n) => n !== 'guard-200').map(alarm),
        CompositeAlarms: page.filter((n) => n === 'guard-200').map(alarm),
        NextToken: input.NextToken ? undefined : 'more',
      };
    });

    const result = await alarms.states(ctx(), REGION, [...names, 'guard-3']);

    const batches = cwMock.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input);
    expect(batches.map((b) => b.AlarmNames?.length)).toEqual([100, 100, 100, 100, 30, 30]);
    expect(batches.every((b) => (b.AlarmTypes ?? []).includes('CompositeAlarm'))).toBe(true);
    expect(result.missing).toEqual(['guard-7', 'guard-150']);
    expect(result.alarms).toHaveLength(228);
    expect(result.alarms.map((a) => a.name).slice(0, 4)).toEqual(['guard-0', 'guard-1', 'guard-2', 'guard-3']);
    expect(result.alarms[3]).toEqual({ name: 'guard-3', state: 'ALARM', reason: 'reason guard-3', updatedAt: '2024-05-01T10:00:00.000Z' });
    expect(result.alarms.find((a) => a.name === 'guard-200')).toMatchObject({ state: 'OK' });
    expect(append).not.toHaveBeenCalled();
  });

  it('makes no call for no names', async () => {
    expect(await alarms.states(ctx(), REGION, [])).toEqual({ alarms: [], missing: [] });
    expect(cwMock.calls()).toHaveLength(0);
  });
});

describe('Nest wiring', () => {
  it('resolves the adapters from AppConfig, AuditService and Clock alone', async () => {
    const moduleRef = await Test.createTestingModule({
      providers: [...AWS_PROVIDERS, { provide: AppConfig, useValue: appConfig() }, { provide: AuditService, useValue: { append } }, Clock],
    }).compile();
    for (const Adapter of [RdsFailoverAdapter, RdsRestoreAdapter, RdsEstateAdapter]) expect(moduleRef.get(Adapter)).toBeInstanceOf(Adapter);
    expect(moduleRef.get(CloudWatchAdapter)).toBeInstanceOf(CloudWatchAdapter);
    expect(moduleRef.get(AlarmReaderService)).toBeInstanceOf(AlarmReaderService);
    const client = moduleRef.get(AwsClientFactory).rds(REGION);
    const destroy = jest.spyOn(client, 'destroy');
    await moduleRef.close();
    expect(destroy).toHaveBeenCalled();
  });
});
