import type { MetricQuery } from '../aws/cloudwatch.adapter';
import { analyzeAggregated, analyzeSeries, DAY_MS, downsample, round, type Point, type SeriesWindow } from './capacity-analysis';
import type {
  CapacityChart,
  CapacityFinding,
  CapacityResource,
  CapacityThresholds,
  MetricAnalysis,
  MetricKey,
  ResourceAnalysis,
  ResourceStatus,
} from './capacity.types';
import { fargateLabel, maxConnections, rdsClassSize, smallerFargateSize, smallerRdsClass, type FargateSize } from './size-ladders';

/**
 * Which metrics each kind of resource is judged on, how a raw CloudWatch value becomes the
 * figure judged (free bytes become "% used", so every threshold is a ceiling), and the verdict
 * per resource. Pure: the step fetches, this decides.
 */

/** Over-provisioned when p95 CPU is under this and p95 memory under the next, over the whole lookback. */
export const IDLE_CPU_PERCENT = 20;
export const IDLE_MEMORY_PERCENT = 30;
/** Series kept per chart: enough to draw a 14-day hourly line faithfully at report width. */
export const CHART_POINTS = 168;
/** Charts per report; more would make the page (and the stored run) heavy without helping anyone. */
export const MAX_CHARTS = 60;

const GIB = 1024 ** 3;

export interface MetricSpec {
  metric: MetricKey;
  label: string;
  unit: string;
  query: Omit<MetricQuery, 'id' | 'periodSeconds'>;
  /** Raw CloudWatch value → judged figure. */
  transform: (raw: number) => number;
  /**
   * False when the judged figure falls as the raw value rises (free storage → % in use): the
   * judged p95 and maximum are then the raw p5 and minimum, which CloudWatch is asked for instead.
   */
  rises: boolean;
  threshold: number | null;
  thresholdBasis: string | null;
}

export function metricSpecs(resource: CapacityResource, t: CapacityThresholds): MetricSpec[] {
  const identity = (v: number) => v;
  if (resource.kind === 'ecs-service') {
    const dims = { ClusterName: resource.cluster, ServiceName: resource.service };
    return [
      {
        metric: 'cpu',
        label: 'CPU',
        unit: '%',
        query: { namespace: 'AWS/ECS', metricName: 'CPUUtilization', dimensions: dims, stat: 'Average' },
        transform: identity,
        rises: true,
        threshold: t.cpuPercent,
        thresholdBasis: `CPU ${t.cpuPercent}%`,
      },
      {
        metric: 'memory',
        label: 'Memory',
        unit: '%',
        query: { namespace: 'AWS/ECS', metricName: 'MemoryUtilization', dimensions: dims, stat: 'Average' },
        transform: identity,
        rises: true,
        threshold: t.memoryPercent,
        thresholdBasis: `memory ${t.memoryPercent}%`,
      },
    ];
  }
  const dims = { DBInstanceIdentifier: resource.id };
  const size = rdsClassSize(resource.instanceClass);
  const specs: MetricSpec[] = [
    {
      metric: 'cpu',
      label: 'CPU',
      unit: '%',
      query: { namespace: 'AWS/RDS', metricName: 'CPUUtilization', dimensions: dims, stat: 'Average' },
      transform: identity,
      rises: true,
      threshold: t.cpuPercent,
      thresholdBasis: `CPU ${t.cpuPercent}%`,
    },
  ];
  if (size) {
    specs.push({
      metric: 'memory',
      label: 'Memory in use',
      unit: '%',
      query: { namespace: 'AWS/RDS', metricName: 'FreeableMemory', dimensions: dims, stat: 'Minimum' },
      transform: (free) => 100 * (1 - free / (size.memoryGiB * GIB)),
      rises: false,
      threshold: t.memoryPercent,
      thresholdBasis: `memory ${t.memoryPercent}% of ${size.memoryGiB} GiB (${resource.instanceClass}), from FreeableMemory`,
    });
  } else {
    specs.push({
      metric: 'memory',
      label: 'Freeable memory',
      unit: 'GiB',
      query: { namespace: 'AWS/RDS', metricName: 'FreeableMemory', dimensions: dims, stat: 'Minimum' },
      transform: (free) => free / GIB,
      rises: true,
      threshold: null,
      thresholdBasis: `class ${resource.instanceClass} is not in the size table: memory in use unknown`,
    });
  }
  if (resource.allocatedStorageGiB) {
    const alloc = resource.allocatedStorageGiB;
    specs.push({
      metric: 'storage',
      label: 'Storage in use',
      unit: '%',
      query: { namespace: 'AWS/RDS', metricName: 'FreeStorageSpace', dimensions: dims, stat: 'Minimum' },
      transform: (free) => 100 * (1 - free / (alloc * GIB)),
      rises: false,
      threshold: 100 - t.freeStoragePercent,
      thresholdBasis: `free storage ${t.freeStoragePercent}% of ${alloc} GiB allocated`,
    });
  }
  const maxConn = size ? maxConnections(resource.engine, size.memoryGiB) : null;
  specs.push({
    metric: 'connections',
    label: 'Connections',
    unit: 'connections',
    query: { namespace: 'AWS/RDS', metricName: 'DatabaseConnections', dimensions: dims, stat: 'Maximum' },
    transform: identity,
    rises: true,
    threshold: maxConn ? round((maxConn.value * t.connectionsPercent) / 100, 0) : null,
    thresholdBasis: maxConn
      ? `${t.connectionsPercent}% of max_connections ${maxConn.value} (${resource.engine} default ${maxConn.formula}, ${size!.memoryGiB} GiB)`
      : `no default max_connections formula known for ${resource.engine || 'this engine'}${size ? '' : ` or class ${resource.instanceClass}`}: figures only`,
  });
  specs.push(
    {
      metric: 'readIops',
      label: 'Read IOPS',
      unit: 'IOPS',
      query: { namespace: 'AWS/RDS', metricName: 'ReadIOPS', dimensions: dims, stat: 'Average' },
      transform: identity,
      rises: true,
      threshold: null,
      thresholdBasis: null,
    },
    {
      metric: 'writeIops',
      label: 'Write IOPS',
      unit: 'IOPS',
      query: { namespace: 'AWS/RDS', metricName: 'WriteIOPS', dimensions: dims, stat: 'Average' },
      transform: identity,
      rises: true,
      threshold: null,
      thresholdBasis: null,
    },
  );
  return specs;
}

