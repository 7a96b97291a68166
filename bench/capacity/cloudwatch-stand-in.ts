import { fork } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricHistory } from '../../scripts/sandbox/seed-metrics';
import { scenarioSeries, type Scenario } from './scenario';

/**
 * GetMetricData as CloudWatch answers it (AWS JSON 1.0, the protocol SDK v3 speaks to
 * CloudWatch), over series held in memory: at most 500 queries per request, at most 100,800
 * data points per response, the rest behind a NextToken. The capacity bench serves its metric
 * history from here because moto's GetMetricData scans every stored point for every query and
 * every period (see bench/capacity/capacity.bench.ts); everything else in the bench is moto.
 */
export interface StandInStats {
  requests: number;
  queries: number;
  datapoints: number;
  rejected: number;
}

export interface CloudWatchStandIn {
  endpoint: string;
  /** GetMetricData requests answered, and queries they carried. */
  stats(): StandInStats;
  stop(): Promise<void>;
}

export const MAX_QUERIES = 500;
export const MAX_DATAPOINTS = 100_800;

interface Query {
  Id: string;
  MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: string }> }; Period: number; Stat: string };
}

export async function startCloudWatchStandIn(series: readonly MetricHistory[]): Promise<CloudWatchStandIn> {
  const byKey = indexSeries(series);
  const counters = { requests: 0, queries: 0, datapoints: 0, rejected: 0 };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(text),
          'x-amzn-requestid': `standin-${counters.requests}`,
        });
        res.end(text);
      };
      if (!target.endsWith('.GetMetricData')) {
        counters.rejected++;
        return send(400, { __type: 'com.amazonaws.cloudwatch#InvalidAction', message: `the bench stand-in answers GetMetricData only, not ${target}` });
      }
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        MetricDataQueries: Query[];
        StartTime: number;
        EndTime: number;
        NextToken?: string;
      };
      const queries = input.MetricDataQueries ?? [];
      if (queries.length > MAX_QUERIES) {
        counters.rejected++;
        return send(400, {
          __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException',
          message: `The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`,
        });
      }
      counters.requests++;
      counters.queries += queries.length;
      const page = answerPage(byKey, input);
      for (const r of page.MetricDataResults) counters.datapoints += r.Values.length;
      send(200, page);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => ({ ...counters }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type SeriesIndex = Map<string, MetricHistory>;

export function indexSeries(series: readonly MetricHistory[]): SeriesIndex {
  const byKey: SeriesIndex = new Map();
  for (const s of series) byKey.set(key(s.namespace, s.metricName, s.dimensions), s);
  return byKey;
}

export interface PageAnswer {
  MetricDataResults: Array<{ Id: string; Label: string; Timestamps: number[]; Values: number[]; StatusCode: string }>;
  NextToken?: string;
  Messages: [];
}

/** One GetMetricData page (times in epoch seconds, as the JSON protocol carries them). */
export function answerPage(byKey: SeriesIndex, input: { MetricDataQueries?: Query[]; StartTime: number; EndTime: number; NextToken?: string }): PageAnswer {
  const queries = input.MetricDataQueries ?? [];
  const startMs = input.StartTime * 1000;
  const endMs = input.EndTime * 1000;
  // The token is where the previous page stopped: query index and point index within it.
  let [qi, pi] = input.NextToken ? (JSON.parse(Buffer.from(input.NextToken, 'base64').toString('utf8')) as [number, number]) : [0, 0];
  let budget = MAX_DATAPOINTS;
  const results: PageAnswer['MetricDataResults'] = [];
  for (; qi < queries.length && budget > 0; qi++, pi = 0) {
    const q = queries[qi];
    const points = bucket(q, byKey, startMs, endMs);
    const take = points.slice(pi, pi + budget);
    budget -= take.length;
    const complete = pi + take.length >= points.length;
    results.push({
      Id: q.Id,
      Label: q.MetricStat?.Metric.MetricName ?? q.Id,
      Timestamps: take.map((p) => p.t / 1000),
      Values: take.map((p) => p.v),
      StatusCode: complete ? 'Complete' : 'PartialData',
    });
    if (!complete) {
      pi += take.length;
      break;
    }
  }
  const more = qi < queries.length;
  return { MetricDataResults: results, ...(more ? { NextToken: Buffer.from(JSON.stringify([qi, pi])).toString('base64') } : {}), Messages: [] };
}

/** Points of one query in [start, end), averaged per period (the seeded history is already one point per period). */
function bucket(q: Query, byKey: Map<string, MetricHistory>, startMs: number, endMs: number): Array<{ t: number; v: number }> {
  if (!q.MetricStat) return [];
  const m = q.MetricStat.Metric;
  const dims = Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value]));
  const s = byKey.get(key(m.Namespace, m.MetricName, dims));
  if (!s) return [];
  const periodMs = q.MetricStat.Period * 1000;
  const sums = new Map<number, { sum: number; n: number; min: number; max: number; values: number[] }>();
  for (const p of s.points) {
    if (p.t < startMs || p.t >= endMs) continue;
    const b = startMs + Math.floor((p.t - startMs) / periodMs) * periodMs;
    const cur = sums.get(b) ?? { sum: 0, n: 0, min: Infinity, max: -Infinity, values: [] };
    cur.values.push(p.v);
    cur.sum += p.v;
    cur.n++;
    cur.min = Math.min(cur.min, p.v);
    cur.max = Math.max(cur.max, p.v);
    sums.set(b, cur);
  }
  const stat = q.MetricStat.Stat;
  const pct = /^p(\d+(?:\.\d+)?)$/.exec(stat);
  return [...sums.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, c]) => ({
      t,
      v: pct
        ? percentileOf(c.values, Number(pct[1]))
        : stat === 'Maximum'
          ? c.max
          : stat === 'Minimum'
            ? c.min
            : stat === 'Sum'
              ? c.sum
              : stat === 'SampleCount'
                ? c.n
                : c.sum / c.n,
    }));
}

