import { analyzeSeries, DAY_MS, downsample, leastSquares, percentile, type Point } from '../../src/capacity/capacity-analysis';
import { judgeResource, metricSpecs, analyzeMetric } from '../../src/capacity/capacity-model';
import type { CapacityThresholds, EcsServiceResource, RdsInstanceResource } from '../../src/capacity/capacity.types';
import { FARGATE_SIZES, maxConnections, smallerFargateSize, smallerRdsClass, rdsClassSize } from '../../src/capacity/size-ladders';

/** Series whose answers are known, so every figure the capacity report prints is checked. */
const END = Date.parse('2026-11-22T00:00:00Z');
const HOUR = 3_600_000;
const window14 = { startMs: END - 14 * DAY_MS, endMs: END, periodSeconds: 3600 };
const rules = { threshold: 70, forecastDays: 30 };

/** Hourly points over the 14 days before END, value f(days since the window start). */
function hourly(f: (day: number, i: number) => number, every = 1): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < 14 * 24; i += every) out.push({ t: window14.startMs + i * HOUR, v: f((i * HOUR) / DAY_MS, i) });
  return out;
}

/** Deterministic noise in [-1, 1] (a fixed LCG): the same "random" series every run. */
function noise(seed = 7): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31) * 2 - 1;
  };
}

describe('percentile and least squares', () => {
  it('interpolates percentiles between ranks', () => {
    const v = Array.from({ length: 101 }, (_, i) => i); // 0..100
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile([10, 20], 50)).toBe(15);
    expect(percentile([42], 95)).toBe(42);
    expect(percentile([], 95)).toBeNull();
  });

  it('fits an exact line exactly', () => {
    const t = leastSquares([
      { t: 0, v: 10 },
      { t: DAY_MS, v: 12 },
      { t: 2 * DAY_MS, v: 14 },
    ])!;
    expect(t.slopePerDay).toBeCloseTo(2, 10);
    expect(t.valueAt(5 * DAY_MS)).toBeCloseTo(20, 10);
    expect(leastSquares([{ t: 5, v: 1 }])).toBeNull();
  });
});