export function analyzeMetric(
  spec: MetricSpec,
  raw: readonly Point[],
  window: SeriesWindow,
  forecastDays: number,
): { analysis: MetricAnalysis; points: Point[] } {
  const points = raw.map((p) => ({ t: p.t, v: spec.transform(p.v) }));
  const stats = analyzeSeries(points, window, { threshold: spec.threshold, forecastDays });
  return {
    analysis: {
      ...stats,
      metric: spec.metric,
      label: spec.label,
      unit: spec.unit,
      source: `${spec.query.namespace} ${spec.query.metricName} (${spec.query.stat})`,
      thresholdBasis: spec.thresholdBasis,
    },
    points,
  };
}

/** Points the trend is fitted to when CloudWatch aggregates: a day's points each over 14 days. */
export const TREND_POINTS = 14;

/**
 * The trend's period when CloudWatch aggregates: the per-period statistic rolled up into about
 * TREND_POINTS buckets over the lookback (a day each over 14 days), never finer than the period.
 */
export function trendPeriodSeconds(periodSeconds: number, lookbackSeconds: number): number {
  return periodSeconds * Math.max(1, Math.floor(lookbackSeconds / periodSeconds / TREND_POINTS));
}

/** The four queries CloudWatch answers for one series when it aggregates; ids are `${base}t|m|p|x`. */
export function aggregatedQueries(spec: MetricSpec, base: string, window: SeriesWindow): MetricQuery[] {
  const lookbackSeconds = (window.endMs - window.startMs) / 1000;
  const q = { ...spec.query };
  return [
    { id: `${base}t`, ...q, periodSeconds: trendPeriodSeconds(window.periodSeconds, lookbackSeconds) },
    { id: `${base}m`, ...q, stat: 'p50', periodSeconds: lookbackSeconds },
    { id: `${base}p`, ...q, stat: spec.rises ? 'p95' : 'p5', periodSeconds: lookbackSeconds },
    { id: `${base}x`, ...q, stat: spec.rises ? 'Maximum' : 'Minimum', periodSeconds: lookbackSeconds },
  ];
}

