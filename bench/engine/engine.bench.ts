/**
 * Engine overhead benchmark: a runbook of 20 `core.noop` steps, run 200 times by the real app
 * (role all) against local PostgreSQL and Redis, once per worker concurrency. A no-op step does
 * nothing, so the time from one step's recorded end to the next one's is what the engine costs
 * per step: the cancel check, the step checkpoints, the audit appends and expression resolution.
 *
 *   npm run bench:engine
 *
 * Writes bench/results/engine-<timestamp>.json and engine-latest.json, prints a table, and
 * rewrites the "Engine overhead" section of docs/performance.md. It is a benchmark, not a test:
 * it exits 0 when a target is missed (and says so), non-zero only when the bench itself fails.
 *
 * Knobs (environment): BENCH_RUNS (200), BENCH_WARMUP (10, not counted), BENCH_CONCURRENCY
 * ("1,10"), BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL
 * (redis://127.0.0.1:6379), BENCH_WRITE_DOCS (1; 0 leaves docs/performance.md alone),
 * BENCH_TRACING (0; 1 turns OpenTelemetry tracing on, exporting to an OTLP/HTTP sink inside the
 * bench that decodes and counts every span: the figures then say what tracing costs a step. Such
 * a run writes engine-tracing-<timestamp>.json and leaves engine-latest.json and the docs alone).
 */
import 'reflect-metadata';
import { execSync } from 'node:child_process';
import * as http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app.config';
import { RunAcceptanceService } from '../../src/engine/run-acceptance.service';
import { RunQueue } from '../../src/engine/run-queue.adapter';
import { RunbookCatalog } from '../../src/runbooks/runbook-catalog.service';
import { CpuReference, describeReference, normalize, printNormalized, referenceTable, type CpuReferenceRecord, type NormalizedFigure } from '../cpu-reference';
import { writeDocSection } from './doc-section';
import { PgProbe, QueryKindStats } from './pg-probe';
import {
  cpuBetween,
  createScratchDatabase,
  flushPrefix,
  otherPostgresActivity,
  postgresBackendCpuMs,
  REDIS_URL,
  sweepLeftovers,
  uniqueQueuePrefix,
  withAdmin,
  withRedis,
} from './services';
import { round, summarize, Summary } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');
const RUNBOOKS_DIR = path.join(__dirname, 'runbooks');
const RUNBOOK_ID = 'engine-bench';
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const DOC_SECTION_ID = 'bench:engine';

const TARGET = { p50Ms: 2, p99Ms: 10 };
const RUNS = intEnv('BENCH_RUNS', 200, 1);
const WARMUP = intEnv('BENCH_WARMUP', 10, 0);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,10').split(',').map((s) => Number(s.trim()));
const TRACING = process.env.BENCH_TRACING === '1';
const WRITE_DOCS = process.env.BENCH_WRITE_DOCS !== '0' && !TRACING;
/** Per scenario; the whole bench normally takes 1 to 1.5 minutes. */
const RUN_WAIT_TIMEOUT_MS = 90_000;

interface ScenarioResult {
  workerConcurrency: number;
  runs: number;
  stepsPerRun: number;
  states: Record<string, number>;
  /** Previous step's end (the run's start for the first step) to this step's end: all engine. */
  stepOverheadMs: Summary;
  /** Previous step's end to this step's recorded start: end checkpoint + step.ended audit + cancel check. */
  betweenStepsMs: Summary;
  /** This step's recorded start to its end: 'running' checkpoint + step.started audit + input resolution + no-op body. */
  withinStepMs: Summary;
  /** run.started_at to run.ended_at (excludes time queued). */
  runWallMs: Summary;
  throughputRunsPerSec: number;
  stepsPerSec: number;
  executionWindowMs: number;
  acceptRunsPerSec: number;
  /** Statements the app sent to PostgreSQL while the measured runs executed. */
  db: {
    statementsPerRun: number;
    statementsPerStep: number;
    /** Sum of statement latencies divided by steps (at concurrency > 1 these overlap in time). */
    statementMsPerStep: number;
    byKind: Array<QueryKindStats & { perRun: number }>;
  };
  /** Node CPU (user + system) of the whole process, API and worker, per executed step. */
  nodeCpuMsPerStep: number;
  /** CPU of the PostgreSQL backends serving the bench's database, per step (Linux /proc). */
  postgresCpuMsPerStep: number;
  /** Cores ÷ (Node + PostgreSQL CPU per step). */
  cpuBoundStepsPerSec: number;
  /** Round trip of `SELECT 1` and of a one-row autocommit INSERT (WAL flush) on the same server. */
  baseline: { selectOneMs: Summary; insertCommitMs: Summary };
  /**
   * What else loaded the machine while the runs executed (1 s samples): the bench shares 2 cores
   * with PostgreSQL, Redis and whatever else runs, so a busy machine shows up here first.
   */
  machineLoad: {
    loadAvg1mMean: number;
    loadAvg1mMax: number;
    otherPostgresConnectionsAtStart: number;
    /** Sum over the samples of statements active on the server for other databases. */
    otherActiveStatementsSampled: number;
    samples: number;
  };
  pass: { p50: boolean; p99: boolean };
}

