import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { PG_SERVER } from './engine/services';

/**
 * A fixed CPU reference taken in the same run as a benchmark's figures, so two machines (or two
 * sittings on this shared one) can be compared: a slower or busier machine shows up as a slower
 * reference, not as slower code. Each bench divides its figures by it.
 *
 * - Node: SHA-256 over 300 MiB (one 1 MiB buffer hashed 300 times; single-threaded, no I/O).
 * - PostgreSQL: one fixed CPU-bound query on the local server (no table, no I/O, no parallel workers).
 * - Steal: the share of CPU time the hypervisor gave to other guests over the run (/proc/stat),
 *   plus the load average: a reference taken while neighbours steal cycles is slower too, and says so.
 *
 * The reference is taken at the start and at the end of the run; figures are divided by the mean.
 */
export const REFERENCE_SHA256_MIB = 300;
export const REFERENCE_PG_QUERY = 'SELECT sum(hashtext(i::text)) FROM generate_series(1, 1000000) AS i';

export interface ReferenceSample {
  /** Wall ms to SHA-256 300 MiB in this process. */
  sha256Ms: number;
  /** Wall ms of REFERENCE_PG_QUERY (round trip included; the query itself dominates). */
  pgQueryMs: number | null;
  loadAvg1m: number;
}

export interface CpuReferenceRecord {
  method: { sha256: string; pgQuery: string; steal: string };
  start: ReferenceSample;
  end: ReferenceSample;
  /** Means of start and end: what the figures are divided by. */
  sha256Ms: number;
  pgQueryMs: number | null;
  /** Steal time over the run, % of all CPU time (all cores); null where /proc/stat is not there. */
  stealPercent: number | null;
  /** Busy (non-idle, non-iowait, non-steal) CPU over the run, % of all cores. */
  busyPercent: number | null;
  loadAvg: { start: number[]; end: number[] };
  cpus: number;
  cpuModel: string;
}

interface ProcStat {
  total: number;
  steal: number;
  busy: number;
}

function readProcStat(): ProcStat | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
    return { total: user + nice + system + idle + iowait + irq + softirq + steal, steal, busy: user + nice + system + irq + softirq };
  } catch {
    return null;
  }
}

export function sha256Reference(mib = REFERENCE_SHA256_MIB): number {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const t = performance.now();
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) h.update(block);
  h.digest();
  return performance.now() - t;
}