describe('analyzeSeries', () => {
  it('linear growth: crosses the threshold on the known day', () => {
    // 30% at the window start, +2 %/day → 58% at the end; 70% is reached 6 days after the end.
    const s = analyzeSeries(
      hourly((d) => 30 + 2 * d),
      window14,
      rules,
    );
    expect(s.slopePerDay).toBeCloseTo(2, 6);
    expect(s.trendNow).toBeCloseTo(58, 1);
    expect(s.daysToThreshold).toBeCloseTo(6, 1);
    expect(s.crossesAt).toBe('2026-11-28');
    expect(s.verdict).toBe('at-risk');
    expect(s.reason).toMatch(/reaches 70 in 6 days \(2026-11-28\)/);
    // p95 of a uniform ramp from 30 to ~58 is 30 + 0.95 × 27.92
    expect(s.p95).toBeCloseTo(30 + 0.95 * ((335 * HOUR) / DAY_MS) * 2, 1);
    expect(s.coverage).toBe(1);
  });

  it('linear growth crossing beyond the forecast horizon is not at risk, but the day is still given', () => {
    const s = analyzeSeries(
      hourly((d) => 10 + 1 * d),
      window14,
      rules,
    ); // 24% now, 70% in 46 days
    expect(s.daysToThreshold).toBeCloseTo(46, 1);
    expect(s.verdict).toBe('ok');
    expect(s.reason).toMatch(/beyond the 30-day forecast/);
  });

  it('flat: no trend, no crossing, ok', () => {
    const s = analyzeSeries(
      hourly(() => 40),
      window14,
      rules,
    );
    expect(s).toMatchObject({ p50: 40, p95: 40, max: 40, slopePerDay: 0, daysToThreshold: null, crossesAt: null, verdict: 'ok' });
  });

  it('flat but over the threshold: at risk now', () => {
    const s = analyzeSeries(
      hourly(() => 85),
      window14,
      rules,
    );
    expect(s).toMatchObject({ p95: 85, daysToThreshold: 0, verdict: 'at-risk' });
    expect(s.reason).toMatch(/p95 85 is at or over the threshold 70/);
  });

  it('noisy: the trend comes through the noise', () => {
    const n = noise();
    const s = analyzeSeries(
      hourly((d) => 30 + 2 * d + 8 * n()),
      window14,
      rules,
    );
    expect(s.slopePerDay!).toBeGreaterThan(1.8);
    expect(s.slopePerDay!).toBeLessThan(2.2);
    expect(s.daysToThreshold!).toBeGreaterThan(5);
    expect(s.daysToThreshold!).toBeLessThan(7.5);
    expect(s.verdict).toBe('at-risk');
    const flat = analyzeSeries(
      hourly(() => 40 + 10 * n()),
      window14,
      rules,
    );
    expect(Math.abs(flat.slopePerDay!)).toBeLessThan(0.3);
    expect(flat.max!).toBeLessThanOrEqual(50);
    expect(flat.verdict).toBe('ok');
  });

  it('gaps: a series with holes still gives the true trend, from the points that exist', () => {
    // Days 3–6 and 9–10 missing (10 of 14 days present: 71% coverage)
    const points = hourly((d) => 30 + 2 * d).filter((p) => {
      const d = (p.t - window14.startMs) / DAY_MS;
      return !(d >= 3 && d < 6) && !(d >= 9 && d < 10);
    });
    const s = analyzeSeries(points, window14, rules);
    expect(s.points).toBe(10 * 24);
    expect(s.coverage).toBeCloseTo(10 / 14, 2);
    expect(s.slopePerDay).toBeCloseTo(2, 6);
    expect(s.daysToThreshold).toBeCloseTo(6, 1);
  });

  it('too sparse: coverage under half is insufficient data, with no trend or forecast', () => {
    const points = hourly((d) => 30 + 2 * d).slice(0, 100); // 100 of 336 hours
    const s = analyzeSeries(points, window14, rules);
    expect(s.verdict).toBe('insufficient-data');
    expect(s).toMatchObject({ slopePerDay: null, trendNow: null, daysToThreshold: null, crossesAt: null });
    expect(s.reason).toMatch(/100 data points cover 30% of the lookback/);
  });

  it('a single point: its figures as measured, but no trend and no verdict', () => {
    const s = analyzeSeries([{ t: END - HOUR, v: 55 }], window14, rules);
    expect(s).toMatchObject({ points: 1, p50: 55, p95: 55, max: 55, slopePerDay: null, daysToThreshold: null, verdict: 'insufficient-data' });
    expect(s.reason).toMatch(/^1 data point cover/);
  });

  it('nothing at all: every figure null, said plainly', () => {
    const s = analyzeSeries([], window14, rules);
    expect(s).toMatchObject({
      points: 0,
      coverage: 0,
      p50: null,
      p95: null,
      max: null,
      slopePerDay: null,
      trendNow: null,
      daysToThreshold: null,
      verdict: 'insufficient-data',
    });
    expect(s.reason).toBe('no data points in the lookback window');
  });

  it('downsample keeps a long series short and its mean', () => {
    const pts = hourly((d) => d);
    const small = downsample(pts, 100);
    expect(small.length).toBeLessThanOrEqual(100);
    const mean = (p: Point[]) => p.reduce((s, x) => s + x.v, 0) / p.length;
    expect(mean(small)).toBeCloseTo(mean(pts), 1);
  });
});