/**
 * A percentile statistic over the samples in the period. CloudWatch does not document its
 * estimator; this one interpolates between ranks (as a spreadsheet does), so where the samples
 * are one a period the answer equals the app's own percentile of the per-period points.
 */
function percentileOf(values: number[], p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 1) return sorted[0];
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function key(namespace: string, metricName: string, dims: Record<string, string>): string {
  return `${namespace}|${metricName}|${Object.entries(dims)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;
}

/**
 * The stand-in in a process of its own, as CloudWatch is remote: its JSON encoding must not
 * share the app's CPU and event loop, or the bench would charge the app for the fake's work.
 */
export function forkCloudWatchStandIn(scenario: Scenario): Promise<{ endpoint: string; stats(): Promise<StandInStats>; stop(): Promise<void> }> {
  const child = fork(__filename, [], {
    execArgv: ['-r', '@swc-node/register'],
    env: { ...process.env, CAPACITY_STAND_IN: JSON.stringify(scenario) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending: Array<(s: StandInStats) => void> = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`CloudWatch stand-in exited (${code}) before it was ready`)));
    child.on('message', (m: { endpoint?: string; stats?: StandInStats }) => {
      if (m.stats) pending.shift()?.(m.stats);
      if (m.endpoint) {
        child.removeAllListeners('exit');
        resolve({
          endpoint: m.endpoint,
          stats: () =>
            new Promise<StandInStats>((res) => {
              pending.push(res);
              child.send('stats');
            }),
          stop: () =>
            new Promise<void>((res) => {
              child.once('exit', () => res());
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

if (process.env.CAPACITY_STAND_IN && process.send) {
  const scenario = JSON.parse(process.env.CAPACITY_STAND_IN) as Scenario;
  void startCloudWatchStandIn(scenarioSeries(scenario)).then((s) => {
    process.on('message', () => process.send!({ stats: s.stats() }));
    process.send!({ endpoint: s.endpoint });
  });
}
