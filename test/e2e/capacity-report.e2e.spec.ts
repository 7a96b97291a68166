import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createEcsServices, hourlyPoints, putMetricHistory, type MetricHistory } from '../../scripts/sandbox/seed-metrics';
import { launchChromium } from '../support/browser';
import { Harness, REGION, ROOT } from '../support/runbookd';

/**
 * The capacity report end to end: moto holds the sandbox estate (an Aurora cluster and a
 * Multi-AZ PostgreSQL instance), four ECS services in a cluster of its own (the sandbox's own ECS
 * service lives in `shop`) and three days of hourly metric history
 * written with PutMetricData; a run goes through the API, the queue and the engine, and the
 * report must name exactly what was seeded. Three days, not fourteen: moto's GetMetricData
 * scans every stored point for every query and period, so a long history makes it slow without
 * testing anything more.
 */
const GIB = 1024 ** 3;
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

describe('capacity-report against moto', () => {
  let h: Harness;
  let runId: string;
  let report: any;

  beforeAll(async () => {
    h = await Harness.start({ role: 'all' });
    const target = { endpoint: h.moto.endpoint, region: REGION };
    await createEcsServices(target, [
      { cluster: 'retail', service: 'checkout', cpu: 1024, memoryMiB: 2048 },
      { cluster: 'retail', service: 'catalog', cpu: 1024, memoryMiB: 4096 },
      { cluster: 'retail', service: 'search', cpu: 512, memoryMiB: 1024 },
      { cluster: 'retail', service: 'reports', cpu: 256, memoryMiB: 512 },
    ]);
    const now = Date.now();
    const hours = 72;
    const ecs = (service: string, metricName: string, f: (d: number) => number): MetricHistory => ({
      namespace: 'AWS/ECS',
      metricName,
      unit: 'Percent',
      dimensions: { ClusterName: 'retail', ServiceName: service },
      points: hourlyPoints(now, hours, f),
    });
    const rds = (id: string, metricName: string, f: (d: number) => number): MetricHistory => ({
      namespace: 'AWS/RDS',
      metricName,
      dimensions: { DBInstanceIdentifier: id },
      points: hourlyPoints(now, hours, f),
    });
    await putMetricHistory(target, [
      // checkout: CPU 40% rising 5 points a day → 55% now, 70% in 3 days: at risk within the 30-day forecast
      ecs('checkout', 'CPUUtilization', (d) => 40 + 5 * d),
      ecs('checkout', 'MemoryUtilization', () => 50),
      // catalog: idle on 1 vCPU / 4 GB → over-provisioned, 0.25 vCPU / 1 GB is enough
      ecs('catalog', 'CPUUtilization', (d) => 5 + (d % 1 < 0.5 ? 1 : -1)),
      ecs('catalog', 'MemoryUtilization', () => 15),
      // search: steady and comfortable
      ecs('search', 'CPUUtilization', () => 45),
      ecs('search', 'MemoryUtilization', () => 55),
      // reports: no metrics at all → insufficient data
      // billing-postgres (db.m6g.large, 100 GiB): free storage falls 2 GiB/day from 40 GiB → 20 GiB free (80% used) in ~7 days
      rds('billing-postgres', 'CPUUtilization', () => 30),
      rds('billing-postgres', 'FreeStorageSpace', (d) => (40 - 2 * d) * GIB),
      rds('billing-postgres', 'FreeableMemory', () => 3 * GIB),
      rds('billing-postgres', 'DatabaseConnections', () => 120),
      rds('billing-postgres', 'ReadIOPS', () => 300),
      rds('billing-postgres', 'WriteIOPS', () => 150),
      // orders-aurora-1 (db.r6g.large, 16 GiB): idle writer → over-provisioned, but no smaller r6g exists
      rds('orders-aurora-1', 'CPUUtilization', () => 6),
      rds('orders-aurora-1', 'FreeableMemory', () => 13 * GIB),
      rds('orders-aurora-1', 'DatabaseConnections', () => 12),
      // orders-aurora-2: no metrics → insufficient data
    ]);

    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', {
      key: h.keys.operator,
      // Scoped to what this file seeded, so resources other suites add to the sandbox estate cannot change the answer.
      body: {
        parameters: { lookbackDays: 3, period: 3600, scope: { ecsClusters: ['retail'], rdsClusters: ['orders-aurora'], rdsInstances: ['billing-postgres'] } },
        reason: 'weekly capacity look',
      },
    });
    expect(res.status).toBe(202);
    runId = res.body.id;
    const run = await h.waitForRun(runId, undefined, 90_000);
    expect(run.state).toBe('succeeded');
    report = (await h.request('GET', `/v1/runs/${runId}/report`)).body;
  }, 180_000);

  afterAll(async () => h?.close());

  it('finds what was seeded: at risk, over-provisioned with a real smaller size, insufficient data', () => {
    const cap = report.capacity;
    const status = Object.fromEntries(cap.resources.map((r: any) => [r.id, r.status]));
    expect(status).toEqual({
      'retail/checkout': 'at-risk',
      'retail/catalog': 'over-provisioned',
      'retail/search': 'ok',
      'retail/reports': 'insufficient-data',
      'billing-postgres': 'at-risk',
      'orders-aurora-1': 'over-provisioned',
      'orders-aurora-2': 'insufficient-data',
    });
    const byId = (id: string) => cap.resources.find((r: any) => r.id === id);

    const checkout = byId('retail/checkout');
    expect(checkout.metric).toBe('cpu');
    // The hour the run starts in shifts the window end by under an hour: 3 days, give or take a little.
    expect(checkout.daysToThreshold).toBeGreaterThan(2.8);
    expect(checkout.daysToThreshold).toBeLessThan(3.3);
    const checkoutCpu = checkout.metrics.find((m: any) => m.metric === 'cpu');
    expect(checkoutCpu.slopePerDay).toBeCloseTo(5, 1);

    const billing = byId('billing-postgres');
    expect(billing.metric).toBe('storage');
    expect(billing.daysToThreshold).toBeGreaterThan(6.8);
    expect(billing.daysToThreshold).toBeLessThan(7.4);
    const conn = billing.metrics.find((m: any) => m.metric === 'connections');
    // 8 GiB postgres: LEAST(8 GiB / 9531392, 5000) = 901 → 80% = 721
    expect(conn.threshold).toBe(721);
    expect(conn.thresholdBasis).toContain('LEAST({DBInstanceClassMemory/9531392},5000)');

    expect(byId('retail/catalog').suggestion).toBe('1 vCPU / 4 GB → 0.25 vCPU / 1 GB (task cpu 256, memory 1024)');
    expect(byId('retail/catalog').size).toBe('1 vCPU / 4 GB');
    expect(byId('orders-aurora-1').suggestion).toMatch(/no smaller r6g class/);
    expect(byId('retail/reports').detail).toMatch(/no data points/);
    // Insufficient data comes with no invented figure.
    expect(byId('orders-aurora-2').metrics.every((m: any) => m.p95 === null && m.daysToThreshold === null)).toBe(true);

    // Sorted by days to threshold: the two at risk lead, soonest first.
    expect(cap.resources.slice(0, 2).map((r: any) => r.id)).toEqual(['retail/checkout', 'billing-postgres']);
    expect(cap.findings.map((f: any) => [f.resourceId, f.finding])).toEqual(
      expect.arrayContaining([
        ['retail/checkout', 'at-risk'],
        ['billing-postgres', 'at-risk'],
        ['retail/catalog', 'over-provisioned'],
        ['retail/reports', 'insufficient-data'],
      ]),
    );
    expect(cap.findings).toHaveLength(6);
  });

  it('states the AWS calls it made, matching what reached AWS, and what CloudWatch charged', () => {
    const cap = report.capacity;
    // The proxy names services by their SigV4 signing name: CloudWatch signs as "monitoring".
    for (const [op, n] of Object.entries(cap.awsCalls)) expect([op, h.proxy.count(op.replace(/^cloudwatch:/, 'monitoring:'))]).toEqual([op, n]);
    expect(cap.awsCalls['cloudwatch:GetMetricData']).toBe(1);
    // A named cluster needs no ListClusters.
    expect(cap.awsCalls['ecs:ListClusters']).toBeUndefined();
    expect(cap.awsCalls['ecs:DescribeServices']).toBe(1);
    // one task definition read: only catalog looked idle
    expect(cap.awsCalls['ecs:DescribeTaskDefinition']).toBe(1);
    // 4 services × 2 + billing 6 + two Aurora instances × 5 (no storage metric on Aurora)
    expect(cap.cost.metricsRequested).toBe(24);
    expect(cap.cost.usd).toBeCloseTo(0.00024, 6);
    expect(cap.cost.assumption).toContain('$0.01 per 1,000 metrics');
  });

  it('with no scope covers everything discovered in the region', async () => {
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.operator, body: { parameters: { lookbackDays: 3 } } });
    const run = await h.waitForRun(res.body.id, undefined, 90_000);
    expect(run.state).toBe('succeeded');
    const cap = (await h.request('GET', `/v1/runs/${run.id}/report`)).body.capacity;
    const ids = cap.resources.map((r: any) => r.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'retail/checkout',
        'retail/catalog',
        'retail/search',
        'retail/reports',
        'billing-postgres',
        'orders-aurora-1',
        'orders-aurora-2',
      ]),
    );
    expect(cap.resources.find((r: any) => r.id === 'retail/checkout').status).toBe('at-risk');
    expect(cap.awsCalls['ecs:ListClusters']).toBeGreaterThanOrEqual(1);
  });

  it('lists scope names that match nothing, and still reports the rest', async () => {
    const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', {
      key: h.keys.operator,
      body: { parameters: { lookbackDays: 3, scope: { ecsClusters: ['no-such-cluster'], rdsInstances: ['billing-postgres', 'ghost-db'] } } },
    });
    const run = await h.waitForRun(res.body.id, undefined, 90_000);
    expect(run.state).toBe('succeeded');
    const cap = (await h.request('GET', `/v1/runs/${run.id}/report`)).body.capacity;
    expect(cap.resources.map((r: any) => r.id)).toEqual(['billing-postgres']);
    expect(cap.notes).toEqual(
      expect.arrayContaining(['Named in the scope but not found: ecs cluster no-such-cluster.', 'Named in the scope but not found: rds instance ghost-db.']),
    );
  });

  it('refuses a period CloudWatch does not offer here, naming the parameter', async () => {
    const bad = await h.request('POST', '/v1/runbooks/capacity-report/runs', { key: h.keys.operator, body: { parameters: { period: 60 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.errors[0].field).toBe('period');
  });

  it('renders Markdown with the summary table, and HTML with charts that a browser draws', async () => {
    const md = (await h.request('GET', `/v1/runs/${runId}/report?format=md`)).text;
    expect(md).toContain('## Capacity');
    expect(md).toMatch(/\| retail\/checkout \|.*at risk/);
    expect(md).toContain('GetMetricData ×1');

    const page = (await h.request('GET', `/v1/runs/${runId}/report?format=html`)).text;
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'capacity-report.html');
    await writeFile(file, page);

    const browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const tab = await context.newPage();
      const requests: string[] = [];
      tab.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await tab.goto(`file://${file}`);
      // checkout CPU, billing storage, catalog CPU + memory, aurora-1 CPU + memory
      const charts = tab.locator('#capacity-charts svg.line-chart');
      expect(await charts.count()).toBe(6);
      const first = charts.first();
      expect(await first.getAttribute('aria-label')).toBe('retail/checkout — CPU');
      expect(await first.locator('.threshold line').count()).toBe(1);
      expect(await first.locator('.threshold-label').textContent()).toBe('threshold 70%');
      expect(await first.locator('path.dashed').count()).toBe(1);
      const box = await first.boundingBox();
      expect(box!.width).toBeGreaterThan(600);
      expect(box!.height).toBeGreaterThan(150);
      // The summary table leads with the soonest to run out.
      expect(await tab.locator('table.capacity-summary tbody tr').first().locator('code').textContent()).toBe('retail/checkout');
      expect(requests).toEqual([]);
      await tab.screenshot({ path: path.join(ARTIFACTS, 'capacity-report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
    expect(existsSync(path.join(ARTIFACTS, 'capacity-report.png'))).toBe(true);
  }, 60_000);
});