describe('resource verdicts and right-sizing', () => {
  const thresholds: CapacityThresholds = { cpuPercent: 70, memoryPercent: 80, freeStoragePercent: 20, connectionsPercent: 80 };
  const svc: EcsServiceResource = {
    kind: 'ecs-service',
    id: 'prod/api',
    cluster: 'prod',
    service: 'api',
    taskDefinition: 'api:3',
    launchType: 'FARGATE',
    desiredCount: 2,
  };
  const judge = (resource: EcsServiceResource | RdsInstanceResource, series: Record<string, Point[]>, sizing = {}) => {
    const metrics = metricSpecs(resource, thresholds).map((spec) => analyzeMetric(spec, series[spec.metric] ?? [], window14, 30).analysis);
    return judgeResource(resource, metrics, thresholds, sizing);
  };

  it('an idle Fargate service is over-provisioned, with a real smaller Fargate size', () => {
    const r = judge(svc, { cpu: hourly(() => 8), memory: hourly(() => 20) }, { taskSize: { cpu: 1024, memoryMiB: 4096 } });
    expect(r.status).toBe('over-provisioned');
    // needs cpu ≥ 1024×8/70 = 117 units and memory ≥ 4096×20/80 = 1024 MiB → 0.25 vCPU / 1 GB
    expect(r.suggestion).toBe('1 vCPU / 4 GB → 0.25 vCPU / 1 GB (task cpu 256, memory 1024)');
    expect(FARGATE_SIZES).toContainEqual({ cpu: 256, memoryMiB: 1024 });
  });

  it('a busy service is at risk on the metric that crosses first', () => {
    const r = judge(svc, { cpu: hourly((d) => 30 + 2 * d), memory: hourly(() => 50) });
    expect(r).toMatchObject({ status: 'at-risk', metric: 'cpu' });
    expect(r.daysToThreshold).toBeCloseTo(6, 1);
  });

  it('no memory metric: insufficient data, not a guess', () => {
    const r = judge(svc, { cpu: hourly(() => 8) });
    expect(r.status).toBe('insufficient-data');
    expect(r.detail).toMatch(/Memory: no data points/);
  });

  it('RDS: storage judged as % in use against allocated; connections against 80% of the engine default', () => {
    const db: RdsInstanceResource = {
      kind: 'rds-instance',
      id: 'orders',
      instanceClass: 'db.r6g.large',
      engine: 'postgres',
      allocatedStorageGiB: 100,
      clusterIdentifier: null,
    };
    const GIB = 1024 ** 3;
    // free storage falls 2 GiB/day from 60 GiB → 32 GiB at the end; 20 GiB free (80% used) in 6 days
    const r = judge(db, {
      cpu: hourly(() => 30),
      memory: hourly(() => 10 * GIB),
      storage: hourly((d) => (60 - 2 * d) * GIB),
      connections: hourly(() => 100),
    });
    expect(r).toMatchObject({ status: 'at-risk', metric: 'storage' });
    expect(r.daysToThreshold).toBeCloseTo(6, 1);
    const conn = r.metrics.find((m) => m.metric === 'connections')!;
    // 16 GiB / 9531392 = 1802 → 80% = 1442
    expect(maxConnections('postgres', 16)).toMatchObject({ value: 1802, formula: 'LEAST({DBInstanceClassMemory/9531392},5000)' });
    expect(conn.threshold).toBe(1442);
    expect(conn.thresholdBasis).toMatch(/LEAST\(\{DBInstanceClassMemory\/9531392\},5000\)/);
  });

  it('RDS classes step down within the family only as far as the load allows', () => {
    const big = rdsClassSize('db.r6g.4xlarge')!;
    expect(big).toMatchObject({ vcpu: 16, memoryGiB: 128 });
    // 10% CPU on 16 vCPU = 1.6 vCPU: at 2 vCPU that is 80% (over 70), at 4 vCPU 40% → xlarge
    expect(
      smallerRdsClass(big, { cpuP95: 10, memoryP95: 10, cpuThreshold: 70, memoryThreshold: 80, connectionsP95: 50, connectionsShare: 0.8, engine: 'mysql' })
        ?.instanceClass,
    ).toBe('db.r6g.xlarge');
    expect(
      smallerRdsClass(rdsClassSize('db.t3.micro')!, {
        cpuP95: 1,
        memoryP95: 1,
        cpuThreshold: 70,
        memoryThreshold: 80,
        connectionsP95: null,
        connectionsShare: 0.8,
        engine: 'mysql',
      }),
    ).toBeNull();
    expect(maxConnections('mysql', 8)?.value).toBe(682);
    expect(maxConnections('sqlserver-se', 8)).toBeNull();
  });

  it('Fargate: no smaller size when the load would not fit', () => {
    expect(smallerFargateSize({ cpu: 256, memoryMiB: 512 }, { cpuP95: 10, memoryP95: 10, cpuThreshold: 70, memoryThreshold: 80 })).toBeNull();
  });
});
