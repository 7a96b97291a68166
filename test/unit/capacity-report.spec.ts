import type { CapacitySection } from '../../src/capacity/capacity.types';
import { renderHtml } from '../../src/reports/report-html.renderer';
import { renderMarkdown } from '../../src/reports/report-markdown.renderer';
import { buildRunReport } from '../../src/reports/run-report.builder';
import { lineChartSvg, niceRange } from '../../src/reports/svg-charts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-08T00:00:00Z');

describe('lineChartSvg', () => {
  it('draws the measured line, a dashed forecast and a labelled threshold, with date and unit ticks', () => {
    const svg = lineChartSvg({
      title: 'api — CPU',
      unit: '%',
      series: [
        { label: 'measured', points: [0, 1, 2, 3].map((d) => ({ t: T0 + d * DAY, v: 40 + 5 * d })) },
        {
          label: 'forecast',
          points: [
            { t: T0 + 3 * DAY, v: 55 },
            { t: T0 + 6 * DAY, v: 70 },
          ],
          dashed: true,
        },
      ],
      thresholds: [{ value: 70, label: 'threshold 70%' }],
    }).toString();
    expect(svg).toMatch(/^<svg class="chart line-chart"/);
    expect(svg).toContain('aria-label="api — CPU"');
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toMatch(/<path class="line dashed"[^>]*stroke-dasharray="6 4"/);
    expect(svg).toContain('>threshold 70%</text>');
    expect(svg).toContain('>11-09</text>'); // a date tick
    expect(svg).toContain('>80%</text>'); // a value tick with its unit
  });

  it('breaks the line across a gap instead of drawing through missing data', () => {
    const pts = [0, 1, 2, 10, 11, 12].map((h) => ({ t: T0 + h * 3_600_000, v: h }));
    const d = /<path [^>]*d="([^"]+)"/.exec(lineChartSvg({ title: 'x', series: [{ label: 's', points: pts }] }).toString())![1];
    expect(d.match(/M/g)).toHaveLength(2);
  });

  it('says "no data" rather than drawing an empty frame, and escapes titles', () => {
    const svg = lineChartSvg({ title: '<script>x</script>', series: [{ label: 's', points: [] }] }).toString();
    expect(svg).toContain('No data points.');
    expect(svg).not.toContain('<script>');
  });

  it('picks round axis ranges', () => {
    expect(niceRange(0, 87)).toEqual([0, 100, 20]);
    expect(niceRange(3, 3)).toEqual([3, 4, 0.2]);
  });
});

describe('the capacity section of the shared report', () => {
  const capacity: CapacitySection = {
    region: 'eu-west-1',
    window: { start: '2026-11-08T00:00:00.000Z', end: '2026-11-22T00:00:00.000Z', lookbackDays: 14, periodSeconds: 3600, forecastDays: 30 },
    thresholds: { cpuPercent: 70, memoryPercent: 80, freeStoragePercent: 20, connectionsPercent: 80 },
    counts: { resources: 2, atRisk: 1, overProvisioned: 0, insufficientData: 1, ok: 0 },
    resources: [
      {
        id: 'shop/<b>checkout</b>',
        kind: 'ecs-service',
        size: null,
        status: 'at-risk',
        daysToThreshold: 3,
        metric: 'cpu',
        detail: 'CPU: rising',
        suggestion: null,
        metrics: [
          {
            metric: 'cpu',
            label: 'CPU',
            unit: '%',
            source: 'AWS/ECS CPUUtilization (Average)',
            thresholdBasis: 'CPU 70%',
            points: 336,
            coverage: 1,
            p50: 47,
            p95: 54,
            max: 55,
            slopePerDay: 5,
            trendNow: 55,
            threshold: 70,
            daysToThreshold: 3,
            crossesAt: '2026-11-25',
            verdict: 'at-risk',
            reason: 'rising',
          },
        ],
      },
      {
        id: 'db-2',
        kind: 'rds-instance',
        size: 'db.r6g.large',
        status: 'insufficient-data',
        daysToThreshold: null,
        metric: 'cpu',
        detail: 'CPU: no data points in the lookback window',
        suggestion: null,
        metrics: [],
      },
    ],
    findings: [],
    charts: [
      {
        resourceId: 'shop/<b>checkout</b>',
        metric: 'cpu',
        title: 'shop/<b>checkout</b> — CPU',
        unit: '%',
        points: [
          { t: T0, v: 40 },
          { t: T0 + 14 * DAY, v: 55 },
        ],
        forecast: [
          { t: T0 + 14 * DAY, v: 55 },
          { t: T0 + 17 * DAY, v: 70 },
        ],
        threshold: 70,
        thresholdLabel: 'threshold 70%',
      },
    ],
    chartsOmitted: 0,
    awsCalls: { 'ecs:ListClusters': 1, 'cloudwatch:GetMetricData': 1 },
    cost: {
      getMetricDataCalls: 1,
      batches: 1,
      metricsRequested: 8,
      usdPerThousandMetrics: 0.01,
      usd: 0.00008,
      assumption: '$0.01 per 1,000 metrics requested',
    },
    notes: ['read me'],
  };
  const report = buildRunReport(
    {
      id: 'r1',
      runbookId: 'capacity-report',
      runbookTitle: 'Capacity report',
      state: 'succeeded',
      outcome: 'succeeded',
      dryRun: false,
      reason: null,
      trigger: { kind: 'manual', actor: 'otto' },
      parameters: {},
      error: null,
      createdAt: '2026-11-22T00:00:00Z',
      startedAt: '2026-11-22T00:00:01Z',
      endedAt: '2026-11-22T00:00:02Z',
    },
    [
      {
        stepId: 'analyze',
        uses: 'capacity.analyze-metrics',
        phase: 'main',
        position: 1,
        mutates: false,
        state: 'succeeded',
        attempts: 1,
        startedAt: '2026-11-22T00:00:01Z',
        endedAt: '2026-11-22T00:00:02Z',
        output: { capacity },
        error: null,
        note: null,
      },
    ],
    new Date('2026-11-22T00:00:03Z'),
  );

  it('comes from the step output and is kept in the JSON report', () => {
    expect(report.capacity?.counts.atRisk).toBe(1);
    expect(
      buildRunReport({ ...report.run, id: 'r2', runbookId: 'x', runbookTitle: 'x', createdAt: null, startedAt: null, endedAt: null }, [], new Date()).capacity,
    ).toBeUndefined();
  });

  it('HTML: counts, calls, cost, the summary table and one chart per charted metric, recorded names escaped', () => {
    const page = renderHtml(report);
    expect(page).toContain('id="capacity-summary"');
    expect(page).toContain('ecs:ListClusters ×1');
    expect(page).toContain('$0.00008');
    expect(page.match(/<svg class="chart line-chart"/g)).toHaveLength(1);
    expect(page).toContain('shop/&lt;b&gt;checkout&lt;/b&gt;');
    expect(page).not.toContain('<b>checkout</b>');
  });

  it('Markdown: the summary table with days to threshold and plain "insufficient data"', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('## Capacity');
    expect(md).toMatch(/\| shop\/&lt;b&gt;checkout&lt;\/b&gt; \| — \| at risk \| CPU \| 47% \| 54% \| 55% \| 70% \| 3 d \|/);
    expect(md).toMatch(/\| db-2 \| db\.r6g\.large \| insufficient data \|/);
  });
});
