import { Injectable } from '@nestjs/common';
import {
  paginateDescribeAlarmHistory,
  paginateDescribeAlarms,
  paginateGetMetricData,
  type AlarmType,
  type CloudWatchClient,
  type Dimension,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import pLimit from 'p-limit';
import type { AwsCallContext } from './aws-call.types';
import { AwsCallerService, AwsServiceCalls, firstPages } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';
import type { CallTally } from './call-tally';

export const CLOUDWATCH_SERVICE = 'cloudwatch';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmState {
  name: string;
  state: AlarmStateValue;
  reason: string;
  /** ISO 8601, or null when AWS gives no timestamp. */
  updatedAt: string | null;
}

export interface AlarmStates {
  /** In the order the names were asked for. */
  alarms: AlarmState[];
  /** Names that match no alarm: a guard on a missing alarm guards nothing, so callers must see it. */
  missing: string[];
}

/** What CloudWatch itself says an alarm is: the evidence an alarm notification is checked against. */
export interface AlarmConfiguration {
  name: string;
  arn: string | null;
  state: AlarmStateValue;
  reason: string;
  description: string | null;
  /** When the alarm last changed state (ISO 8601); falls back to the last update where AWS gives no transition time. */
  transitionedAt: string | null;
  /** When the alarm was last evaluated or changed (ISO 8601), or null when AWS gives no timestamp. */
  updatedAt: string | null;
  /** The metric's dimensions (for metric-math alarms, every metric's, first value wins); none for composite alarms. */
  dimensions: Record<string, string>;
}

/** One state change from the alarm's history. */
export interface AlarmStateChange {
  /** ISO 8601. */
  at: string;
  newState: string | null;
}

/** One metric to fetch: MetricStat only (math expressions are not billed or paged the same way). */
export interface MetricQuery {
  /** Unique within the request; AWS wants ^[a-z][a-zA-Z0-9_]*$. */
  id: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  /** Average, Maximum, Minimum, Sum, SampleCount or a percentile such as p95. */
  stat: string;
  periodSeconds: number;
}

export interface MetricDataRequest {
  queries: readonly MetricQuery[];
  start: Date;
  end: Date;
}

export interface MetricPoint {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

export interface MetricDataResult {
  /** Points by query id, oldest first; a query with no data maps to []. */
  series: Record<string, MetricPoint[]>;
  /** GetMetricData requests sent (every page of every batch). */
  calls: number;
  /** Batches of at most 500 queries; pages = calls / batches when every batch pages alike. */
  batches: number;
  /** Metrics requested summed over every call: what GetMetricData is billed on. */
  metricsRequested: number;
  /** Messages AWS attached (e.g. a query that hit a limit), with the query id when it names one. */
  messages: string[];
}

/** GetMetricData accepts at most 500 queries per request. */
export const METRIC_QUERIES_PER_CALL = 500;
const MAX_METRIC_PAGES = 200;
/** Batches fetched at once: GetMetricData allows 50 requests/s per region; 3 keeps a report far below that. */
const METRIC_BATCH_CONCURRENCY = 3;

/** DescribeAlarms accepts at most 100 names per request. */
const NAMES_PER_REQUEST = 100;
const MAX_PAGES_PER_BATCH = 20;

@Injectable()
export class CloudWatchAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = caller.forService(CLOUDWATCH_SERVICE, (region, roleArn, kind) => clients.cloudwatch(region, roleArn, kind));
  }

  /**
   * The alarms' own configuration and state, for up to any number of names at 100 per
   * DescribeAlarms request (the API's limit, and a call quota of a few per second per account).
   * Names that match nothing are simply absent from the answer.
   */
  async alarmConfigurations(ctx: AwsCallContext, target: AwsTarget, alarmNames: string[]): Promise<AlarmConfiguration[]> {
    const wanted = [...new Set(alarmNames)];
    const out: AlarmConfiguration[] = [];
    for (let i = 0; i < wanted.length; i += NAMES_PER_REQUEST) {
      const batch = new Set(wanted.slice(i, i + NAMES_PER_REQUEST));
      const input = { AlarmNames: [...batch], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] as AlarmType[], MaxRecords: 100 };
      for await (const res of firstPages(
        MAX_PAGES_PER_BATCH,
        paginateDescribeAlarms(this.calls.paging<CloudWatchClient>(ctx, target, 'DescribeAlarms'), input),
      )) {
        for (const a of res.MetricAlarms ?? []) {
          if (!a.AlarmName || !batch.has(a.AlarmName)) continue;
          const dimensions: Record<string, string> = {};
          addDimensions(dimensions, a.Dimensions);
          for (const m of a.Metrics ?? []) addDimensions(dimensions, m.MetricStat?.Metric?.Dimensions);
          out.push(configuration(a, dimensions));
        }
        for (const a of res.CompositeAlarms ?? []) {
          if (a.AlarmName && batch.has(a.AlarmName)) out.push(configuration(a, {}));
        }
      }
    }
    return out;
  }

  /** The alarm's state changes between two times, oldest first: where an alarm has moved on since a notification. */
  async alarmStateHistory(ctx: AwsCallContext, target: AwsTarget, alarmName: string, start: Date, end: Date): Promise<AlarmStateChange[]> {
    const changes: AlarmStateChange[] = [];
    const input = {
      AlarmName: alarmName,
      HistoryItemType: 'StateUpdate' as const,
      StartDate: start,
      EndDate: end,
      ScanBy: 'TimestampAscending' as const,
      MaxRecords: 100,
    };
    for await (const res of firstPages(
      MAX_PAGES_PER_BATCH,
      paginateDescribeAlarmHistory(this.calls.paging<CloudWatchClient>(ctx, target, 'DescribeAlarmHistory'), input),
    )) {
      for (const item of res.AlarmHistoryItems ?? []) {
        if (!item.Timestamp) continue;
        changes.push({ at: item.Timestamp.toISOString(), newState: historyNewState(item.HistoryData) });
      }
    }
    return changes;
  }

  /**
   * Fetches many metrics with as few requests as GetMetricData allows: queries go in batches of
   * 500, and each batch follows NextToken (AWS pages once a response would exceed 100,800 data
   * points), so N queries cost ceil(N / 500) requests per page rather than N.
   */
  async getMetricData(ctx: AwsCallContext, target: AwsTarget, request: MetricDataRequest, tally?: CallTally): Promise<MetricDataResult> {
    const result: MetricDataResult = { series: {}, calls: 0, batches: 0, metricsRequested: 0, messages: [] };
    for (const q of request.queries) result.series[q.id] = [];
    const batches: MetricQuery[][] = [];
    for (let i = 0; i < request.queries.length; i += METRIC_QUERIES_PER_CALL) batches.push(request.queries.slice(i, i + METRIC_QUERIES_PER_CALL));
    // Batches are independent, pages within one are not (each needs the previous NextToken).
    await pLimit(METRIC_BATCH_CONCURRENCY).map(batches, async (batch) => {
      const queries: MetricDataQuery[] = batch.map((q) => ({
        Id: q.id,
        ReturnData: true,
        MetricStat: {
          Metric: { Namespace: q.namespace, MetricName: q.metricName, Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })) },
          Period: q.periodSeconds,
          Stat: q.stat,
        },
      }));
      result.batches++;
      const input = { MetricDataQueries: queries, StartTime: request.start, EndTime: request.end, ScanBy: 'TimestampAscending' as const };
      for await (const out of firstPages(
        MAX_METRIC_PAGES,
        paginateGetMetricData(this.calls.paging<CloudWatchClient>(ctx, target, 'GetMetricData', tally), input),
      )) {
        result.calls++;
        result.metricsRequested += batch.length;
        for (const r of out.MetricDataResults ?? []) {
          if (!r.Id || !(r.Id in result.series)) continue;
          const ts = r.Timestamps ?? [];
          const vs = r.Values ?? [];
          const into = result.series[r.Id];
          for (let k = 0; k < Math.min(ts.length, vs.length); k++) into.push({ t: ts[k].getTime(), v: vs[k] });
          for (const m of r.Messages ?? []) result.messages.push(`${r.Id}: ${m.Code ?? ''} ${m.Value ?? ''}`.trim());
        }
        for (const m of out.Messages ?? []) result.messages.push(`${m.Code ?? ''} ${m.Value ?? ''}`.trim());
      }
    });
    // Pages may split one series anywhere; callers get each series whole and in time order.
    for (const points of Object.values(result.series)) points.sort((a, b) => a.t - b.t);
    return result;
  }
}