async function main(): Promise<void> {
  if (CONCURRENCIES.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('BENCH_CONCURRENCY must list positive integers, e.g. "10,1"');
  const startedAt = new Date();
  const probe = new PgProbe();
  probe.install();
  await sweepLeftovers();
  const environment = await describeEnvironment();
  const reference = await CpuReference.start();
  const sink = TRACING ? await startOtlpSink() : undefined;

  const scenarios: ScenarioResult[] = [];
  for (const c of CONCURRENCIES) {
    process.stdout.write(`engine bench: worker concurrency ${c}, ${WARMUP} warm-up + ${RUNS} runs of ${RUNBOOK_ID}...\n`);
    const r = await scenario(c, probe, sink);
    scenarios.push(r);
    process.stdout.write(
      `  done: p50 ${r.stepOverheadMs.p50} ms, p99 ${r.stepOverheadMs.p99} ms per step, ${r.throughputRunsPerSec} runs/s; CPU per step: Node ${r.nodeCpuMsPerStep} ms, PostgreSQL ${r.postgresCpuMsPerStep} ms (${r.cpuBoundStepsPerSec} steps/s if they had the cores to themselves)\n`,
    );
  }

  const cpuReference = await reference.finish();
  const normalized = normalize(
    cpuReference,
    Object.fromEntries(
      scenarios.flatMap((s) => [
        [`c=${s.workerConcurrency} Node CPU per step`, { value: s.nodeCpuMsPerStep, kind: 'ms' as const }],
        [`c=${s.workerConcurrency} PostgreSQL CPU per step`, { value: s.postgresCpuMsPerStep, kind: 'ms' as const }],
        [`c=${s.workerConcurrency} step overhead p50`, { value: s.stepOverheadMs.p50, kind: 'ms' as const }],
        [`c=${s.workerConcurrency} step overhead p99`, { value: s.stepOverheadMs.p99, kind: 'ms' as const }],
        [`c=${s.workerConcurrency} steps/s`, { value: s.stepsPerSec, kind: 'perSecond' as const }],
      ]),
    ),
  );
  const result = {
    benchmark: 'engine',
    cpuReference,
    normalized,
    date: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
    environment,
    runbook: { id: RUNBOOK_ID, file: path.relative(ROOT, path.join(RUNBOOKS_DIR, `${RUNBOOK_ID}.yaml`)), steps: scenarios[0]?.stepsPerRun },
    method: {
      runs: RUNS,
      warmupRuns: WARMUP,
      stepOverhead: "for each step: its ended_at minus the previous step's ended_at (the run's started_at for the first), from step_results",
      timestampResolutionMs: 1,
      acceptance: 'RunAcceptanceService.accept with the queue paused; CHECKPOINT; execution is measured from queue resume',
      logLevel: 'warn',
    },
    target: TARGET,
    tracing: sink
      ? { enabled: true, exporter: 'OTLP/HTTP JSON to an in-bench sink', batchDelayMs: 1000, spansReceived: sink.spans(), exportRequests: sink.requests() }
      : { enabled: false },
    scenarios,
  };
  await sink?.close();

  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const file = path.join(RESULTS_DIR, `engine${TRACING ? '-tracing' : ''}-${stamp}.json`);
  writeFileSync(file, json);
  if (!TRACING) writeFileSync(path.join(RESULTS_DIR, 'engine-latest.json'), json);
  if (sink) process.stdout.write(`tracing: ${sink.spans()} spans received in ${sink.requests()} exports\n`);

  process.stdout.write(`\n${consoleTable(scenarios)}\n`);
  process.stdout.write(`\n${describeReference(cpuReference)}\nfigures ÷ reference:\n`);
  printNormalized(normalized);
  process.stdout.write(`\nresults: ${path.relative(ROOT, file)}${TRACING ? '' : ' (and engine-latest.json)'}\n`);
  if (WRITE_DOCS) {
    writeDocSection(DOC_SECTION_ID, renderDocSection(result));
    process.stdout.write('docs: docs/performance.md (section "Engine overhead")\n');
  }
}

async function scenario(concurrency: number, probe: PgProbe, sink?: OtlpSink): Promise<ScenarioResult> {
  const db = await createScratchDatabase();
  const prefix = uniqueQueuePrefix();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-bench-'));
  const watcher = new Client({ connectionString: db.url });
  probe.ignore(watcher);
  let app: NestFastifyApplication | undefined;
  try {
    await watcher.connect();
    const baseline = await measureBaseline(watcher);
    const apiKey = `rbd_bench_${randomBytes(16).toString('hex')}`;
    const config = loadConfig({
      NODE_ENV: 'production',
      RUNBOOKD_ROLE: 'all',
      DATABASE_URL: db.url,
      REDIS_URL,
      RUNBOOKD_QUEUE_PREFIX: prefix,
      RUNBOOKD_RUNBOOKS_DIR: RUNBOOKS_DIR,
      // A configured key: no development key file is written.
      RUNBOOKD_API_KEYS: `bench:admin:${createHash('sha256').update(apiKey).digest('hex')}`,
      // Production needs a key sealing writeOnly parameters (none of the bench runbooks has one).
      RUNBOOKD_SECRETS_KEY: randomBytes(32).toString('base64'),
      RUNBOOKD_STATE_DIR: stateDir,
      RUNBOOKD_WORKER_CONCURRENCY: String(concurrency),
      RUNBOOKD_LOG_LEVEL: 'warn',
      AWS_REGION: 'us-east-1',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_BSP_SCHEDULE_DELAY: '1000' } : {}),
    });
    app = await createApp(config);
    await app.init();
    const queue = app.get(RunQueue).queue;
    const acceptance = app.get(RunAcceptanceService);
    const stepsPerRun = app.get(RunbookCatalog).get(RUNBOOK_ID).definition.steps.length;

    const acceptMany = async (n: number): Promise<string[]> => {
      const ids: string[] = [];
      let next = 0;
      const lane = async () => {
        while (next < n) {
          next++;
          const { run } = await acceptance.accept({
            runbookId: RUNBOOK_ID,
            parameters: {},
            dryRun: false,
            reason: 'engine benchmark',
            trigger: { kind: 'cli', actor: 'bench', role: 'admin' },
            dedupeKey: null,
          });
          ids.push(run.id);
        }
      };
      await Promise.all(Array.from({ length: Math.min(n, 8) }, lane));
      return ids;
    };

    if (WARMUP > 0) {
      await queue.pause();
      const warm = await acceptMany(WARMUP);
      await queue.resume();
      await waitDone(watcher, warm);
    }

    // Accept everything first with the queue paused, so execution is measured on its own.
    await queue.pause();
    const a0 = performance.now();
    const ids = await acceptMany(RUNS);
    const acceptMs = performance.now() - a0;

    // Start from a clean checkpoint, so dirty pages left by the previous scenario (or by anything
    // else on the server) are not flushed during this one's measured window.
    const otherBefore = await otherPostgresActivity([db.name]);
    await watcher.query('CHECKPOINT').catch(() => undefined);
    const load: LoadSample[] = [];
    probe.start();
    const pg0 = await postgresBackendCpuMs(watcher, db.name);
    const cpu0 = process.cpuUsage();
    await queue.resume();
    await waitDone(watcher, ids, load);
    const cpu = process.cpuUsage(cpu0);
    const pgCpuMs = cpuBetween(pg0, await postgresBackendCpuMs(watcher, db.name));
    const byKind = probe.stop();

    const { rows: runRows } = await watcher.query<{ id: string; state: string; started_at: Date; ended_at: Date }>(
      'SELECT id, state, started_at, ended_at FROM runs WHERE id = ANY($1)',
      [ids],
    );
    const { rows: stepRows } = await watcher.query<{ run_id: string; position: number; state: string; started_at: Date; ended_at: Date }>(
      `SELECT run_id, position, state, started_at, ended_at FROM step_results
       WHERE run_id = ANY($1) AND phase = 'main' ORDER BY run_id, position`,
      [ids],
    );
    const states: Record<string, number> = {};
    for (const r of runRows) states[r.state] = (states[r.state] ?? 0) + 1;
    if ((states.succeeded ?? 0) !== RUNS) throw new Error(`expected ${RUNS} succeeded runs, got ${JSON.stringify(states)}`);
    if (stepRows.length !== RUNS * stepsPerRun || stepRows.some((s) => s.state !== 'succeeded' || !s.ended_at)) {
      throw new Error(`expected ${RUNS * stepsPerRun} succeeded steps, got ${stepRows.length}`);
    }

    const runStart = new Map(runRows.map((r) => [r.id, r.started_at.getTime()]));
    const overhead: number[] = [];
    const between: number[] = [];
    const within: number[] = [];
    let prevRun = '';
    let prevEnd = 0;
    for (const s of stepRows) {
      if (s.run_id !== prevRun) {
        prevRun = s.run_id;
        prevEnd = runStart.get(s.run_id)!;
      }
      const start = s.started_at.getTime();
      const end = s.ended_at.getTime();
      overhead.push(end - prevEnd);
      between.push(start - prevEnd);
      within.push(end - start);
      prevEnd = end;
    }
    const firstStart = Math.min(...runRows.map((r) => r.started_at.getTime()));
    const lastEnd = Math.max(...runRows.map((r) => r.ended_at.getTime()));
    const windowMs = lastEnd - firstStart;
    const totalSteps = RUNS * stepsPerRun;
    const statements = byKind.reduce((n, k) => n + k.count, 0);
    const statementMs = byKind.reduce((n, k) => n + k.totalMs, 0);
    const stepOverheadMs = summarize(overhead);
    return {
      workerConcurrency: concurrency,
      runs: RUNS,
      stepsPerRun,
      states,
      stepOverheadMs,
      betweenStepsMs: summarize(between),
      withinStepMs: summarize(within),
      runWallMs: summarize(runRows.map((r) => r.ended_at.getTime() - r.started_at.getTime())),
      throughputRunsPerSec: round(RUNS / (windowMs / 1000), 1),
      stepsPerSec: round(totalSteps / (windowMs / 1000), 0),
      executionWindowMs: windowMs,
      acceptRunsPerSec: round(RUNS / (acceptMs / 1000), 1),
      db: {
        statementsPerRun: round(statements / RUNS, 1),
        statementsPerStep: round(statements / totalSteps, 2),
        statementMsPerStep: round(statementMs / totalSteps, 3),
        byKind: byKind.map((k) => ({
          kind: k.kind,
          count: k.count,
          perRun: round(k.count / RUNS, 2),
          totalMs: round(k.totalMs, 1),
          meanMs: round(k.meanMs, 3),
        })),
      },
      nodeCpuMsPerStep: round((cpu.user + cpu.system) / 1000 / totalSteps, 3),
      postgresCpuMsPerStep: round(pgCpuMs / totalSteps, 3),
      // What the machine's cores could sustain if the app and its database had them to themselves:
      // a figure other work on the machine does not lower (it does not count Redis, shared with others).
      cpuBoundStepsPerSec: round((os.cpus().length * 1000) / ((cpu.user + cpu.system) / 1000 / totalSteps + pgCpuMs / totalSteps), 0),
      baseline,
      machineLoad: {
        loadAvg1mMean: round(load.reduce((n, l) => n + l.loadAvg1m, 0) / Math.max(1, load.length)),
        loadAvg1mMax: round(Math.max(0, ...load.map((l) => l.loadAvg1m))),
        otherPostgresConnectionsAtStart: otherBefore.connections,
        otherActiveStatementsSampled: load.reduce((n, l) => n + l.otherActiveStatements, 0),
        samples: load.length,
      },
      pass: { p50: stepOverheadMs.p50 <= TARGET.p50Ms, p99: stepOverheadMs.p99 <= TARGET.p99Ms },
    };
  } finally {
    await app?.close().catch((err) => process.stderr.write(`app close: ${(err as Error).message}\n`));
    await watcher.end().catch(() => undefined);
    await flushPrefix(prefix).catch((err) => process.stderr.write(`redis cleanup of ${prefix}: ${(err as Error).message}\n`));
    await db.drop().catch((err) => process.stderr.write(`drop ${db.name}: ${(err as Error).message}\n`));
    rmSync(stateDir, { recursive: true, force: true });
  }
}

