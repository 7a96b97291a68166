import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { answerPage, indexSeries } from '../../bench/capacity/cloudwatch-stand-in';
import { scenarioSeries, scenarioServices } from '../../bench/capacity/scenario';
import type { AuditService } from '../../src/audit/audit.service';
import type { AwsCallContext } from '../../src/aws/aws-call.types';
import { AwsCallerService } from '../../src/aws/aws-caller.service';
import { AwsClientFactory } from '../../src/aws/aws-client.factory';
import { CloudWatchAdapter } from '../../src/aws/cloudwatch.adapter';
import { EcsAdapter } from '../../src/aws/ecs.adapter';
import { analyzeAggregated, DAY_MS } from '../../src/capacity/capacity-analysis';
import { trendPeriodSeconds } from '../../src/capacity/capacity-model';
import type { CapacitySection, EcsServiceResource } from '../../src/capacity/capacity.types';
import { AppConfig } from '../../src/config/app.config';
import { AnalyzeCapacityStep } from '../../src/steps/capacity/analyze-capacity.step';
import type { StepContext } from '../../src/steps/step.contract';

/**
 * The capacity report with CloudWatch aggregating (percentiles, extreme and daily trend points
 * server-side) must find what the report that fetches every hourly point finds. CloudWatch is
 * the bench's stand-in behind the SDK mock: the same series, the same bucketing, percentiles
 * over the samples in each period.
 */
const cwMock = mockClient(CloudWatchClient);
const ecsMock = mockClient(ECSClient);
const config = Object.assign(new AppConfig(), { aws: { region: 'eu-west-1', maxAttempts: 1, endpoints: {} }, capacity: { statistics: 'cloudwatch' } });
const audit = { append: jest.fn(async () => ({})) } as unknown as AuditService;
const factory = new AwsClientFactory(config);
const caller = new AwsCallerService(audit);
const aws: AwsCallContext = { runId: 'r', runbookId: 'capacity-report', stepId: 'analyze', actor: 'otto', dryRun: true, expiresAt: new Date() };

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-22T10:30:00Z');
const SERVICES = 60;

const THRESHOLDS = { cpuPercent: 70, memoryPercent: 80, freeStoragePercent: 20, connectionsPercent: 80 };

async function report(statistics: 'cloudwatch' | 'local'): Promise<CapacitySection> {
  const step = new AnalyzeCapacityStep(new CloudWatchAdapter(factory, caller), new EcsAdapter(factory, caller), config);
  const resources: EcsServiceResource[] = scenarioServices({ services: SERVICES, hours: 14 * 24, now: NOW }).map((s) => ({
    kind: 'ecs-service',
    id: `${s.cluster}/${s.service}`,
    cluster: s.cluster,
    service: s.service,
    taskDefinition: `arn:aws:ecs:eu-west-1:1:task-definition/${s.service}:1`,
    launchType: 'FARGATE',
    desiredCount: 2,
  }));
  const ctx = { startedAt: new Date(NOW), aws } as unknown as StepContext;
  const out = await step.run({ resources, lookbackDays: 14, periodSeconds: 3600, forecastDays: 30, thresholds: THRESHOLDS, statistics }, ctx);
  if (out.kind !== 'done') throw new Error(`step did not finish: ${out.kind}`);
  return (out.output as { capacity: CapacitySection }).capacity;
}

beforeEach(() => {
  cwMock.reset();
  ecsMock.reset();
  const index = indexSeries(scenarioSeries({ services: SERVICES, hours: 14 * 24, now: NOW }));
  cwMock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
    const page = answerPage(index, {
      MetricDataQueries: input.MetricDataQueries as never,
      StartTime: input.StartTime!.getTime() / 1000,
      EndTime: input.EndTime!.getTime() / 1000,
      NextToken: input.NextToken,
    });
    return { ...page, MetricDataResults: page.MetricDataResults.map((r) => ({ ...r, Timestamps: r.Timestamps.map((t) => new Date(t * 1000)) })) };
  });
  ecsMock.on(DescribeTaskDefinitionCommand).callsFake((input) => ({
    taskDefinition: { taskDefinitionArn: input.taskDefinition, family: 'f', cpu: '1024', memory: '2048', requiresCompatibilities: ['FARGATE'] },
  }));
});