function addDimensions(into: Record<string, string>, list: Dimension[] | undefined): void {
  for (const d of list ?? []) if (d.Name && d.Value !== undefined && !(d.Name in into)) into[d.Name] = d.Value;
}

function configuration(
  a: {
    AlarmName?: string;
    AlarmArn?: string;
    StateValue?: string;
    StateReason?: string;
    AlarmDescription?: string;
    StateTransitionedTimestamp?: Date;
    StateUpdatedTimestamp?: Date;
  },
  dimensions: Record<string, string>,
): AlarmConfiguration {
  const transitioned = a.StateTransitionedTimestamp ?? a.StateUpdatedTimestamp;
  return {
    name: a.AlarmName!,
    arn: a.AlarmArn ?? null,
    state: (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmStateValue,
    reason: a.StateReason ?? '',
    description: a.AlarmDescription ?? null,
    transitionedAt: transitioned ? transitioned.toISOString() : null,
    updatedAt: a.StateUpdatedTimestamp ? a.StateUpdatedTimestamp.toISOString() : null,
    dimensions,
  };
}

/** HistoryData is a JSON document; a state update carries `newState.stateValue`. */
function historyNewState(data: string | undefined): string | null {
  if (!data) return null;
  try {
    const v = JSON.parse(data) as { newState?: { stateValue?: unknown } };
    return typeof v.newState?.stateValue === 'string' ? v.newState.stateValue : null;
  } catch {
    return null;
  }
}
