import { Injectable } from '@nestjs/common';
import { mergeTallies, type CallTally } from '../../aws/call-tally';
import { CloudWatchAdapter, type MetricQuery } from '../../aws/cloudwatch.adapter';
import { EcsAdapter } from '../../aws/ecs.adapter';
import { DAY_MS, round, type Point, type SeriesWindow } from '../../capacity/capacity-analysis';
import {
  aggregatedQueries,
  analyzeAggregatedMetric,
  analyzeMetric,
  chartedMetrics,
  chartFor,
  compareResources,
  formatUsd,
  isIdle,
  judgeResource,
  MAX_CHARTS,
  metricSpecs,
  toFinding,
  trendPeriodSeconds,
  type MetricSpec,
} from '../../capacity/capacity-model';
import type {
  CapacityChart,
  CapacityFinding,
  CapacityResource,
  CapacitySection,
  CapacityThresholds,
  MetricAnalysis,
  ResourceAnalysis,
} from '../../capacity/capacity.types';
import type { FargateSize } from '../../capacity/size-ladders';
import { AppConfig, type CapacityStatistics } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';

interface Input {
  region?: string;
  roleArn?: string;
  resources: CapacityResource[];
  discoveryCalls?: CallTally;
  missing?: string[];
  lookbackDays: number;
  periodSeconds: 300 | 3600;
  forecastDays: number;
  thresholds: CapacityThresholds;
  /** Who computes the statistics; unset: the configured default (RUNBOOKD_CAPACITY_STATISTICS). */
  statistics?: CapacityStatistics;
}

interface Output extends Record<string, unknown> {
  capacity: CapacitySection;
  figures: Array<{ id: string; label: string; value: number | string; unit?: string }>;
}

/** GetMetricData list price, us-east-1 and most regions: $0.01 per 1,000 metrics requested. */
export const USD_PER_THOUSAND_METRICS = 0.01;

/**
 * Fetches every resource's metrics with GetMetricData (batched 500 queries a call, pages
 * followed), judges each series and each resource, and for over-provisioned ECS services reads
 * their task definitions to name a smaller size. Fetch and analysis are one step so the raw
 * series never reach the database: the output keeps figures for every resource and downsampled
 * series only for the resources the report charts.
 */
@Injectable()
export class AnalyzeCapacityStep implements StepType<Input, Output> {
  readonly uses = 'capacity.analyze-metrics';
  readonly description = 'Fetches CloudWatch metrics in batches and finds resources at risk, over-provisioned or without data';
  readonly mutates = false;
  readonly iamActions = ['cloudwatch:GetMetricData', 'ecs:DescribeTaskDefinition'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['resources', 'lookbackDays', 'periodSeconds', 'forecastDays', 'thresholds'],
    properties: {
      ...TARGET_PROPERTIES,
      resources: {
        type: 'array',
        items: { type: 'object', required: ['kind', 'id'], properties: { kind: { enum: ['ecs-service', 'rds-instance'] }, id: { type: 'string' } } },
      },
      discoveryCalls: { type: 'object', additionalProperties: { type: 'number' } },
      missing: { type: 'array', items: { type: 'string' } },
      lookbackDays: { type: 'number', minimum: 1, maximum: 63 },
      periodSeconds: { enum: [300, 3600] },
      forecastDays: { type: 'number', minimum: 1, maximum: 365 },
      statistics: { enum: ['cloudwatch', 'local'] },
      thresholds: {
        type: 'object',
        additionalProperties: false,
        required: ['cpuPercent', 'memoryPercent', 'freeStoragePercent', 'connectionsPercent'],
        properties: {
          cpuPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
          memoryPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
          freeStoragePercent: { type: 'number', minimum: 0, exclusiveMaximum: 100 },
          connectionsPercent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
        },
      },
    },
  };
  readonly outputs = ['capacity', 'figures'];

