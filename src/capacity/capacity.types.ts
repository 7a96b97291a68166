import type { CallTally } from '../aws/call-tally';
import type { Point, SeriesStats } from './capacity-analysis';

/**
 * What the capacity report holds. It is a step output (stored as JSON with the run) and then
 * the report's `capacity` section, so it stays plain JSON and small: figures for every resource,
 * series only for the resources the report charts, downsampled.
 */

export type CapacityResourceKind = 'ecs-service' | 'rds-instance';

export interface EcsServiceResource {
  kind: 'ecs-service';
  /** `cluster/service`. */
  id: string;
  cluster: string;
  service: string;
  taskDefinition: string;
  launchType: string | null;
  desiredCount: number;
}

export interface RdsInstanceResource {
  kind: 'rds-instance';
  id: string;
  instanceClass: string;
  engine: string;
  allocatedStorageGiB: number | null;
  clusterIdentifier: string | null;
}

export type CapacityResource = EcsServiceResource | RdsInstanceResource;

export type MetricKey = 'cpu' | 'memory' | 'storage' | 'connections' | 'readIops' | 'writeIops';

export interface CapacityThresholds {
  cpuPercent: number;
  memoryPercent: number;
  freeStoragePercent: number;
  /** Share of the instance's max_connections, in percent. */
  connectionsPercent: number;
}

export interface MetricAnalysis extends SeriesStats {
  metric: MetricKey;
  label: string;
  unit: string;
  /** CloudWatch metric and statistic the figures come from. */
  source: string;
  /** How the threshold was derived, e.g. "80% of max_connections 1,365 ({DBInstanceClassMemory/12582880})". */
  thresholdBasis: string | null;
}

export type ResourceStatus = 'at-risk' | 'over-provisioned' | 'insufficient-data' | 'ok';

export interface ResourceAnalysis {
  id: string;
  kind: CapacityResourceKind;
  /** "0.5 vCPU / 1 GB", "db.r6g.xlarge"; null when not known. */
  size: string | null;
  status: ResourceStatus;
  /** The soonest crossing among the metrics with thresholds; 0 when already over. */
  daysToThreshold: number | null;
  /** The metric that decided the status (the soonest at risk), if any. */
  metric: MetricKey | null;
  detail: string;
  suggestion: string | null;
  metrics: MetricAnalysis[];
}

export interface CapacityFinding {
  resourceId: string;
  kind: CapacityResourceKind;
  finding: 'at-risk' | 'over-provisioned' | 'insufficient-data';
  metric: MetricKey | null;
  daysToThreshold: number | null;
  detail: string;
  suggestion: string | null;
}

export interface CapacityChart {
  resourceId: string;
  metric: MetricKey;
  title: string;
  unit: string;
  points: Point[];
  /** The trend from the window's end forward, drawn dashed; empty when no trend. */
  forecast: Point[];
  threshold: number | null;
  thresholdLabel: string | null;
}

export interface CapacityCost {
  getMetricDataCalls: number;
  /** Batches of at most 500 queries: ceil(queries / 500). Calls ÷ batches is the pages each took. */
  batches: number;
  metricsRequested: number;
  /** Data points CloudWatch returned over every call (what the SDK had to parse). */
  datapointsFetched?: number;
  /** Who computed the statistics: CloudWatch (aggregated server-side) or this process from every point. */
  statistics?: 'cloudwatch' | 'local';
  usdPerThousandMetrics: number;
  usd: number;
  assumption: string;
}

export interface CapacitySection {
  region: string;
  window: { start: string; end: string; lookbackDays: number; periodSeconds: number; forecastDays: number };
  thresholds: CapacityThresholds;
  counts: { resources: number; atRisk: number; overProvisioned: number; insufficientData: number; ok: number };
  /** Every resource, sorted: days to threshold first (soonest first), then status, then id. */
  resources: ResourceAnalysis[];
  findings: CapacityFinding[];
  charts: CapacityChart[];
  /** Resources that would have had a chart beyond the cap. */
  chartsOmitted: number;
  /** Every AWS request the report made, by `service:Operation`. */
  awsCalls: CallTally;
  cost: CapacityCost;
  notes: string[];
}