async function pgReference(): Promise<number | null> {
  const url = new URL(PG_SERVER);
  url.pathname = '/test';
  const c = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await c.connect();
    await c.query('SET max_parallel_workers_per_gather = 0');
    // The first run warms the backend (catalog caches, the plan); the second is the figure.
    await c.query(REFERENCE_PG_QUERY);
    const t = performance.now();
    await c.query(REFERENCE_PG_QUERY);
    return performance.now() - t;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function sample(): Promise<ReferenceSample> {
  sha256Reference(16); // warm the hash code path
  const sha256Ms = sha256Reference();
  const pgQueryMs = await pgReference();
  return { sha256Ms: round(sha256Ms, 1), pgQueryMs: pgQueryMs === null ? null : round(pgQueryMs, 1), loadAvg1m: round(os.loadavg()[0], 2) };
}

/** Takes the reference now; `finish()` takes it again and closes the steal window. */
export class CpuReference {
  private constructor(
    private readonly first: ReferenceSample,
    private readonly stat0: ProcStat | null,
    private readonly load0: number[],
  ) {}

  static async start(): Promise<CpuReference> {
    const load0 = os.loadavg().map((l) => round(l, 2));
    const stat0 = readProcStat();
    return new CpuReference(await sample(), stat0, load0);
  }

  async finish(): Promise<CpuReferenceRecord> {
    const end = await sample();
    const stat1 = readProcStat();
    const d = this.stat0 && stat1 ? { total: stat1.total - this.stat0.total, steal: stat1.steal - this.stat0.steal, busy: stat1.busy - this.stat0.busy } : null;
    const mean = (a: number | null, b: number | null) => (a === null || b === null ? (a ?? b) : round((a + b) / 2, 1));
    return {
      method: {
        sha256: `SHA-256 over ${REFERENCE_SHA256_MIB} MiB in Node (1 MiB buffer × ${REFERENCE_SHA256_MIB}), wall ms`,
        pgQuery: `${REFERENCE_PG_QUERY} on the local PostgreSQL (second of two runs, no parallel workers), wall ms`,
        steal: 'steal ticks ÷ all ticks in /proc/stat between the start and the end of the run',
      },
      start: this.first,
      end,
      sha256Ms: mean(this.first.sha256Ms, end.sha256Ms)!,
      pgQueryMs: mean(this.first.pgQueryMs, end.pgQueryMs),
      stealPercent: d && d.total > 0 ? round((100 * d.steal) / d.total, 2) : null,
      busyPercent: d && d.total > 0 ? round((100 * d.busy) / d.total, 1) : null,
      loadAvg: { start: this.load0, end: os.loadavg().map((l) => round(l, 2)) },
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    };
  }
}

export type FigureKind = 'ms' | 'perSecond';

export interface NormalizedFigure {
  value: number;
  kind: FigureKind;
  /** A duration ÷ the SHA-256 reference's duration; a rate × it (work done per reference-time). */
  perNodeReference: number;
  /** The same against the PostgreSQL query reference. */
  perPgReference: number | null;
}

/**
 * Divides each figure by the reference: a duration becomes "how many SHA-256-300-MiB times it
 * took" (lower is better), a rate becomes "how many per SHA-256-300-MiB time" (higher is better).
 */
export function normalize(ref: CpuReferenceRecord, figures: Record<string, { value: number; kind: FigureKind }>): Record<string, NormalizedFigure> {
  const out: Record<string, NormalizedFigure> = {};
  for (const [name, f] of Object.entries(figures)) {
    if (!Number.isFinite(f.value)) continue;
    const by = (refMs: number | null) => (refMs === null || refMs <= 0 ? null : round(f.kind === 'ms' ? f.value / refMs : (f.value * refMs) / 1000, 4));
    out[name] = { value: f.value, kind: f.kind, perNodeReference: by(ref.sha256Ms)!, perPgReference: by(ref.pgQueryMs) };
  }
  return out;
}

/** One line for the console and the docs: the reference and the machine state it was taken in. */
export function describeReference(ref: CpuReferenceRecord): string {
  return (
    `CPU reference: SHA-256 of ${REFERENCE_SHA256_MIB} MiB ${ref.sha256Ms} ms (start ${ref.start.sha256Ms}, end ${ref.end.sha256Ms}); ` +
    `PostgreSQL reference query ${ref.pgQueryMs ?? 'n/a'} ms (start ${ref.start.pgQueryMs ?? 'n/a'}, end ${ref.end.pgQueryMs ?? 'n/a'}); ` +
    `steal ${ref.stealPercent ?? 'n/a'} % and busy ${ref.busyPercent ?? 'n/a'} % of ${ref.cpus} cores over the run; ` +
    `load average ${ref.loadAvg.start.join(' / ')} at the start, ${ref.loadAvg.end.join(' / ')} at the end`
  );
}

/** A Markdown table of the figures ÷ the reference, for a bench's docs section. */
export function referenceTable(normalized: Record<string, NormalizedFigure>): string {
  const rows = Object.entries(normalized).map(
    ([name, f]) => `| ${name} | ${f.value}${f.kind === 'ms' ? ' ms' : '/s'} | ${f.perNodeReference} | ${f.perPgReference ?? 'n/a'} |`,
  );
  return [
    '| figure | measured | ÷ Node reference¹ | ÷ PostgreSQL reference¹ |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    "¹ A duration divided by the reference's duration (lower is better); a rate multiplied by it, i.e. per reference-time (higher is better). `bench/cpu-reference.ts`.",
  ].join('\n');
}

/** Prints the normalized figures as aligned lines. */
export function printNormalized(normalized: Record<string, NormalizedFigure>): void {
  for (const [name, f] of Object.entries(normalized)) {
    process.stdout.write(`  ${name}: ${f.value}${f.kind === 'ms' ? ' ms' : '/s'}  ÷ Node ref ${f.perNodeReference}  ÷ PG ref ${f.perPgReference ?? 'n/a'}\n`);
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
