/**
 * Capacity report benchmark: 500 ECS services × 2 metrics (CPU, memory) over 14 days hourly
 * (336,000 data points), the capacity-report runbook run end to end by the real app (role all:
 * API, queue, engine, PostgreSQL, report rendering). Measures the report's wall time and the
 * GetMetricData calls it needed. Targets: ≤ 5 s, 2 calls per page.
 *
 *   npm run bench:capacity
 *
 * What runs where: ECS (clusters, services, task definitions) is moto, and the whole metric
 * history is written into moto with PutMetricData (timed: the seeding cost). GetMetricData is
 * answered by bench/capacity/cloudwatch-stand-in.ts (a process of its own, as CloudWatch is remote) from the same series, with CloudWatch's
 * limits (500 queries per call, 100,800 data points per response, NextToken): moto's
 * GetMetricData scans every stored point for every query and period, so at this size it would
 * take hours (the bench measures that scaling at small sizes and prints it).
 *
 * Writes bench/results/capacity-<timestamp>.json and capacity-latest.json and rewrites the
 * "Capacity report" section of docs/performance.md. A benchmark, not a test: exits 0 when a
 * target is missed (and says so), non-zero only when the bench itself fails.
 *
 * Knobs (environment): BENCH_SERVICES (500), BENCH_DAYS (14), BENCH_RUNS (3 measured, after one
 * warm-up), BENCH_MOTO_PROBE ("2,5,10" services; "" skips), BENCH_SEED_MOTO_METRICS (1; 0 skips
 * writing the history into moto), BENCH_WRITE_DOCS (1).
 */
import 'reflect-metadata';
import '../../test/support/jest-setup';
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { createEcsServices, putMetricHistory } from '../../scripts/sandbox/seed-metrics';
import { Harness, REGION } from '../../test/support/runbookd';
import { CpuReference, describeReference, normalize, printNormalized, referenceTable } from '../cpu-reference';
import { writeDocSection } from '../engine/doc-section';
import { forkCloudWatchStandIn } from './cloudwatch-stand-in';
import { CLUSTERS, metricsFor, scenarioSeries, scenarioServices } from './scenario';

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const DOC_SECTION_ID = 'bench:capacity';
const TARGET = { wallSeconds: 5, callsPerPage: 2 };