  constructor(
    private readonly cloudwatch: CloudWatchAdapter,
    private readonly ecs: EcsAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const periodMs = input.periodSeconds * 1000;
    // Anchored on the step's first start, not "now": a retried step asks for the same window.
    const endMs = Math.floor(ctx.startedAt.getTime() / periodMs) * periodMs;
    const window: SeriesWindow & { forecastDays: number } = {
      startMs: endMs - input.lookbackDays * DAY_MS,
      endMs,
      periodSeconds: input.periodSeconds,
      forecastDays: input.forecastDays,
    };
    const calls: CallTally = {};

    const statistics = input.statistics ?? this.config.capacity.statistics;
    const range = { start: new Date(window.startMs), end: new Date(window.endMs) };
    const fetched = { calls: 0, batches: 0, metricsRequested: 0, messages: [] as string[], datapoints: 0 };
    const fetch = async (queries: MetricQuery[]) => {
      const data = queries.length
        ? await this.cloudwatch.getMetricData(ctx.aws, target, { queries, ...range }, calls)
        : { series: {} as Record<string, Point[]>, calls: 0, batches: 0, metricsRequested: 0, messages: [] };
      fetched.calls += data.calls;
      fetched.batches += data.batches;
      fetched.metricsRequested += data.metricsRequested;
      fetched.messages.push(...data.messages);
      for (const points of Object.values(data.series)) fetched.datapoints += points.length;
      return data.series;
    };

    const plan: Array<{ resource: CapacityResource; specs: Array<{ spec: MetricSpec; queryId: string }> }> = [];
    const queries: MetricQuery[] = [];
    for (const resource of input.resources) {
      const specs = metricSpecs(resource, input.thresholds).map((spec) => {
        const queryId = `q${queries.length}`;
        if (statistics === 'local') queries.push({ id: queryId, ...spec.query, periodSeconds: input.periodSeconds });
        else queries.push(...aggregatedQueries(spec, queryId, window));
        return { spec, queryId };
      });
      plan.push({ resource, specs });
    }
    const series = await fetch(queries);
    const seriesOf = (id: string) => series[id] ?? [];

    // Local: every per-period point is here, for the statistics and the charts. CloudWatch: the
    // statistics came aggregated, and the per-period points are fetched below only for the charts.
    const evaluated = plan.map(({ resource, specs }) => {
      const metrics: MetricAnalysis[] = [];
      const points = new Map<string, Point[]>();
      for (const { spec, queryId } of specs) {
        if (statistics === 'local') {
          const a = analyzeMetric(spec, seriesOf(queryId), window, input.forecastDays);
          metrics.push(a.analysis);
          points.set(spec.metric, a.points);
        } else {
          metrics.push(analyzeAggregatedMetric(spec, seriesOf, queryId, window, input.forecastDays));
        }
      }
      return { resource, specs, metrics, points };
    });

    // Task sizes are read only for the services that look idle: one DescribeTaskDefinition per distinct definition.
    const taskSizes = new Map<string, FargateSize | null>();
    for (const e of evaluated) {
      if (e.resource.kind !== 'ecs-service' || !isIdle(e.metrics) || taskSizes.has(e.resource.taskDefinition)) continue;
      const size = await this.ecs.describeTaskSize(ctx.aws, target, e.resource.taskDefinition, calls);
      taskSizes.set(e.resource.taskDefinition, size.cpu !== null && size.memoryMiB !== null ? { cpu: size.cpu, memoryMiB: size.memoryMiB } : null);
    }

    const resources: ResourceAnalysis[] = [];
    let chartsOmitted = 0;
    const judged = evaluated
      .map((e) => ({
        ...e,
        analysis: judgeResource(e.resource, e.metrics, input.thresholds, {
          taskSize: e.resource.kind === 'ecs-service' ? (taskSizes.get(e.resource.taskDefinition) ?? null) : undefined,
        }),
      }))
      .sort((a, b) => compareResources(a.analysis, b.analysis));
    const wantedCharts: Array<{ j: (typeof judged)[number]; analysis: MetricAnalysis; spec: MetricSpec; queryId: string }> = [];
    for (const j of judged) {
      resources.push(j.analysis);
      const wanted = chartedMetrics(j.analysis);
      if (wanted.length === 0) continue;
      if (wantedCharts.length + wanted.length > MAX_CHARTS) {
        chartsOmitted++;
        continue;
      }
      for (const metric of wanted) {
        const analysis = j.metrics.find((m) => m.metric === metric);
        const planned = j.specs.find((p) => p.spec.metric === metric);
        if (analysis && planned) wantedCharts.push({ j, analysis, ...planned });
      }
    }
    if (statistics === 'cloudwatch') {
      const chartSeries = await fetch(wantedCharts.map((w) => ({ ...w.spec.query, id: `${w.queryId}c`, periodSeconds: input.periodSeconds })));
      for (const w of wantedCharts) {
        w.j.points.set(
          w.spec.metric,
          (chartSeries[`${w.queryId}c`] ?? []).map((p) => ({ t: p.t, v: w.spec.transform(p.v) })),
        );
      }
    }
    const charts: CapacityChart[] = wantedCharts.map((w) => chartFor(w.j.resource.id, w.analysis, w.j.points.get(w.spec.metric) ?? [], window));
    const findings = resources.map(toFinding).filter((f): f is CapacityFinding => f !== null);
    const count = (s: ResourceAnalysis['status']) => resources.filter((r) => r.status === s).length;
    const awsCalls = mergeTallies(input.discoveryCalls, calls);
    const usd = (fetched.metricsRequested / 1000) * USD_PER_THOUSAND_METRICS;
    const notes: string[] = [
      statistics === 'local'
        ? `Percentiles, maximum and trend are of the per-period statistic named for each metric (${input.periodSeconds} s periods), every point fetched.`
        : `CloudWatch aggregated the figures: p50, p95 and maximum are of the metric's samples over the whole lookback, and the trend is fitted to the per-period statistic rolled up into ${Math.round((trendPeriodSeconds(input.periodSeconds, input.lookbackDays * 86_400) / 3600) * 10) / 10} h points; per-period points (${input.periodSeconds} s) were fetched only for the charts.`,
      'Storage and memory are judged as "% in use" (from FreeStorageSpace and FreeableMemory against the allocated storage and the class memory), so every threshold is a ceiling.',
      `A series with fewer than 3 points, or covering less than half of the lookback, is reported as insufficient data: no trend, no forecast.`,
    ];
    for (const m of input.missing ?? []) notes.push(`Named in the scope but not found: ${m}.`);
    if (fetched.messages.length)
      notes.push(
        `CloudWatch said: ${fetched.messages.slice(0, 10).join('; ')}${fetched.messages.length > 10 ? ` (and ${fetched.messages.length - 10} more)` : ''}.`,
      );
    if (chartsOmitted)
      notes.push(`${chartsOmitted} resource(s) at risk or over-provisioned are in the table but not charted (at most ${MAX_CHARTS} charts per report).`);

    const capacity: CapacitySection = {
      region: target.region,
      window: {
        start: new Date(window.startMs).toISOString(),
        end: new Date(window.endMs).toISOString(),
        lookbackDays: input.lookbackDays,
        periodSeconds: input.periodSeconds,
        forecastDays: input.forecastDays,
      },
      thresholds: input.thresholds,
      counts: {
        resources: resources.length,
        atRisk: count('at-risk'),
        overProvisioned: count('over-provisioned'),
        insufficientData: count('insufficient-data'),
        ok: count('ok'),
      },
      resources,
      findings,
      charts,
      chartsOmitted,
      awsCalls,
      cost: {
        getMetricDataCalls: fetched.calls,
        batches: fetched.batches,
        metricsRequested: fetched.metricsRequested,
        datapointsFetched: fetched.datapoints,
        statistics,
        usdPerThousandMetrics: USD_PER_THOUSAND_METRICS,
        usd: round(usd, 6),
        assumption: `GetMetricData billed at $${USD_PER_THOUSAND_METRICS} per 1,000 metrics requested (AWS list price in most regions; each page of a batch bills its metrics again); the List/Describe calls are free`,
      },
      notes,
    };
    return done<Output>({
      capacity,
      figures: [
        { id: 'resources', label: 'Resources analysed', value: resources.length },
        { id: 'at-risk', label: 'At risk', value: capacity.counts.atRisk },
        { id: 'over-provisioned', label: 'Over-provisioned', value: capacity.counts.overProvisioned },
        { id: 'insufficient-data', label: 'Insufficient data', value: capacity.counts.insufficientData },
        { id: 'get-metric-data-calls', label: 'GetMetricData calls', value: fetched.calls },
        { id: 'cloudwatch-cost', label: 'CloudWatch cost of this report', value: formatUsd(usd) },
      ],
    });
  }

  summarize(o: Output): string {
    const c = o.capacity.counts;
    return `${c.resources} resources: ${c.atRisk} at risk, ${c.overProvisioned} over-provisioned, ${c.insufficientData} without enough data; ${o.capacity.cost.getMetricDataCalls} GetMetricData call(s)`;
  }
}
