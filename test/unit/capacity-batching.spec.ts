import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand } from '@aws-sdk/client-ecs';
import type { AuditService } from '../../src/audit/audit.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import type { CallTally } from '../../src/aws/call-tally';
import { CloudWatchAdapter, type MetricQuery } from '../../src/aws/cloudwatch.adapter';
import { EcsAdapter } from '../../src/aws/ecs.adapter';
import { AppConfig } from '../../src/config/app.config';

/**
 * Request counts a user pays for: GetMetricData batches 500 queries a call and follows
 * NextToken; ECS discovery pages and describes services ten at a time. Mocked because moto's
 * GetMetricData never pages.
 */
const cwMock = mockClient(CloudWatchClient);
const ecsMock = mockClient(ECSClient);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {} } });
const audit = { append: jest.fn(async () => ({})) } as unknown as AuditService;
const factory = new AwsClientFactory(config);
const caller = new AwsCallerService(audit);
const aws: AwsCallContext = { runId: 'r', runbookId: 'capacity-report', stepId: 'analyze', actor: 'otto', dryRun: true, expiresAt: new Date() };

const T = Date.parse('2026-11-22T00:00:00Z');

beforeEach(() => {
  cwMock.reset();
  ecsMock.reset();
});

describe('CloudWatchAdapter.getMetricData', () => {
  const queries: MetricQuery[] = Array.from({ length: 1200 }, (_, i) => ({
    id: `q${i}`,
    namespace: 'AWS/ECS',
    metricName: 'CPUUtilization',
    dimensions: { ClusterName: 'c', ServiceName: `s${i}` },
    stat: 'Average',
    periodSeconds: 3600,
  }));

  it('1,200 queries cost 3 calls per page, and every NextToken page is followed', async () => {
    // Each batch answers in two pages: the first half of each series, then the second with no token.
    cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      const page = input.NextToken ? 2 : 1;
      return {
        MetricDataResults: input.MetricDataQueries!.map((q) => ({
          Id: q.Id,
          Timestamps: [new Date(T + (page === 1 ? 3 : 1) * 3_600_000)],
          Values: [page === 1 ? 30 : 10],
          StatusCode: page === 1 ? 'PartialData' : 'Complete',
        })),
        NextToken: page === 1 ? `next-${input.MetricDataQueries![0].Id}` : undefined,
      };
    });
    const tally: CallTally = {};
    const res = await new CloudWatchAdapter(factory, caller).getMetricData(
      aws,
      'eu-west-1',
      { queries, start: new Date(T - 86_400_000), end: new Date(T) },
      tally,
    );

    const calls = cwMock.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(6);
    expect(res).toMatchObject({ calls: 6, batches: 3 });
    // Batches go out side by side; within each, the second call carries that batch's token and the same queries.
    const byBatch = new Map<string, typeof calls>();
    for (const c of calls) byBatch.set(c.MetricDataQueries![0].Id!, [...(byBatch.get(c.MetricDataQueries![0].Id!) ?? []), c]);
    expect([...byBatch.keys()].sort()).toEqual(['q0', 'q1000', 'q500']);
    for (const [first, pages] of byBatch) {
      expect(pages.map((c) => c.MetricDataQueries!.length)).toEqual(first === 'q1000' ? [200, 200] : [500, 500]);
      expect(pages.map((c) => c.NextToken)).toEqual([undefined, `next-${first}`]);
      expect(pages[1].MetricDataQueries).toEqual(pages[0].MetricDataQueries);
    }
    expect(tally).toEqual({ 'cloudwatch:GetMetricData': 6 });
    // Billed per metric requested, on every page.
    expect(res.metricsRequested).toBe(2400);
    // Both pages of each series arrive, in time order.
    expect(res.series.q1199).toEqual([
      { t: T + 3_600_000, v: 10 },
      { t: T + 3 * 3_600_000, v: 30 },
    ]);
    expect(Object.keys(res.series)).toHaveLength(1200);
  });

  it('a batch that does not page costs one call', async () => {
    cwMock.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const res = await new CloudWatchAdapter(factory, caller).getMetricData(aws, 'eu-west-1', {
      queries: queries.slice(0, 1000),
      start: new Date(T - 1),
      end: new Date(T),
    });
    expect(res.calls).toBe(2);
    expect(res.series.q0).toEqual([]);
  });
});

describe('EcsAdapter discovery', () => {
  it('follows nextToken for clusters and services and describes services ten at a time', async () => {
    ecsMock
      .on(ListClustersCommand)
      .callsFake((input) =>
        input.nextToken ? { clusterArns: ['arn:aws:ecs:eu-west-1:1:cluster/b'] } : { clusterArns: ['arn:aws:ecs:eu-west-1:1:cluster/a'], nextToken: 't1' },
      );
    const names = Array.from({ length: 23 }, (_, i) => `arn:aws:ecs:eu-west-1:1:service/a/svc-${i}`);
    ecsMock
      .on(ListServicesCommand)
      .callsFake((input) => (input.nextToken ? { serviceArns: names.slice(20) } : { serviceArns: names.slice(0, 20), nextToken: 'p2' }));
    ecsMock.on(DescribeServicesCommand).callsFake((input) => ({
      services: input.services!.map((s: string) => ({
        serviceName: s.split('/').pop(),
        serviceArn: s,
        status: 'ACTIVE',
        taskDefinition: 'td:1',
        desiredCount: 1,
      })),
    }));
    const tally: CallTally = {};
    const ecs = new EcsAdapter(factory, caller);
    expect(await ecs.listClusters(aws, 'eu-west-1', tally)).toHaveLength(2);
    const arns = await ecs.listServices(aws, 'eu-west-1', 'a', tally);
    expect(arns).toHaveLength(23);
    const described = await ecs.describeServices(aws, 'eu-west-1', 'a', arns, tally);
    expect(described.services.map((s) => s.name)).toEqual(names.map((n) => n.split('/').pop()));
    expect(ecsMock.commandCalls(DescribeServicesCommand).map((c) => c.args[0].input.services!.length)).toEqual([10, 10, 3]);
    expect(tally).toEqual({ 'ecs:ListClusters': 2, 'ecs:ListServices': 2, 'ecs:DescribeServices': 3 });
  });
});

describe('EcsAdapter.describeServices', () => {
  it('keeps at most 4 DescribeServices requests in flight and returns services in the order asked', async () => {
    let inFlight = 0;
    let most = 0;
    ecsMock.on(DescribeServicesCommand).callsFake(async (input) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Earlier batches answer later, so an order kept by arrival would show.
      const batch = Number(input.services![0].split('-').pop()) / 10;
      await new Promise((r) => setTimeout(r, 70 - 10 * batch));
      inFlight--;
      return { services: input.services!.map((s: string) => ({ serviceName: s, status: 'ACTIVE' })) };
    });
    const names = Array.from({ length: 65 }, (_, i) => `svc-${i}`);
    const out = await new EcsAdapter(factory, caller).describeServices(aws, 'eu-west-1', 'a', names);
    expect(out.services.map((s) => s.name)).toEqual(names);
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(7);
    expect(most).toBe(4);
  });
});
