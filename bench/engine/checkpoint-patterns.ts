/**
 * What-if companion to engine.bench.ts: replays the SQL one no-op step costs the executor, then
 * cheaper ways of writing the same records, straight against PostgreSQL (no Nest, no Redis), at
 * one and at ten concurrent runs. It puts numbers on the changes proposed in docs/performance.md
 * before anyone touches src/. The statements and audit hashing mirror RunsRepository.upsertStep,
 * RunsRepository.cancelRequest and AuditRepository.append.
 *
 *   node -r @swc-node/register bench/engine/checkpoint-patterns.ts
 *
 * Knobs: BENCH_PATTERN_STEPS (500 per pattern and concurrency), BENCH_CONCURRENCY ("1,10").
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool, PoolClient } from 'pg';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import type { AuditKind } from '../../src/audit/audit.types';
import { PgDatabase } from '../../src/persistence/pg.database';
import { migrate } from '../../src/persistence/migrator';
import { writeDocSection } from './doc-section';
import { createScratchDatabase, PG_SERVER, sweepLeftovers } from './services';
import { round, summarize, Summary } from './stats';

const STEPS = Number(process.env.BENCH_PATTERN_STEPS ?? 500);
/** Each pattern's steps are split into this many turns, interleaved with the other patterns. */
const ROUNDS = 5;
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,10').split(',').map((s) => Number(s.trim()));
const RESULTS_FILE = path.resolve(__dirname, '..', 'results', 'checkpoint-patterns-latest.json');

const UPSERT = `INSERT INTO step_results (run_id, step_id, phase, position, uses, mutates, state, attempts, started_at, ended_at,
         input, output, error, memory, note)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (run_id, step_id) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
         ended_at = EXCLUDED.ended_at, input = EXCLUDED.input, output = EXCLUDED.output, error = EXCLUDED.error,
         memory = EXCLUDED.memory, note = EXCLUDED.note`;
const CANCEL = 'SELECT cancel_requested_at, cancel_requested_by FROM runs WHERE id = $1';
/** The global append lock audit appends took before migration 12 (records sealed later since): this bench replays that design. */
const AUDIT_APPEND_LOCK_KEY = '7290478181926548513';
const LOCK = `SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK_KEY}::bigint)`;
const HEAD = 'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1';

interface Step {
  runId: string;
  stepId: string;
  position: number;
  startedAt: Date;
}
interface AuditIn {
  kind: AuditKind;
  runId: string;
  data: Record<string, unknown>;
}

type Pattern = { name: string; what: string; step: (pool: Pool, s: Step) => Promise<void>; setup?: (pool: Pool) => Promise<void> };

const upsertParams = (s: Step, state: string, ended: Date | null) => [
  s.runId,
  s.stepId,
  'main',
  s.position,
  'core.noop',
  false,
  state,
  1,
  s.startedAt.toISOString(),
  ended?.toISOString() ?? null,
  JSON.stringify({ echo: s.runId }),
  ended ? JSON.stringify({ echo: s.runId }) : null,
  null,
  '{}',
  null,
];
const started = (s: Step): AuditIn => ({
  kind: 'step.started',
  runId: s.runId,
  data: { stepId: s.stepId, uses: 'core.noop', phase: 'main', mutates: false, input: { echo: s.runId } },
});
const ended = (s: Step, at: Date): AuditIn => ({
  kind: 'step.ended',
  runId: s.runId,
  data: {
    stepId: s.stepId,
    uses: 'core.noop',
    phase: 'main',
    state: 'succeeded',
    attempts: 1,
    durationMs: at.getTime() - s.startedAt.getTime(),
    error: null,
    note: null,
  },
});

async function tx(pool: Pool, fn: (c: PoolClient) => Promise<void>): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await fn(c);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/** AuditRepository.appendIn for one or more records: global lock, read the head, insert. */
async function append(c: PoolClient, records: AuditIn[], chain: 'global' | 'per-run' = 'global'): Promise<void> {
  const runId = records[0].runId;
  let head: { seq: number; hash: string } | undefined;
  if (chain === 'global') {
    await c.query(LOCK);
    [head] = (await c.query<{ seq: number; hash: string }>(HEAD)).rows;
  } else {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [runId]);
    [head] = (
      await c.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_chain_per_run WHERE run_id = $1 ORDER BY seq DESC LIMIT 1', [runId])
    ).rows;
  }
  await c.query(insertSql(records, chain, head));
}

/** One INSERT of all records with literal values (also usable in a multi-statement simple query). */
function insertSql(records: AuditIn[], chain: 'global' | 'per-run', head: { seq: number | string; hash: string } | undefined): string {
  let seq = head ? Number(head.seq) : 0;
  let prev = head ? head.hash : GENESIS_HASH;
  const rows: string[] = [];
  for (const r of records) {
    seq++;
    const at = new Date().toISOString();
    const hash = hashRecord(prev, { seq, at, kind: r.kind, runId: r.runId, actor: 'bench', data: r.data });
    rows.push(`(${seq}, ${lit(at)}::timestamptz, ${lit(r.kind)}, ${lit(r.runId)}, 'bench', ${lit(JSON.stringify(r.data))}::jsonb, ${lit(prev)}, ${lit(hash)})`);
    prev = hash;
  }
  const table = chain === 'global' ? 'audit_events' : 'audit_chain_per_run';
  return `INSERT INTO ${table} (seq, at, kind, run_id, actor, data, prev_hash, hash) VALUES ${rows.join(', ')}`;
}