/** One series' analysis from the answers to `aggregatedQueries`. */
export function analyzeAggregatedMetric(
  spec: MetricSpec,
  series: (id: string) => readonly Point[],
  base: string,
  window: SeriesWindow,
  forecastDays: number,
): MetricAnalysis {
  const lookbackMs = window.endMs - window.startMs;
  const trendMs = trendPeriodSeconds(window.periodSeconds, lookbackMs / 1000) * 1000;
  const periodMs = window.periodSeconds * 1000;
  const one = (id: string) => {
    const v = series(id)[0]?.v;
    return v === undefined || !Number.isFinite(v) ? null : spec.transform(v);
  };
  // A bucket's value stands for the periods inside it: fitted at their mean time, as the same
  // line through every per-period point would be (the last bucket may be cut short by the window's end).
  const trendPoints = series(`${base}t`).map((p) => {
    const len = Math.min(trendMs, window.endMs - p.t);
    return { t: p.t + Math.max(0, len - periodMs) / 2, v: spec.transform(p.v) };
  });
  const stats = analyzeAggregated(
    { p50: one(`${base}m`), p95: one(`${base}p`), max: one(`${base}x`), trendPoints, expectedTrendPoints: Math.ceil(lookbackMs / trendMs) },
    window,
    { threshold: spec.threshold, forecastDays },
  );
  return {
    ...stats,
    metric: spec.metric,
    label: spec.label,
    unit: spec.unit,
    source: `${spec.query.namespace} ${spec.query.metricName} (${spec.query.stat}; percentiles, ${spec.rises ? 'maximum' : 'minimum'} and ${trendMs / 3_600_000} h trend points aggregated by CloudWatch)`,
    thresholdBasis: spec.thresholdBasis,
  };
}

/** The figures the right-sizing rule reads: both CPU and memory judged, both low. */
export function isIdle(metrics: readonly MetricAnalysis[]): boolean {
  const cpu = metrics.find((m) => m.metric === 'cpu');
  const mem = metrics.find((m) => m.metric === 'memory');
  if (!cpu || !mem || mem.threshold === null) return false;
  if (cpu.verdict === 'insufficient-data' || mem.verdict === 'insufficient-data') return false;
  return cpu.p95 !== null && mem.p95 !== null && cpu.p95 < IDLE_CPU_PERCENT && mem.p95 < IDLE_MEMORY_PERCENT;
}

export interface SizingInfo {
  /** ECS: the task's size when the task definition sets one. */
  taskSize?: FargateSize | null;
}

/** One resource's status from its metrics: at risk beats everything; then over-provisioned; then "not enough data". */
export function judgeResource(
  resource: CapacityResource,
  metrics: MetricAnalysis[],
  thresholds: CapacityThresholds,
  sizing: SizingInfo = {},
): ResourceAnalysis {
  const judged = metrics.filter((m) => m.threshold !== null);
  const atRisk = judged.filter((m) => m.verdict === 'at-risk').sort((a, b) => (a.daysToThreshold ?? Infinity) - (b.daysToThreshold ?? Infinity));
  const thin = judged.filter((m) => m.verdict === 'insufficient-data');
  const days = judged.map((m) => m.daysToThreshold).filter((d): d is number => d !== null);
  const size = sizeLabel(resource, sizing);
  const base = { id: resource.id, kind: resource.kind, size, daysToThreshold: days.length ? Math.min(...days) : null, metrics };

  if (atRisk.length > 0) {
    const first = atRisk[0];
    const more = atRisk.slice(1).map((m) => m.label.toLowerCase());
    return {
      ...base,
      status: 'at-risk',
      metric: first.metric,
      detail: `${first.label}: ${first.reason}${more.length ? `; also at risk: ${more.join(', ')}` : ''}${thin.length ? `; not enough data for ${thin.map((m) => m.label.toLowerCase()).join(', ')}` : ''}`,
      suggestion: null,
    };
  }
  if (thin.length > 0 || judged.length === 0) {
    return {
      ...base,
      status: 'insufficient-data',
      metric: thin[0]?.metric ?? null,
      detail: thin.length ? thin.map((m) => `${m.label}: ${m.reason}`).join('; ') : 'no metric with a threshold could be judged',
      suggestion: null,
    };
  }
  if (isIdle(metrics)) {
    const cpu = metrics.find((m) => m.metric === 'cpu')!;
    const mem = metrics.find((m) => m.metric === 'memory')!;
    return {
      ...base,
      status: 'over-provisioned',
      metric: 'cpu',
      detail: `p95 CPU ${cpu.p95}% (< ${IDLE_CPU_PERCENT}%) and p95 memory ${mem.p95}% (< ${IDLE_MEMORY_PERCENT}%) over the whole lookback`,
      suggestion: suggestSmaller(resource, metrics, thresholds, sizing),
    };
  }
  const soonest = judged.filter((m) => m.daysToThreshold !== null).sort((a, b) => a.daysToThreshold! - b.daysToThreshold!)[0];
  return {
    ...base,
    status: 'ok',
    metric: soonest?.metric ?? null,
    detail: soonest ? `${soonest.label}: ${soonest.reason}` : 'every judged metric is under its threshold with no rising trend toward it',
    suggestion: null,
  };
}