describe('capacity statistics aggregated by CloudWatch', () => {
  it('finds what the every-point report finds on the seeded scenario, from a twentieth of the points', async () => {
    const local = await report('local');
    const cloudwatch = await report('cloudwatch');

    expect(cloudwatch.counts).toEqual(local.counts);
    expect(local.counts).toMatchObject({ resources: SERVICES, atRisk: 3, overProvisioned: 6 });
    // The same findings; their order follows days to threshold, which may differ in the second decimal.
    const key = (f: CapacitySection['findings'][number]) => [f.resourceId, f.finding, f.metric, f.suggestion];
    const sorted = (c: CapacitySection) => c.findings.map(key).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(sorted(cloudwatch)).toEqual(sorted(local));
    // The figures behind them: percentiles exact (one sample an hour), trends within a tenth of a day.
    const byId = new Map(local.resources.map((r) => [r.id, r]));
    for (const r of cloudwatch.resources) {
      const l = byId.get(r.id)!;
      expect(r.status).toBe(l.status);
      for (const m of r.metrics) {
        const lm = l.metrics.find((x) => x.metric === m.metric)!;
        expect([r.id, m.metric, m.p95, m.p50, m.max]).toEqual([r.id, m.metric, lm.p95, lm.p50, lm.max]);
        expect(Math.abs((m.slopePerDay ?? 0) - (lm.slopePerDay ?? 0))).toBeLessThan(0.1);
        // Within reach of the forecast the day agrees; a near-flat series' crossing thousands of days out is
        // rounding of a slope near zero either way, and only has to stay beyond the forecast.
        if (lm.daysToThreshold !== null && lm.daysToThreshold <= 60) expect(Math.abs(m.daysToThreshold! - lm.daysToThreshold)).toBeLessThan(0.5);
        else expect(m.daysToThreshold === null || m.daysToThreshold > 30).toBe(true);
      }
    }
    // The charts are drawn from the same per-period points either way (the forecast line follows the trend).
    const charts = (c: CapacitySection) => Object.fromEntries(c.charts.map((x) => [`${x.resourceId} ${x.metric}`, x.points]));
    expect(charts(cloudwatch)).toEqual(charts(local));
    expect(cloudwatch.charts).toHaveLength(local.charts.length);

    // Points fetched per service: 2 metrics × 336 hourly points, against 2 × (14 + 3) plus the charted series.
    expect(local.cost.datapointsFetched).toBe(SERVICES * 2 * 336);
    const charted = local.charts.length * 336;
    expect(cloudwatch.cost.datapointsFetched).toBe(SERVICES * 2 * 17 + charted);
    expect(cloudwatch.cost.statistics).toBe('cloudwatch');
  });

  it('asks for percentiles over one lookback-long period, the trend in daily points, and p5/Minimum where lower raw is worse', async () => {
    await report('cloudwatch');
    const first = cwMock.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries!;
    expect(first.slice(0, 4).map((q) => [q.Id, q.MetricStat!.Stat, q.MetricStat!.Period])).toEqual([
      ['q0t', 'Average', 86_400],
      ['q0m', 'p50', 14 * 86_400],
      ['q0p', 'p95', 14 * 86_400],
      ['q0x', 'Maximum', 14 * 86_400],
    ]);
  });
});

describe('analyzeAggregated', () => {
  const end = Date.parse('2026-11-22T00:00:00Z');
  const window = { startMs: end - 14 * DAY_MS, endMs: end, periodSeconds: 3600 };

  it("fits the trend to daily points at their periods' mean time: a line is found exactly", () => {
    // 30 % at the window start, +2 %/day: the hourly points' day means sit at 11.5 h into each day.
    const daily = Array.from({ length: 14 }, (_, d) => ({ t: window.startMs + d * DAY_MS + 11.5 * HOUR, v: 30 + 2 * (d + 11.5 / 24) }));
    const s = analyzeAggregated({ p50: 44, p95: 56.6, max: 57.9, trendPoints: daily, expectedTrendPoints: 14 }, window, { threshold: 70, forecastDays: 30 });
    expect(s.slopePerDay).toBeCloseTo(2, 6);
    expect(s.trendNow).toBeCloseTo(58, 1);
    expect(s.daysToThreshold).toBeCloseTo(6, 1);
    expect(s).toMatchObject({ verdict: 'at-risk', coverage: 1, points: 14, p95: 56.6 });
  });

  it('no points: insufficient data and no invented percentile, whatever the window statistics say', () => {
    const s = analyzeAggregated({ p50: 1, p95: 2, max: 3, trendPoints: [], expectedTrendPoints: 14 }, window, { threshold: 70, forecastDays: 30 });
    expect(s).toMatchObject({ verdict: 'insufficient-data', p50: null, p95: null, max: null, points: 0 });
  });

  it('a trend bucket is a day over 14 days hourly, never finer than the period', () => {
    expect(trendPeriodSeconds(3600, 14 * 86_400)).toBe(86_400);
    expect(trendPeriodSeconds(300, 14 * 86_400)).toBe(86_400);
    expect(trendPeriodSeconds(3600, 86_400)).toBe(3600);
    expect(trendPeriodSeconds(3600, 3 * 86_400)).toBe(5 * 3600);
  });
});