interface LoadSample {
  loadAvg1m: number;
  /** Statements running on the PostgreSQL server for anything other than this bench. */
  otherActiveStatements: number;
}

/** Polls until every run is done; every second, notes what else is loading the machine. */
async function waitDone(watcher: Client, ids: string[], samples: LoadSample[] = []): Promise<void> {
  const deadline = Date.now() + RUN_WAIT_TIMEOUT_MS;
  for (let i = 0; ; i++) {
    const { rows } = await watcher.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND phase = 'done'`, [ids]);
    if (rows[0].n === ids.length) return;
    if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of ${ids.length} runs finished within ${RUN_WAIT_TIMEOUT_MS / 1000}s`);
    if (i % 20 === 0) {
      const { rows: other } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE state = 'active' AND backend_type = 'client backend' AND datname IS DISTINCT FROM current_database()`,
      );
      samples.push({ loadAvg1m: os.loadavg()[0], otherActiveStatements: other[0].n });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What a statement costs on this server before the engine adds anything. */
async function measureBaseline(c: Client): Promise<ScenarioResult['baseline']> {
  const time = async (n: number, sql: string, params: unknown[] = []): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await c.query(sql, params);
      out.push(performance.now() - t);
    }
    return out;
  };
  await c.query('CREATE TABLE bench_baseline (id int)');
  await time(20, 'SELECT 1');
  const selectOne = await time(200, 'SELECT 1');
  const insert = await time(200, 'INSERT INTO bench_baseline (id) VALUES ($1)', [1]);
  await c.query('DROP TABLE bench_baseline');
  const r = (s: Summary): Summary => ({
    n: s.n,
    mean: round(s.mean, 3),
    p50: round(s.p50, 3),
    p95: round(s.p95, 3),
    p99: round(s.p99, 3),
    max: round(s.max, 3),
  });
  return { selectOneMs: r(summarize(selectOne)), insertCommitMs: r(summarize(insert)) };
}

// --- environment and reporting -----------------------------------------------------------------

async function describeEnvironment() {
  const pg = await withAdmin(async (c) => {
    const one = async (sql: string) => String(Object.values((await c.query(sql)).rows[0])[0]);
    return {
      version: await one('SHOW server_version'),
      fsync: await one('SHOW fsync'),
      synchronousCommit: await one('SHOW synchronous_commit'),
      walSyncMethod: await one('SHOW wal_sync_method'),
    };
  });
  const redisVersion = await withRedis(async (r) => /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? 'unknown');
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execSync('git status --porcelain -- src', { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    if (dirty) commit += ' plus uncommitted changes in src/';
  } catch {
    /* not a git checkout */
  }
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: pg,
    redis: redisVersion,
    commit,
    note: 'PostgreSQL, Redis and the bench (one Node process, role all) share the machine',
  };
}

type BenchResult = {
  date: string;
  cpuReference: CpuReferenceRecord;
  normalized: Record<string, NormalizedFigure>;
  durationSeconds: number;
  environment: Awaited<ReturnType<typeof describeEnvironment>>;
  runbook: { id: string; file: string; steps: number | undefined };
  method: { runs: number; warmupRuns: number };
  target: typeof TARGET;
  scenarios: ScenarioResult[];
};

const verdict = (ok: boolean) => (ok ? 'pass' : 'FAIL');

function consoleTable(scenarios: ScenarioResult[]): string {
  const head = [
    'concurrency',
    'runs',
    'step p50',
    'p95',
    'p99',
    'max',
    'run p50',
    'run p99',
    'runs/s',
    'SQL/step',
    `p50<=${TARGET.p50Ms}`,
    `p99<=${TARGET.p99Ms}`,
  ];
  const rows = scenarios.map((s) => [
    String(s.workerConcurrency),
    String(s.runs),
    `${s.stepOverheadMs.p50} ms`,
    `${s.stepOverheadMs.p95} ms`,
    `${s.stepOverheadMs.p99} ms`,
    `${s.stepOverheadMs.max} ms`,
    `${s.runWallMs.p50} ms`,
    `${s.runWallMs.p99} ms`,
    String(s.throughputRunsPerSec),
    String(s.db.statementsPerStep),
    verdict(s.pass.p50),
    verdict(s.pass.p99),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function renderDocSection(r: BenchResult): string {
  const e = r.environment;
  const uncontended = [...r.scenarios].sort((a, b) => a.workerConcurrency - b.workerConcurrency)[0];
  const lines: string[] = [];
  lines.push('## Engine overhead', '');
  lines.push(
    `What the engine costs per step, measured with \`${r.runbook.file}\` (${r.runbook.steps} \`core.noop\` steps, each`,
    "resolving an expression on the previous step's output). A no-op step does no work, so the time from one step's",
    "recorded end to the next step's end (the run's start for the first step) is all engine: the cancel check, the",
    'step checkpoints, the audit appends and input resolution.',
    '',
    `- **Date:** ${r.date.slice(0, 10)} (commit ${e.commit}); bench took ${r.durationSeconds} s`,
    `- **Machine:** ${e.cpus} cores (${e.cpuModel}), ${e.memoryGiB} GiB, ${e.platform}; Node ${e.node}`,
    `- **Services:** local PostgreSQL ${e.postgres.version} (fsync ${e.postgres.fsync}, synchronous_commit ${e.postgres.synchronousCommit}), Redis ${e.redis}, on the same machine as the app`,
    `- **Method:** one process with role \`all\` (log level warn); per worker concurrency, ${r.method.warmupRuns} warm-up runs, then ${r.method.runs} runs accepted through \`RunAcceptanceService\` with the queue paused, a \`CHECKPOINT\`, and the queue resumed; figures come from \`step_results\` and \`runs\` timestamps (1 ms resolution)`,
    `- **Target:** per-step overhead p50 ≤ ${r.target.p50Ms} ms, p99 ≤ ${r.target.p99Ms} ms`,
    '',
    '| worker concurrency | per-step p50 | p95 | p99 | max | run wall p50 | run wall p99 | throughput | p50 target | p99 target | machine load¹ |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|---:|',
  );
  for (const s of r.scenarios) {
    const o = s.stepOverheadMs;
    lines.push(
      `| ${s.workerConcurrency}${s.workerConcurrency === 10 ? ' (default)' : ''} | ${o.p50} ms | ${o.p95} ms | ${o.p99} ms | ${o.max} ms | ${s.runWallMs.p50} ms | ${s.runWallMs.p99} ms | ${s.throughputRunsPerSec} runs/s (${s.stepsPerSec} steps/s) | ${verdict(s.pass.p50)} | ${verdict(s.pass.p99)} | ${s.machineLoad.loadAvg1mMean} |`,
    );
  }
  lines.push(
    '',
    `¹ Mean 1-minute load average while the runs executed, on ${e.cpus} cores shared by the app, PostgreSQL and Redis` +
      ' (and anything else running: other work on the machine inflates every figure here; compare runs on a quiet machine).',
  );
  lines.push(
    '',
    "At concurrency 1 the figure is the engine's own latency per step. At higher concurrency the runs share one Node",
    "process and two cores with PostgreSQL, so a step also waits for the other runs' steps: with the CPU busy, per-step",
    'latency ≈ concurrency ÷ throughput (10 runs at 1,500 steps/s is 6.7 ms a step), and throughput is the figure that says',
    'what the engine sustains. The executor\'s records are group-committed (docs/architecture.md, "Group commit"): the',
    'records of all runs that arrive while one batch is in flight go in the next statement, one commit for all.',
    '',
    "CPU per step, measured (Node: the whole bench process; PostgreSQL: the backends serving the bench's database, from",
    "/proc), and the steps/s the machine's cores would sustain at that cost if nothing else ran (a figure that other",
    "work on the machine inflates much less than latency; Redis and the kernel's share are not counted):",
    '',
    '| worker concurrency | Node CPU per step | PostgreSQL CPU per step | steps/s the cores would sustain |',
    '|---:|---:|---:|---:|',
    ...r.scenarios.map((s) => `| ${s.workerConcurrency} | ${s.nodeCpuMsPerStep} ms | ${s.postgresCpuMsPerStep} ms | ${s.cpuBoundStepsPerSec} |`),
    '',
    "Per-step overhead split at the step's recorded start (p50 / p99):",
    '',
    "| worker concurrency | previous step's end → start (end checkpoint, `step.ended` audit, cancel check) | start → end (`running` checkpoint, `step.started` audit, input, body) |",
    '|---:|---:|---:|',
    ...r.scenarios.map(
      (s) => `| ${s.workerConcurrency} | ${s.betweenStepsMs.p50} / ${s.betweenStepsMs.p99} ms | ${s.withinStepMs.p50} / ${s.withinStepMs.p99} ms |`,
    ),
    '',
    'Where the time goes: every statement the app sent to PostgreSQL while the measured runs executed, counted and timed',
    'in-process (call to result, so it includes any wait for a row lock or a connection; `per run` rows are run-level work):',
    '',
    `| statement | per step | ${r.scenarios.map((s) => `mean latency, concurrency ${s.workerConcurrency}`).join(' | ')} |`,
    `|---|---:|${r.scenarios.map(() => '---:').join('|')}|`,
    ...uncontended.db.byKind.map((k) => {
      const cells = r.scenarios.map((s) => {
        const m = s.db.byKind.find((x) => x.kind === k.kind);
        return m ? `${m.meanMs} ms` : '–';
      });
      return `| ${k.kind} | ${round(k.perRun / uncontended.stepsPerRun, 2)} | ${cells.join(' | ')} |`;
    }),
    `| **all, per step** | **${uncontended.db.statementsPerStep}** | ${r.scenarios.map((s) => `${s.db.statementMsPerStep} ms in total`).join(' | ')} |`,
    '',
    ...r.scenarios.map(
      (s) =>
        `- Concurrency ${s.workerConcurrency}: ${s.db.statementsPerRun} statements per run of ${s.stepsPerRun} steps (${s.db.statementsPerStep} per step).`,
    ),
    `- Baseline on this server: \`SELECT 1\` round trip p50 ${uncontended.baseline.selectOneMs.p50} ms; one-row autocommit INSERT (one WAL flush) p50 ${uncontended.baseline.insertCommitMs.p50} ms, p99 ${uncontended.baseline.insertCommitMs.p99} ms.`,
    '',
    `- ${describeReference(r.cpuReference)}.`,
    '',
    referenceTable(r.normalized),
    '',
    'Rerun: `npm run bench:engine` (needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379; 1 to 1.5 minutes).',
    'It writes `bench/results/engine-<timestamp>.json` and `bench/results/engine-latest.json` and regenerates this section.',
  );
  return lines.join('\n');
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`engine bench failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);

interface OtlpSink {
  endpoint: string;
  spans(): number;
  requests(): number;
  close(): Promise<void>;
}

/** What a collector's OTLP/HTTP receiver does, minus storage: decode each export and count its spans. */
async function startOtlpSink(): Promise<OtlpSink> {
  let spans = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of doc.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => spans,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