const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;

function upsertLiteral(s: Step, state: string, end: Date | null): string {
  const v = upsertParams(s, state, end).map((x) => (x === null ? 'NULL' : typeof x === 'string' ? lit(x) : String(x)));
  let i = 0;
  return UPSERT.replace(/\$\d+/g, () => v[i++]);
}

const PATTERNS: Pattern[] = [
  {
    name: 'A current',
    what: "cancel check; 'running' upsert (autocommit); tx{step.started}; tx{final upsert + step.ended} — 13 statements, 3 commits",
    step: async (pool, s) => {
      await pool.query(CANCEL, [s.runId]);
      await pool.query(UPSERT, upsertParams(s, 'running', null));
      await tx(pool, (c) => append(c, [started(s)]));
      const end = new Date();
      await tx(pool, async (c) => {
        await c.query(UPSERT, upsertParams(s, 'succeeded', end));
        await append(c, [ended(s, end)]);
      });
    },
  },
  {
    name: 'B start in one tx',
    what: "cancel check; tx{'running' upsert + step.started}; tx{final upsert + step.ended} — 13 statements, 2 commits",
    step: async (pool, s) => {
      await pool.query(CANCEL, [s.runId]);
      await tx(pool, async (c) => {
        await c.query(UPSERT, upsertParams(s, 'running', null));
        await append(c, [started(s)]);
      });
      const end = new Date();
      await tx(pool, async (c) => {
        await c.query(UPSERT, upsertParams(s, 'succeeded', end));
        await append(c, [ended(s, end)]);
      });
    },
  },
  {
    name: 'C one tx per step',
    what: 'read-only step that finishes at once: tx{cancel check, final upsert, step.started + step.ended in one INSERT} — 7 statements, 1 commit',
    step: async (pool, s) => {
      const end = new Date();
      await tx(pool, async (c) => {
        await c.query(CANCEL, [s.runId]);
        await c.query(UPSERT, upsertParams(s, 'succeeded', end));
        await append(c, [started(s), ended(s, end)]);
      });
    },
  },
  {
    name: 'D C, 3 round trips',
    what: 'C sent as multi-statement simple queries: [BEGIN; cancel; upsert] [lock; head] [INSERT; COMMIT] — 3 round trips, 1 commit',
    step: (pool, s) => pipelined(pool, s, 'global'),
  },
  {
    name: 'E C, chain per run',
    what: 'C with a hash chain per run (lock and head per run id) instead of one global chain — no cross-run serialization',
    setup: async (pool) => {
      await pool.query(`CREATE TABLE audit_chain_per_run (run_id text NOT NULL, seq bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
        actor text NOT NULL, data jsonb NOT NULL, prev_hash text NOT NULL, hash text NOT NULL, PRIMARY KEY (run_id, seq))`);
    },
    step: async (pool, s) => {
      const end = new Date();
      await tx(pool, async (c) => {
        await c.query(CANCEL, [s.runId]);
        await c.query(UPSERT, upsertParams(s, 'succeeded', end));
        await append(c, [started(s), ended(s, end)], 'per-run');
      });
    },
  },
  {
    name: 'F D, chain per run',
    what: 'D with the chain per run: 3 round trips, 1 commit, no cross-run serialization',
    step: (pool, s) => pipelined(pool, s, 'per-run'),
  },
];