function sizeLabel(resource: CapacityResource, sizing: SizingInfo): string | null {
  if (resource.kind === 'rds-instance') return resource.instanceClass || null;
  return sizing.taskSize ? fargateLabel(sizing.taskSize) : null;
}

function suggestSmaller(resource: CapacityResource, metrics: MetricAnalysis[], t: CapacityThresholds, sizing: SizingInfo): string {
  const p95 = (k: MetricKey) => metrics.find((m) => m.metric === k)?.p95 ?? null;
  const need = { cpuP95: p95('cpu')!, memoryP95: p95('memory')!, cpuThreshold: t.cpuPercent, memoryThreshold: t.memoryPercent };
  if (resource.kind === 'ecs-service') {
    const current = sizing.taskSize;
    if (!current)
      return `task definition ${resource.taskDefinition} sets no task-level CPU and memory: size its containers down, or run fewer than ${resource.desiredCount} task(s)`;
    const smaller = smallerFargateSize(current, need);
    if (!smaller)
      return `already the smallest Fargate size that keeps p95 under the thresholds (${fargateLabel(current)}); consider fewer than ${resource.desiredCount} task(s)`;
    return `${fargateLabel(current)} → ${fargateLabel(smaller)} (task cpu ${smaller.cpu}, memory ${smaller.memoryMiB})`;
  }
  const current = rdsClassSize(resource.instanceClass);
  if (!current) return `class ${resource.instanceClass} is not in the size table; no suggestion`;
  const smaller = smallerRdsClass(current, {
    ...need,
    connectionsP95: p95('connections'),
    connectionsShare: t.connectionsPercent / 100,
    engine: resource.engine,
  });
  if (!smaller) return `no smaller ${resource.instanceClass.split('.')[1]} class keeps p95 CPU, memory and connections under the thresholds`;
  return `${resource.instanceClass} → ${smaller.instanceClass} (${smaller.vcpu} vCPU, ${smaller.memoryGiB} GiB)`;
}

export function toFinding(r: ResourceAnalysis): CapacityFinding | null {
  if (r.status === 'ok') return null;
  return {
    resourceId: r.id,
    kind: r.kind,
    finding: r.status,
    metric: r.metric,
    daysToThreshold: r.daysToThreshold,
    detail: r.detail,
    suggestion: r.suggestion,
  };
}

const STATUS_ORDER: Record<ResourceStatus, number> = { 'at-risk': 0, 'over-provisioned': 1, 'insufficient-data': 2, ok: 3 };

/** Days to threshold first (soonest first, none last), then status, then id. */
export function compareResources(a: ResourceAnalysis, b: ResourceAnalysis): number {
  const da = a.daysToThreshold ?? Infinity;
  const db = b.daysToThreshold ?? Infinity;
  if (da !== db) return da - db;
  return STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The metrics a resource's chart shows: the ones at risk, or CPU and memory when it is over-provisioned. */
export function chartedMetrics(r: ResourceAnalysis): MetricKey[] {
  if (r.status === 'at-risk') return r.metrics.filter((m) => m.verdict === 'at-risk').map((m) => m.metric);
  if (r.status === 'over-provisioned') return ['cpu', 'memory'];
  return [];
}

export function chartFor(
  resourceId: string,
  analysis: MetricAnalysis,
  points: readonly Point[],
  window: SeriesWindow & { forecastDays: number },
): CapacityChart {
  const forecast: Point[] = [];
  if (analysis.slopePerDay !== null && analysis.trendNow !== null) {
    // To the crossing when there is one within the forecast; otherwise as far ahead as the lookback reaches back, so the measured part stays readable.
    const lookbackDays = (window.endMs - window.startMs) / DAY_MS;
    const horizon = Math.max(1, Math.min(analysis.daysToThreshold ?? lookbackDays, window.forecastDays));
    forecast.push(
      { t: window.endMs, v: analysis.trendNow },
      { t: window.endMs + horizon * DAY_MS, v: round(analysis.trendNow + analysis.slopePerDay * horizon) },
    );
  }
  return {
    resourceId,
    metric: analysis.metric,
    title: `${resourceId} — ${analysis.label}`,
    unit: analysis.unit,
    points: downsample(points, CHART_POINTS),
    forecast,
    threshold: analysis.threshold,
    thresholdLabel: analysis.threshold === null ? null : `threshold ${analysis.threshold}${analysis.unit === '%' ? '%' : ` ${analysis.unit}`}`,
  };
}

/** "$0.00024", "$1.35": small costs keep two significant digits rather than rounding to $0.0000. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${Number(usd.toPrecision(2))}` : `$${usd.toFixed(2)}`;
}