const SERVICES = intEnv('BENCH_SERVICES', 5000, 1);
const DAYS = intEnv('BENCH_DAYS', 14, 1);
const RUNS = intEnv('BENCH_RUNS', 3, 1);
const PROBE = (process.env.BENCH_MOTO_PROBE ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map(Number);
// Writing 3.4 million points into moto takes minutes and nothing reads them back (GetMetricData is the stand-in's).
const SEED_MOTO_METRICS = process.env.BENCH_SEED_MOTO_METRICS === '1';
const WRITE_DOCS = process.env.BENCH_WRITE_DOCS !== '0';

interface RunFigures {
  wallSeconds: number;
  /** CPU the bench process (API, worker, engine, report; not moto, not PostgreSQL) spent on the run. */
  appCpuSeconds: number;
  /** 1-minute load average when the run ended: the machine is shared, and a busy one stretches wall time. */
  loadAvg1m: number;
  discoverSeconds: number;
  analyzeSeconds: number;
  htmlSeconds: number;
  htmlBytes: number;
  storedOutputBytes: number;
  getMetricDataCalls: number;
  batches: number;
  awsCalls: Record<string, number>;
  counts: Record<string, number>;
  charts: number;
  costUsd: number;
  statistics: 'cloudwatch' | 'local';
  /** Data points CloudWatch (the stand-in) returned for the report, and per service. */
  datapoints: number;
  datapointsPerService: number;
  /** resourceId finding metric suggestion, sorted: what must not change with who computes the statistics. */
  findings: string[];
}

async function main(): Promise<void> {
  const started = performance.now();
  const reference = await CpuReference.start();
  const now = Date.now();
  const hours = DAYS * 24;
  const scenario = { services: SERVICES, hours, now };
  const services = scenarioServices(scenario);
  const series = scenarioSeries(scenario);
  const points = series.reduce((n, s) => n + s.points.length, 0);
  console.log(`capacity bench: ${SERVICES} services × 2 metrics × ${hours} h = ${points} points`);

  const standIn = await forkCloudWatchStandIn(scenario);
  const h = await Harness.start({
    role: 'all',
    seed: false,
    env: {
      AWS_ENDPOINT_URL_CLOUDWATCH: standIn.endpoint,
      RUNBOOKD_LOG_LEVEL: 'warn',
      // Production lock and reconcile settings: the harness's 1–2 s (for fast crash tests) would
      // count a busy machine's GC pause as a dead worker and re-run the step.
      RUNBOOKD_WORKER_LOCK_MS: '30000',
      RUNBOOKD_WORKER_STALLED_INTERVAL_MS: '30000',
      RUNBOOKD_RECONCILE_INTERVAL_MS: '30000',
    },
  });
  try {
    const target = { endpoint: h.moto.endpoint, region: REGION };
    let t = performance.now();
    await createEcsServices(target, services);
    const ecsSeedSeconds = (performance.now() - t) / 1000;
    let metricSeed: { seconds: number; requests: number; pointsPerSecond: number } | null = null;
    if (SEED_MOTO_METRICS) {
      t = performance.now();
      const requests = await putMetricHistory(target, series);
      const seconds = (performance.now() - t) / 1000;
      metricSeed = { seconds: round(seconds, 1), requests, pointsPerSecond: Math.round(points / seconds) };
      console.log(`seeded moto: ECS ${ecsSeedSeconds.toFixed(1)} s; ${points} points in ${requests} PutMetricData requests, ${seconds.toFixed(1)} s`);
    }

    const runs: RunFigures[] = [];
    let warmUpSeconds = 0;
    const measured = async (statistics: 'cloudwatch' | 'local') => {
      const before = await standIn.stats();
      const fig = await oneRun(h, statistics);
      const after = await standIn.stats();
      if (fig.getMetricDataCalls !== after.requests - before.requests) {
        throw new Error(`report says ${fig.getMetricDataCalls} GetMetricData calls, CloudWatch answered ${after.requests - before.requests}`);
      }
      fig.datapoints = after.datapoints - before.datapoints;
      fig.datapointsPerService = round(fig.datapoints / SERVICES, 1);
      return fig;
    };
    const show = (label: string, fig: RunFigures) =>
      console.log(
        `${label} (${fig.statistics}): ${fig.wallSeconds.toFixed(2)} s, app CPU ${fig.appCpuSeconds} s, load ${fig.loadAvg1m} (discover ${fig.discoverSeconds.toFixed(2)} s, analyze ${fig.analyzeSeconds.toFixed(2)} s); ${fig.getMetricDataCalls} GetMetricData calls, ${fig.datapoints} points (${fig.datapointsPerService} per service); HTML ${fig.htmlSeconds.toFixed(2)} s`,
      );
    const warm = await measured('cloudwatch');
    warmUpSeconds = warm.wallSeconds;
    show('warm-up', warm);
    // Before: every hourly point fetched and analysed here, as the report did until CloudWatch aggregated.
    const before = await measured('local');
    show('before', before);
    for (let i = 0; i < RUNS; i++) {
      const fig = await measured('cloudwatch');
      runs.push(fig);
      show(`run ${i + 1}`, fig);
    }
    const changed = runs.filter((r) => JSON.stringify(r.findings) !== JSON.stringify(before.findings));
    const findingsCheck = {
      same: changed.length === 0,
      findings: before.findings.length,
      note: 'resourceId, finding, metric and suggestion of every finding, local (every hourly point) against CloudWatch-aggregated statistics',
    };
    if (!findingsCheck.same) {
      const a = new Set(before.findings);
      const diff = changed[0].findings.filter((f) => !a.has(f)).slice(0, 5);
      throw new Error(`findings changed with CloudWatch aggregating: ${diff.join(' | ')}`);
    }
    console.log(`findings: the same ${before.findings.length} findings either way`);

    const probe: Array<{ services: number; points: number; seconds: number }> = [];
    for (const n of PROBE) {
      await h.moto.reset();
      probe.push(await probeMoto(h.moto.endpoint, n, now, hours));
      console.log(`moto GetMetricData, ${n} services (${n * 2} queries, ${n * 2 * hours} points): ${probe[probe.length - 1].seconds.toFixed(2)} s`);
    }

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const wall = median(runs.map((r) => r.wallSeconds));
    const first = runs[0];
    const pages = first.getMetricDataCalls / first.batches;
    const cpuReference = await reference.finish();
    const normalized = normalize(cpuReference, {
      'report wall time (median)': { value: Math.round(wall * 1000), kind: 'ms' },
      'app CPU per report (median)': { value: Math.round(median(runs.map((r) => r.appCpuSeconds)) * 1000), kind: 'ms' },
    });
    const result = {
      bench: 'capacity',
      cpuReference,
      normalized,
      date: new Date().toISOString(),
      commit: gitCommit(),
      benchSeconds: round((performance.now() - started) / 1000, 1),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        node: process.version,
        loadAvg1m: round(os.loadavg()[0], 2),
      },
      scenario: { services: SERVICES, metrics: 2, days: DAYS, periodSeconds: 3600, points, queries: SERVICES * 2 },
      seeding: { ecsSeconds: round(ecsSeedSeconds, 1), metrics: metricSeed },
      warmUpSeconds: round(warmUpSeconds, 2),
      before: { ...before, findings: undefined },
      findingsCheck,
      runs: runs.map((r) => ({ ...r, findings: undefined })),
      summary: {
        wallSecondsMedian: round(wall, 2),
        wallSecondsMin: round(Math.min(...runs.map((r) => r.wallSeconds)), 2),
        wallSecondsMax: round(Math.max(...runs.map((r) => r.wallSeconds)), 2),
        appCpuSecondsMedian: round(median(runs.map((r) => r.appCpuSeconds)), 2),
        getMetricDataCalls: first.getMetricDataCalls,
        batches: first.batches,
        pagesPerBatch: pages,
        callsPerPage: first.batches,
        wallTarget: wall <= TARGET.wallSeconds ? 'met' : 'not met',
        callsTarget: first.getMetricDataCalls <= first.batches * TARGET.callsPerPage ? 'met' : 'not met',
      },
      motoGetMetricDataProbe: probe,
      target: TARGET,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = result.date.replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
    writeFileSync(path.join(RESULTS_DIR, `capacity-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(RESULTS_DIR, 'capacity-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    if (WRITE_DOCS) writeDocSection(DOC_SECTION_ID, docSection(result));
    console.log(describeReference(cpuReference));
    printNormalized(normalized);
    console.log(
      `\nwall time median ${wall.toFixed(2)} s (target ≤ ${TARGET.wallSeconds} s: ${result.summary.wallTarget}); ` +
        `${first.getMetricDataCalls} GetMetricData calls = ${first.batches} per page × ${pages} pages (target ${TARGET.callsPerPage} per page: ${result.summary.callsTarget})`,
    );
  } finally {
    await h.close();
    await standIn.stop();
  }
}

async function oneRun(h: Harness, statistics: 'cloudwatch' | 'local'): Promise<RunFigures> {
  const cpu0 = process.cpuUsage();
  const res = await h.request('POST', '/v1/runbooks/capacity-report/runs', {
    key: h.keys.operator,
    body: { parameters: { lookbackDays: DAYS, period: 3600, statistics } },
  });
  if (res.status !== 202) throw new Error(`run not accepted: ${res.status} ${res.text}`);
  const run = await h.waitForRun(res.body.id, undefined, 120_000);
  if (run.state !== 'succeeded') throw new Error(`run ${run.id} ${run.state}: ${JSON.stringify(run.error)}`);
  const cpu = process.cpuUsage(cpu0);
  const loadAvg1m = round(os.loadavg()[0], 2);
  const step = (id: string) => run.steps.find((s: any) => s.id === id);
  const analyze = step('analyze');
  const cap = analyze.output.capacity;
  const t = performance.now();
  const html = await h.request('GET', `/v1/runs/${run.id}/report?format=html`);
  const htmlSeconds = (performance.now() - t) / 1000;
  return {
    wallSeconds: (Date.parse(run.endedAt) - Date.parse(run.createdAt)) / 1000,
    appCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
    loadAvg1m,
    discoverSeconds: (step('discover').durationMs ?? 0) / 1000,
    analyzeSeconds: (analyze.durationMs ?? 0) / 1000,
    htmlSeconds: round(htmlSeconds, 3),
    htmlBytes: Buffer.byteLength(html.text),
    storedOutputBytes: Buffer.byteLength(JSON.stringify(analyze.output)) + Buffer.byteLength(JSON.stringify(step('discover').output)),
    getMetricDataCalls: cap.cost.getMetricDataCalls,
    batches: cap.cost.batches,
    awsCalls: cap.awsCalls,
    counts: cap.counts,
    charts: cap.charts.length,
    costUsd: cap.cost.usd,
    statistics,
    datapoints: 0,
    datapointsPerService: 0,
    findings: (cap.findings as Array<{ resourceId: string; finding: string; metric: string | null; suggestion: string | null }>)
      .map((f) => `${f.resourceId} ${f.finding} ${f.metric} ${f.suggestion}`)
      .sort(),
  };
}

/** moto's own GetMetricData over n services' full history: the reason the bench does not use it at 500. */
async function probeMoto(endpoint: string, n: number, now: number, hours: number): Promise<{ services: number; points: number; seconds: number }> {
  const series = Array.from({ length: n }, (_, i) => metricsFor({ cluster: 'probe', service: `p${i}`, cpu: 256, memoryMiB: 512 }, i, now, hours)).flat();
  await putMetricHistory({ endpoint, region: REGION }, series);
  const cw = new CloudWatchClient({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const end = Math.floor(now / 3_600_000) * 3_600_000;
  const t = performance.now();
  try {
    await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(end - hours * 3_600_000),
        EndTime: new Date(end),
        MetricDataQueries: series.map((s, i) => ({
          Id: `q${i}`,
          MetricStat: {
            Metric: { Namespace: s.namespace, MetricName: s.metricName, Dimensions: Object.entries(s.dimensions).map(([Name, Value]) => ({ Name, Value })) },
            Period: 3600,
            Stat: 'Average',
          },
        })),
      }),
    );
  } finally {
    cw.destroy();
  }
  return { services: n, points: series.length * hours, seconds: round((performance.now() - t) / 1000, 2) };
}

function docSection(r: any): string {
  const s = r.summary;
  const runsTable = r.runs
    .map(
      (x: RunFigures, i: number) =>
        `| ${i + 1} | ${x.statistics} | ${x.wallSeconds.toFixed(2)} s | ${x.appCpuSeconds} s | ${x.loadAvg1m} | ${x.discoverSeconds.toFixed(2)} s | ${x.analyzeSeconds.toFixed(2)} s | ${x.getMetricDataCalls} | ${x.datapointsPerService} | ${x.htmlSeconds.toFixed(2)} s (${Math.round(x.htmlBytes / 1024)} KiB) | ${Math.round(x.storedOutputBytes / 1024)} KiB |`,
    )
    .join('\n');
  const b: RunFigures = r.before;
  const beforeRow = `| before | ${b.statistics} | ${b.wallSeconds.toFixed(2)} s | ${b.appCpuSeconds} s | ${b.loadAvg1m} | ${b.discoverSeconds.toFixed(2)} s | ${b.analyzeSeconds.toFixed(2)} s | ${b.getMetricDataCalls} | ${b.datapointsPerService} | ${b.htmlSeconds.toFixed(2)} s (${Math.round(b.htmlBytes / 1024)} KiB) | ${Math.round(b.storedOutputBytes / 1024)} KiB |`;
  const first: RunFigures = r.runs[0];
  const probe = r.motoGetMetricDataProbe as Array<{ services: number; points: number; seconds: number }>;
  const last = probe[probe.length - 1];
  // Cost grows with queries × stored points (periods are fixed), i.e. with services².
  const extrapolated = last ? (last.seconds * (r.scenario.services / last.services) ** 2) / 3600 : null;
  return [
    '## Capacity report',
    '',
    `The \`capacity-report\` runbook over ${r.scenario.services} ECS services × ${r.scenario.metrics} metrics (CPU, memory), ${r.scenario.days} days hourly (${r.scenario.points.toLocaleString('en-US')} data points, ${r.scenario.queries} metric queries), run end to end by the real app: API, queue, engine, PostgreSQL, report. \`npm run bench:capacity\` (\`bench/capacity/\`).`,
    '',
    `- **Date:** ${r.date.slice(0, 10)} (commit ${r.commit}); bench took ${r.benchSeconds} s`,
    `- **Machine:** ${r.machine.cpus} cores (${r.machine.model}), ${r.machine.memoryGiB} GiB, ${r.machine.os}; Node ${r.machine.node}; load average at the end ${r.machine.loadAvg1m}`,
    `- **AWS:** ECS in moto (${r.scenario.services} services in ${CLUSTERS} clusters, seeded in ${r.seeding.ecsSeconds} s); the metric history written into moto too${r.seeding.metrics ? ` (${r.seeding.metrics.requests} PutMetricData requests of 1,000 data points, ${r.seeding.metrics.seconds} s, ${r.seeding.metrics.pointsPerSecond.toLocaleString('en-US')} points/s)` : ' (skipped in this run)'}. **GetMetricData is answered by a stand-in** (\`bench/capacity/cloudwatch-stand-in.ts\`, in a process of its own, as CloudWatch is remote) from the same series, with CloudWatch's limits: 500 queries per call, 100,800 data points per response, NextToken — see below for why not moto.`,
    `- **Method:** one warm-up run (${r.warmUpSeconds} s: first use of the code paths, the JIT, the connection pools), then ${r.runs.length} measured runs; wall time is the run's recorded acceptance to its recorded end (discovery, metric fetch, analysis, every checkpoint and audit record, the stored report).`,
    `- **Targets:** wall time ≤ ${r.target.wallSeconds} s; ${r.target.callsPerPage} GetMetricData calls per page`,
    '',
    '| run | statistics | wall time | app CPU¹ | load² | discover step | analyze step | GetMetricData calls | points fetched per service | HTML report (GET) | stored step outputs |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    beforeRow,
    runsTable,
    '',
    `**Findings: ${r.findingsCheck.same ? 'the same' : 'DIFFERENT'} ${r.findingsCheck.findings} findings** with every hourly point fetched (\`statistics: local\`, the "before" row) and with CloudWatch aggregating (\`cloudwatch\`, the default): the bench compares ${r.findingsCheck.note} and fails when they differ.`,
    '',
    '',
    "¹ CPU time of the bench process (API, queue client, worker, engine, report) during the run; moto and PostgreSQL are separate processes. ² 1-minute load average at the run's end, on 2 cores shared with PostgreSQL, Redis, moto and whatever else runs: a busy machine stretches wall time, so compare runs on a quiet one.",
    '',
    `**Wall time: median ${s.wallSecondsMedian} s (min ${s.wallSecondsMin} s, max ${s.wallSecondsMax} s) — target ≤ ${r.target.wallSeconds} s ${s.wallTarget} by the median.** The app itself needed ${s.appCpuSecondsMedian} s of CPU per report (median).`,
    `**GetMetricData: ${s.getMetricDataCalls} calls in ${s.batches} batches of ≤ 500 queries** (CloudWatch aggregating: 4 queries a series, no batch pages, then one batch of the charted series' hourly points); every hourly point fetched instead: ${b.getMetricDataCalls} calls.`,
    '',
    `Other calls per report: ${Object.entries(first.awsCalls)
      .map(([k, v]) => `${k} ×${v}`)
      .join(
        ', ',
      )}. Findings: ${first.counts.atRisk} at risk, ${first.counts.overProvisioned} over-provisioned, ${first.counts.ok} ok (the seeded mix); ${first.charts} charts (capped). CloudWatch cost of one report: $${first.costUsd} (metrics requested × $0.01 / 1,000, every page billed).`,
    '',
    `${describeReference(r.cpuReference)}.`,
    '',
    referenceTable(r.normalized),
    '',
    probe.length
      ? [
          "Why GetMetricData is not moto's here: moto answers it by scanning every stored data point for every query and every period, so its time grows with queries × stored points (with the services squared). Measured on this machine, full 14-day hourly history:",
          '',
          '| services | queries | stored points | moto GetMetricData |',
          '|---:|---:|---:|---:|',
          ...probe.map((p) => `| ${p.services} | ${p.services * 2} | ${p.points.toLocaleString('en-US')} | ${p.seconds} s |`),
          '',
          extrapolated !== null
            ? `Extrapolated to ${r.scenario.services} services: about ${extrapolated.toFixed(1)} hours for one report, which measures moto, not runbookd.`
            : '',
        ].join('\n')
      : '',
  ].join('\n');
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

function intEnv(name: string, fallback: number, min: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