/** Pattern C in three round trips: statements batched into simple-protocol queries with literal values. */
async function pipelined(pool: Pool, s: Step, chain: 'global' | 'per-run'): Promise<void> {
  const end = new Date();
  const c = await pool.connect();
  try {
    await c.query(`BEGIN; ${CANCEL.replace('$1', lit(s.runId))}; ${upsertLiteral(s, 'succeeded', end)}`);
    const lockAndHead =
      chain === 'global'
        ? `${LOCK}; ${HEAD}`
        : `SELECT pg_advisory_xact_lock(hashtext(${lit(s.runId)})); SELECT seq, hash FROM audit_chain_per_run WHERE run_id = ${lit(s.runId)} ORDER BY seq DESC LIMIT 1`;
    const res = (await c.query(lockAndHead)) as unknown as Array<{ rows: Array<{ seq: number; hash: string }> }>;
    await c.query(`${insertSql([started(s), ended(s, end)], chain, res[1].rows[0])}; COMMIT`);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

interface PatternResult {
  pattern: string;
  what: string;
  concurrency: number;
  steps: number;
  stepMs: Summary;
  stepsPerSec: number;
}

interface Sample {
  times: number[];
  elapsedMs: number;
}

/** `steps` steps of pattern `p`, spread over `concurrency` runs executing at once. */
async function runPattern(pool: Pool, p: Pattern, concurrency: number, steps: number, into: Sample): Promise<void> {
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const lanes = Array.from({ length: concurrency }, (_, i) => `bench-${stamp}-${i}`);
  for (const id of lanes) {
    await pool.query(
      `INSERT INTO runs (id, runbook_id, runbook_digest, definition, parameters, trigger, actor, state, expires_at)
       VALUES ($1, 'engine-bench', 'x', '{}', '{}', '{}', 'bench', 'running', now() + interval '1 day')`,
      [id],
    );
  }
  const perLane = Math.ceil(steps / concurrency);
  const t0 = performance.now();
  await Promise.all(
    lanes.map(async (runId) => {
      for (let i = 0; i < perLane; i++) {
        const t = performance.now();
        await p.step(pool, { runId, stepId: `s${i}`, position: i, startedAt: new Date() });
        into.times.push(performance.now() - t);
      }
    }),
  );
  into.elapsedMs += performance.now() - t0;
}

async function main(): Promise<void> {
  await sweepLeftovers();
  const db = await createScratchDatabase();
  const results: PatternResult[] = [];
  try {
    const schema = new PgDatabase(db.url);
    await migrate(schema);
    await schema.close();
    // The app's pool size (PgDatabase default).
    const pool = new Pool({ connectionString: db.url, max: 10 });
    try {
      for (const p of PATTERNS) await p.setup?.(pool);
      // Warm the connections and the plans.
      await runPattern(pool, PATTERNS[0], 10, 100, { times: [], elapsedMs: 0 });
      for (const c of CONCURRENCIES) {
        // Patterns take turns, ROUNDS times, so a burst of load elsewhere on the machine lands on all of them.
        const samples = PATTERNS.map((): Sample => ({ times: [], elapsedMs: 0 }));
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i, p] of PATTERNS.entries()) await runPattern(pool, p, c, Math.ceil(STEPS / ROUNDS), samples[i]);
        }
        for (const [i, p] of PATTERNS.entries()) {
          const r: PatternResult = {
            pattern: p.name,
            what: p.what,
            concurrency: c,
            steps: samples[i].times.length,
            stepMs: summarize(samples[i].times),
            stepsPerSec: round(samples[i].times.length / (samples[i].elapsedMs / 1000), 0),
          };
          results.push(r);
          process.stdout.write(
            `${p.name.padEnd(22)} concurrency ${String(c).padStart(2)}: p50 ${r.stepMs.p50} ms, p95 ${r.stepMs.p95} ms, p99 ${r.stepMs.p99} ms, ${r.stepsPerSec} steps/s\n`,
          );
        }
      }
    } finally {
      await pool.end();
    }
  } finally {
    await db.drop();
  }
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  const server = new URL(PG_SERVER);
  server.password = '';
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ benchmark: 'checkpoint-patterns', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAvg1mAtEnd: round(os.loadavg()[0]), postgres: server.host, steps: STEPS, rounds: ROUNDS, results }, null, 2)}\n`,
  );
  process.stdout.write(`results: ${path.relative(path.resolve(__dirname, '..', '..'), RESULTS_FILE)}\n`);
  if (process.env.BENCH_WRITE_DOCS !== '0') {
    writeDocSection('bench:checkpoint-patterns', renderDoc(results));
    process.stdout.write('docs: docs/performance.md (section "Engine overhead: what-if")\n');
  }
}

function renderDoc(results: PatternResult[]): string {
  const cs = [...new Set(results.map((r) => r.concurrency))];
  const lines = [
    '### Engine overhead: what-if (checkpoint patterns)',
    '',
    'The SQL one no-op step costs the executor (pattern A), replayed straight against the same PostgreSQL without the app,',
    'next to cheaper ways of writing the same step record and audit records. Steps per pattern are interleaved in turns so',
    `load elsewhere on the machine lands on every pattern alike. ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version},`,
    `1-minute load average ${round(os.loadavg()[0])} at the end.`,
    '',
    `| pattern | what it writes | ${cs.map((c) => `concurrency ${c}: p50 / p99 per step, throughput`).join(' | ')} |`,
    `|---|---|${cs.map(() => '---:').join('|')}|`,
  ];
  for (const name of [...new Set(results.map((r) => r.pattern))]) {
    const rs = cs.map((c) => results.find((r) => r.pattern === name && r.concurrency === c)!);
    lines.push(`| ${name} | ${rs[0].what} | ${rs.map((r) => `${r.stepMs.p50} / ${r.stepMs.p99} ms, ${r.stepsPerSec} steps/s`).join(' | ')} |`);
  }
  lines.push(
    '',
    'Rerun: `node -r @swc-node/register bench/engine/checkpoint-patterns.ts` (about 30 s; writes `bench/results/checkpoint-patterns-latest.json`).',
  );
  return lines.join('\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`checkpoint patterns failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
