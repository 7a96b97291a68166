/**
 * The capacity arithmetic, as pure functions over recorded points: percentiles, a least-squares
 * trend, the day that trend crosses a threshold, and the verdict for one series. No clock and no
 * AWS here, so every answer can be checked against a series whose answer is known.
 *
 * A series too thin to say anything gets `insufficient` and null figures where a figure would be
 * a guess: a capacity report that invents a number is worse than one that says "no data".
 */

export interface Point {
  /** Epoch milliseconds. */
  t: number;
  v: number;
}

export const DAY_MS = 86_400_000;

/** Linear-interpolation percentile (the "type 7" estimator spreadsheets use); null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  return percentileOfSorted(Float64Array.from(values).sort(), p);
}

/** The same, over values already in ascending order (sort once, read many percentiles). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  if (sorted.length === 1) return sorted[0];
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export interface Trend {
  /** Change per day, in the series' unit. */
  slopePerDay: number;
  /** The fitted value at `atMs`. */
  valueAt(atMs: number): number;
}

/** Ordinary least squares of v on t; null with fewer than two distinct instants. */
export function leastSquares(points: readonly Point[]): Trend | null {
  if (points.length < 2) return null;
  // Centred on the first instant and in days, so large epoch values do not cost precision.
  const t0 = points[0].t;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += (p.t - t0) / DAY_MS;
    sy += p.v;
  }
  const n = points.length;
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const dx = (p.t - t0) / DAY_MS - mx;
    sxx += dx * dx;
    sxy += dx * (p.v - my);
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  return { slopePerDay: slope, valueAt: (atMs) => intercept + slope * ((atMs - t0) / DAY_MS) };
}

export interface SeriesWindow {
  startMs: number;
  endMs: number;
  periodSeconds: number;
}

export interface SeriesRules {
  /** The value at or above which the resource is short of room. */
  threshold: number | null;
  forecastDays: number;
}

export type SeriesVerdict = 'at-risk' | 'ok' | 'insufficient-data';

export interface SeriesStats {
  points: number;
  /** Points found ÷ periods in the window, 0–1. */
  coverage: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** Least-squares change per day; null when the data is too thin to fit a trend honestly. */
  slopePerDay: number | null;
  /** The trend's value at the end of the window. */
  trendNow: number | null;
  threshold: number | null;
  /** Days from the end of the window until the trend reaches the threshold: 0 when already there, null when it never does (or unknown). */
  daysToThreshold: number | null;
  /** ISO date of that crossing; null when none. */
  crossesAt: string | null;
  verdict: SeriesVerdict;
  /** Why the verdict is what it is, in words for the report. */
  reason: string;
}

/** Fewer points than this, or less of the window covered, and no trend or verdict is drawn. */
export const MIN_POINTS = 3;
export const MIN_COVERAGE = 0.5;

/**
 * Statistics and verdict of one metric of one resource over the lookback window, from every
 * per-period point. At risk when the p95 is at or over the threshold, or when the trend reaches
 * it within `forecastDays`.
 */
export function analyzeSeries(raw: readonly Point[], window: SeriesWindow, rules: SeriesRules): SeriesStats {
  const points = raw.filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
  const expected = Math.max(1, Math.floor((window.endMs - window.startMs) / (window.periodSeconds * 1000)));
  // A typed array sorts numerically and fast; one sort serves every percentile and the max.
  const sorted = Float64Array.from(points, (p) => p.v).sort();
  return judgeSeries(
    {
      points: points.length,
      coverage: Math.min(1, points.length / expected),
      p50: percentileOfSorted(sorted, 50),
      p95: percentileOfSorted(sorted, 95),
      max: sorted.length ? sorted[sorted.length - 1] : null,
      trendPoints: points,
    },
    window,
    rules,
  );
}

/**
 * What CloudWatch aggregated for one series (`aggregated` statistics): percentiles and the
 * extreme over the whole lookback, computed server-side, and coarse points (one per trend
 * bucket, e.g. a day) placed at the mean time of the periods they cover, for the trend.
 */
export interface AggregatedSeries {
  p50: number | null;
  p95: number | null;
  max: number | null;
  trendPoints: readonly Point[];
  /** Trend buckets the window holds (the coverage's denominator). */
  expectedTrendPoints: number;
}

/** The same statistics and verdict as `analyzeSeries`, from what CloudWatch aggregated. */
export function analyzeAggregated(agg: AggregatedSeries, window: SeriesWindow, rules: SeriesRules): SeriesStats {
  const points = agg.trendPoints.filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t)).sort((a, b) => a.t - b.t);
  // No percentile without data: a window statistic over an empty window is not a figure.
  const empty = points.length === 0;
  return judgeSeries(
    {
      points: points.length,
      coverage: Math.min(1, points.length / Math.max(1, agg.expectedTrendPoints)),
      p50: empty ? null : agg.p50,
      p95: empty ? null : agg.p95,
      max: empty ? null : agg.max,
      trendPoints: points,
    },
    window,
    rules,
  );
}

