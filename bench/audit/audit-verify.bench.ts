/**
 * Audit log at scale: how fast the sealer links records into the chain, and how long a full
 * verify of N records (default 1,000,000) takes, through the same AuditService the API uses
 * (`GET /v1/audit/verify`: every record's hash and link, then the signed digests).
 *
 *   node -r @swc-node/register bench/audit/audit-verify.bench.ts
 *
 * Knobs: BENCH_AUDIT_RECORDS (1000000), BENCH_WRITE_DOCS (1). Writes
 * bench/results/audit-verify-latest.json and the "Audit verify" section of docs/performance.md.
 * Records are inserted by SQL (generate_series, ~300 bytes of data each, the size of a step
 * record), unsealed, as appends would leave them; the sealer then links them.
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditSigningKey } from '../../src/audit/audit-digest';
import { AuditSealerService } from '../../src/audit/audit-sealer.service';
import { AuditRepository } from '../../src/audit/audit.repository';
import { AuditService } from '../../src/audit/audit.service';
import { FileDigestStore } from '../../src/audit/file-digest-store.adapter';
import { Clock } from '../../src/common/clock';
import { loadConfig } from '../../src/config/app.config';
import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { CpuReference, describeReference, normalize, printNormalized, referenceTable } from '../cpu-reference';
import { writeDocSection } from '../engine/doc-section';
import { createScratchDatabase } from '../engine/services';

const N = Number(process.env.BENCH_AUDIT_RECORDS ?? 1_000_000);
const WRITE_DOCS = process.env.BENCH_WRITE_DOCS !== '0';
const RESULTS = path.resolve(__dirname, '..', 'results');

async function main(): Promise<void> {
  const reference = await CpuReference.start();
  const scratch = await createScratchDatabase();
  const db = new PgDatabase(scratch.url, 4);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-bench-'));
  try {
    await migrate(db);
    const config = loadConfig({ RUNBOOKD_STATE_DIR: dir, RUNBOOKD_AUDIT_DIGEST_INTERVAL_MS: '86400000', RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS: '3600000' });
    const clock = new Clock();
    const key = AuditSigningKey.fromPem(AuditSigningKey.generatePem());
    const repository = new AuditRepository(db, clock, key.recordMac());
    const store = new FileDigestStore(path.join(dir, 'digests.jsonl'));
    const sealer = new AuditSealerService(repository, key, store, config, clock, key.recordMac());
    const service = new AuditService(repository, sealer, store, key, key.recordMac());

    const load = () =>
      os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ');
    const t0 = performance.now();
    for (let from = 1; from <= N; from += 100_000) {
      const to = Math.min(N, from + 99_999);
      await db.query(
        `INSERT INTO audit_events (seq, at, kind, run_id, actor, data)
         SELECT nextval('audit_events_seq'), timestamp '2026-01-01' + g * interval '1 millisecond', CASE WHEN g % 2 = 0 THEN 'step.ended' ELSE 'step.started' END,
                'run-' || (g / 26), 'system',
                jsonb_build_object('stepId', 'step-' || (g % 20), 'uses', 'core.noop', 'attempt', 1, 'durationMs', g % 97,
                  'output', jsonb_build_object('value', md5(g::text), 'note', 'padding to the size of a real step record', 'n', g))
           FROM generate_series($1::int, $2::int) AS g`,
        [from, to],
      );
    }
    const insertMs = performance.now() - t0;
    const loadAfterInsert = load();

    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const c1 = cpu();
    const t1 = performance.now();
    let sealed = 0;
    for (;;) {
      const round = await sealer.sealPending();
      sealed += round.sealed;
      if (round.sealed === 0) break;
    }
    await sealer.anchorNow();
    const sealMs = performance.now() - t1;
    const sealCpuMs = cpu() - c1;
    const loadAfterSeal = load();

    const c2 = cpu();
    const t2 = performance.now();
    const result = await service.verify();
    const verifyMs = performance.now() - t2;
    const verifyCpuMs = cpu() - c2;
    const loadAfterVerify = load();
    if (!result.ok || result.records !== N) throw new Error(`verify did not pass: ${JSON.stringify(result).slice(0, 400)}`);

    const [{ size }] = await db.query<{ size: string }>("SELECT pg_size_pretty(pg_total_relation_size('audit_events')) AS size");
    const cpuReference = await reference.finish();
    const normalized = normalize(cpuReference, {
      'seal wall time': { value: Math.round(sealMs), kind: 'ms' },
      'seal Node CPU': { value: Math.round(sealCpuMs), kind: 'ms' },
      'verify wall time': { value: Math.round(verifyMs), kind: 'ms' },
      'verify Node CPU': { value: Math.round(verifyCpuMs), kind: 'ms' },
    });
    const figures = {
      cpuReference,
      normalized,
      at: new Date().toISOString(),
      records: N,
      tableSize: size,
      insertSeconds: round1(insertMs / 1000),
      sealSeconds: round1(sealMs / 1000),
      sealRecordsPerSec: Math.round(sealed / (sealMs / 1000)),
      /** CPU the bench's Node process spent (hashing, JSON); on a busy machine wall time is mostly waiting for a core. */
      sealNodeCpuSeconds: round1(sealCpuMs / 1000),
      verifySeconds: round1(verifyMs / 1000),
      verifyRecordsPerSec: Math.round(N / (verifyMs / 1000)),
      verifyNodeCpuSeconds: round1(verifyCpuMs / 1000),
      load: { afterInsert: loadAfterInsert, afterSeal: loadAfterSeal, afterVerify: loadAfterVerify },
      machine: `${os.cpus().length} cores (${os.cpus()[0]?.model}), Node ${process.version}`,
    };
    console.log(JSON.stringify(figures, null, 2));
    console.log(describeReference(cpuReference));
    printNormalized(normalized);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'audit-verify-latest.json'), `${JSON.stringify(figures, null, 2)}\n`);
    if (WRITE_DOCS) {
      writeDocSection(
        'bench:audit-verify',
        `## Audit verify (${N.toLocaleString('en-US')} records)

Measured ${figures.at} by \`bench/audit/audit-verify.bench.ts\` on ${figures.machine}, local PostgreSQL, table ${size}.
Records inserted unsealed by SQL, sealed by \`AuditSealerService\` (batches of 2,000, one transaction each), then
verified by \`AuditService.verify\` (the code behind \`GET /v1/audit/verify\`): every record's hash and link, and the signed digest.

| step | wall time | rate | Node CPU | machine load (1 / 5 / 15 min) after it |
|---|---:|---:|---:|---|
| seal (link into the chain + digest) | ${figures.sealSeconds} s | ${figures.sealRecordsPerSec.toLocaleString('en-US')} records/s | ${figures.sealNodeCpuSeconds} s | ${loadAfterSeal} |
| verify | ${figures.verifySeconds} s | ${figures.verifyRecordsPerSec.toLocaleString('en-US')} records/s | ${figures.verifyNodeCpuSeconds} s | ${loadAfterVerify} |

${describeReference(cpuReference)}.

${referenceTable(normalized)}

Target: verify of 1,000,000 records ≤ 60 s — ${N >= 1_000_000 ? (verifyMs <= 60_000 ? '**met**' : '**not met**') : 'not measured at full size in this run'}.`,
      );
    }
  } finally {
    await db.close();
    await scratch.drop();
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