interface SeriesSummary {
  points: number;
  coverage: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** In time order. */
  trendPoints: readonly Point[];
}

function judgeSeries(summary: SeriesSummary, window: SeriesWindow, rules: SeriesRules): SeriesStats {
  const { points, trendPoints } = summary;
  const base = {
    points,
    coverage: round(summary.coverage, 3),
    p50: roundOrNull(summary.p50),
    p95: roundOrNull(summary.p95),
    max: roundOrNull(summary.max),
    threshold: rules.threshold,
  };
  if (points < MIN_POINTS || summary.coverage < MIN_COVERAGE) {
    return {
      ...base,
      slopePerDay: null,
      trendNow: null,
      daysToThreshold: null,
      crossesAt: null,
      verdict: 'insufficient-data',
      reason:
        points === 0
          ? 'no data points in the lookback window'
          : `${points} data point${points === 1 ? '' : 's'} cover ${Math.round(summary.coverage * 100)}% of the lookback (need ≥ ${MIN_POINTS} points and ≥ ${MIN_COVERAGE * 100}%)`,
    };
  }
  const trend = leastSquares(trendPoints)!;
  const trendNow = trend.valueAt(window.endMs);
  const out: SeriesStats = {
    ...base,
    slopePerDay: round(trend.slopePerDay, 4),
    trendNow: round(trendNow),
    daysToThreshold: null,
    crossesAt: null,
    verdict: 'ok',
    reason: '',
  };
  if (rules.threshold === null) {
    out.reason = 'no threshold for this metric: figures only';
    return out;
  }
  const days = daysUntil(trendNow, trend.slopePerDay, rules.threshold);
  out.daysToThreshold = days === null ? null : round(days, 1);
  out.crossesAt = days === null ? null : new Date(window.endMs + days * DAY_MS).toISOString().slice(0, 10);
  if (base.p95 !== null && base.p95 >= rules.threshold) {
    out.verdict = 'at-risk';
    out.reason = `p95 ${base.p95} is at or over the threshold ${round(rules.threshold)}`;
  } else if (days !== null && days <= rules.forecastDays) {
    out.verdict = 'at-risk';
    out.reason =
      days === 0
        ? `the trend is already at the threshold ${round(rules.threshold)}`
        : `the trend (+${round(trend.slopePerDay, 3)}/day) reaches ${round(rules.threshold)} in ${round(days, 1)} days (${out.crossesAt}), within the ${rules.forecastDays}-day forecast`;
  } else {
    out.reason =
      days === null
        ? `p95 ${base.p95} under ${round(rules.threshold)} and the trend is not rising toward it`
        : `p95 ${base.p95} under ${round(rules.threshold)}; the trend reaches it in ${round(days, 1)} days, beyond the ${rules.forecastDays}-day forecast`;
  }
  return out;
}

/** Days until a line at `now` rising `slope` per day reaches `threshold`; 0 when already there, null when never. */
export function daysUntil(now: number, slopePerDay: number, threshold: number): number | null {
  if (now >= threshold) return 0;
  if (!(slopePerDay > 0)) return null;
  const days = (threshold - now) / slopePerDay;
  // A flat series' fitted slope can be rounding noise (1e-16/day): a crossing centuries away is no crossing.
  return days > MAX_FORECAST_DAYS ? null : days;
}

/** Beyond this, a crossing is reported as none (and stays a date JavaScript can write). */
export const MAX_FORECAST_DAYS = 36_500;

/**
 * At most `maxPoints` points for a chart: the mean of each run of consecutive points, at the
 * run's mean time. Keeps the stored report small however long the lookback is.
 */
export function downsample(points: readonly Point[], maxPoints: number): Point[] {
  if (points.length <= maxPoints) return points.map((p) => ({ t: p.t, v: round(p.v) }));
  const out: Point[] = [];
  const size = points.length / maxPoints;
  for (let i = 0; i < maxPoints; i++) {
    const slice = points.slice(Math.floor(i * size), Math.floor((i + 1) * size));
    if (slice.length === 0) continue;
    const t = slice.reduce((s, p) => s + p.t, 0) / slice.length;
    const v = slice.reduce((s, p) => s + p.v, 0) / slice.length;
    out.push({ t: Math.round(t), v: round(v) });
  }
  return out;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : round(value);
}
