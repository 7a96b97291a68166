import { Client } from 'pg';
import { Clock } from '../../src/common/clock';
import { REDACTED } from '../../src/common/redact';
import { sqlState } from '../../src/persistence/database';
import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import { AuditRepository } from '../../src/audit/audit.repository';
import { AUDIT_VERIFY_REASONS, AuditService } from '../../src/audit/audit.service';
import type { AuditEventInput } from '../../src/audit/audit.types';
import { createTestDatabase, type TestDatabase } from '../support/database';

class FixedClock extends Clock {
  constructor(private readonly at: string) {
    super();
  }
  override now(): Date {
    return new Date(this.at);
  }
}

/** A far-off session time zone (+13:45): `at` must still come back exactly as it was hashed. */
function withOddTimeZone(url: string): string {
  const u = new URL(url);
  u.searchParams.set('options', '-c TimeZone=Pacific/Chatham');
  return u.toString();
}

/**
 * pg's Pool.end() resolves before its connections have closed; a DROP ... WITH (FORCE) then
 * kills them mid-close and the pool, which has no error listener, raises an unhandled error.
 */
async function untilDisconnected(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/test';
  admin.search = '';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0].n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await client.end();
  }
}

const event = (i: number, runId: string | null = 'run-1'): AuditEventInput => ({
  kind: i % 2 ? 'step.started' : 'step.ended',
  runId,
  actor: 'system',
  data: { stepId: `s${i}`, n: i, nested: { b: [1, 'x', null], a: true }, ratio: 0.1 + 0.2 },
});

describe('audit log on PostgreSQL', () => {
  let testDb: TestDatabase;
  let db: PgDatabase;
  let repository: AuditRepository;
  let service: AuditService;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new PgDatabase(withOddTimeZone(testDb.url), 10);
    await migrate(db);
    repository = new AuditRepository(db, new Clock());
    service = new AuditService(repository);
  });

  afterAll(async () => {
    await db?.close();
    if (testDb) await untilDisconnected(testDb.url);
    await testDb?.drop();
  });

  /** The privileged attacker: owner of the table, switches the append-only triggers off. */
  async function asAttacker(...statements: string[]): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      for (const s of statements) await tx.query(s);
      await tx.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    });
  }

  async function freshChain(n: number): Promise<void> {
    await asAttacker('DELETE FROM audit_events');
    for (let i = 1; i <= n; i++) await service.append(event(i));
  }

  const storedHash = async (seq: number): Promise<string> =>
    (await db.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [seq]))[0].hash;

  it('chains appended records and verifies them', async () => {
    await freshChain(0);
    const first = await service.append({ kind: 'run.accepted', runId: 'run-9', actor: 'apikey:ops', data: { parameters: { cluster: 'orders' } } });
    const second = await service.append(event(2, 'run-9'));
    const third = await service.append({ kind: 'run.ended', runId: null, actor: 'system', data: {} });

    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, runId: 'run-9' });
    expect(second.prevHash).toBe(first.hash);
    expect(third).toMatchObject({ seq: 3, prevHash: second.hash, runId: null });
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);

    expect(await service.verify()).toEqual({ ok: true, records: 3, headHash: third.hash });
  });

  it('reads `at` and data back exactly as they were hashed, whatever the session time zone', async () => {
    await freshChain(0);
    const odd = new AuditRepository(db, new FixedClock('2024-02-29T23:59:59.999Z'));
    const written = await odd.append({
      kind: 'aws.request',
      actor: 'system',
      data: { when: new Date('2024-01-01T00:00:00.001Z'), big: 1e21, tiny: 1.5e-7, skip: undefined, text: 'nul\u0000 and \ud800' },
    });
    const [read] = await service.list({ limit: 10 });
    expect(read).toEqual(written);
    expect(read.at).toBe('2024-02-29T23:59:59.999Z');
    expect(hashRecord(read.prevHash, read)).toBe(read.hash);
    const [{ tz }] = await db.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
    expect(tz).toBe('Pacific/Chatham');
    expect(await service.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    await freshChain(3);
    for (const sql of [
      "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
      'DELETE FROM audit_events WHERE seq = 3',
      'TRUNCATE audit_events',
    ]) {
      const error = await db.query(sql).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(sqlState(error)).toBe('42501');
      expect((error as Error).message).toMatch(/append-only/);
    }
    expect(await service.verify()).toMatchObject({ ok: true, records: 3 });
  });

  it('detects a changed record', async () => {
    await freshChain(5);
    await asAttacker(`UPDATE audit_events SET data = jsonb_set(data, '{n}', '42') WHERE seq = 3`);
    expect(await service.verify()).toEqual({
      ok: false,
      records: 5,
      headHash: await storedHash(5),
      firstBadRecord: { seq: 3, reason: AUDIT_VERIFY_REASONS.badHash },
    });
  });

  it('detects a changed timestamp', async () => {
    await freshChain(3);
    await asAttacker(`UPDATE audit_events SET at = at - interval '1 hour' WHERE seq = 2`);
    expect(await service.verify()).toMatchObject({ ok: false, firstBadRecord: { seq: 2, reason: AUDIT_VERIFY_REASONS.badHash } });
  });

  it('detects a removed record', async () => {
    await freshChain(5);
    await asAttacker('DELETE FROM audit_events WHERE seq = 3');
    expect(await service.verify()).toMatchObject({
      ok: false,
      records: 4,
      firstBadRecord: { seq: 4, reason: 'record missing before this one' },
    });
  });

  it('detects the removal of the first record', async () => {
    await freshChain(3);
    await asAttacker('DELETE FROM audit_events WHERE seq = 1');
    expect(await service.verify()).toMatchObject({ ok: false, records: 2, firstBadRecord: { seq: 2, reason: AUDIT_VERIFY_REASONS.missing } });
  });

  it('detects a removal hidden by renumbering the records after it', async () => {
    await freshChain(5);
    await asAttacker(
      'DELETE FROM audit_events WHERE seq = 3',
      'UPDATE audit_events SET seq = seq + 1000 WHERE seq > 3',
      'UPDATE audit_events SET seq = seq - 1001 WHERE seq > 1000',
    );
    // Record 4, now numbered 3, still links to the hash of the record that was removed.
    expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { seq: 3, reason: AUDIT_VERIFY_REASONS.badLink } });
  });

  it('detects a forged record inserted with a made-up hash (records after it renumbered)', async () => {
    await freshChain(5);
    const prev = await storedHash(2);
    await asAttacker(
      'UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3',
      'UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000',
      `INSERT INTO audit_events (seq, at, kind, run_id, actor, data, prev_hash, hash)
       VALUES (3, now(), 'step.ended', 'run-1', 'system', '{"forged": true}', '${prev}', '${'ab'.repeat(32)}')`,
    );
    expect(await service.verify()).toMatchObject({ ok: false, records: 6, firstBadRecord: { seq: 3, reason: AUDIT_VERIFY_REASONS.badHash } });
  });

  it('detects a forged record whose own hash is right (the next link breaks)', async () => {
    await freshChain(5);
    const prevHash = await storedHash(2);
    const at = '2030-01-01T00:00:00.000Z';
    const content = { seq: 3, at, kind: 'step.ended' as const, runId: 'run-1', actor: 'system', data: { forged: true } };
    const hash = hashRecord(prevHash, content);
    await asAttacker(
      'UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3',
      'UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000',
      `INSERT INTO audit_events (seq, at, kind, run_id, actor, data, prev_hash, hash)
       VALUES (3, '${at}', 'step.ended', 'run-1', 'system', '{"forged": true}', '${prevHash}', '${hash}')`,
    );
    expect(await service.verify()).toMatchObject({ ok: false, records: 6, firstBadRecord: { seq: 4, reason: AUDIT_VERIFY_REASONS.badLink } });
  });

  it('detects a forged record appended at the end', async () => {
    await freshChain(3);
    await asAttacker(
      `INSERT INTO audit_events (seq, at, kind, run_id, actor, data, prev_hash, hash)
       VALUES (4, now(), 'run.ended', 'run-1', 'system', '{}', '${await storedHash(3)}', '${'cd'.repeat(32)}')`,
    );
    expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { seq: 4, reason: AUDIT_VERIFY_REASONS.badHash } });
  });

  it('detects two records swapped', async () => {
    await freshChain(4);
    await asAttacker(
      'UPDATE audit_events SET seq = 100 WHERE seq = 2',
      'UPDATE audit_events SET seq = 2 WHERE seq = 3',
      'UPDATE audit_events SET seq = 3 WHERE seq = 100',
    );
    expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { seq: 2, reason: AUDIT_VERIFY_REASONS.badLink } });
  });

  it('keeps the chain contiguous under 20 parallel appends from two connection pools', async () => {
    await freshChain(0);
    const other = new PgDatabase(withOddTimeZone(testDb.url), 10);
    try {
      const otherRepository = new AuditRepository(other, new Clock());
      const written = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? service.append(event(i)) : otherRepository.append(event(i)))),
      );
      expect(written.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await service.verify()).toMatchObject({ ok: true, records: 20 });
    } finally {
      await other.close();
    }
  });

  it("commits a record with the caller's transaction and leaves no gap when it rolls back", async () => {
    await freshChain(0);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (tx) => {
          await tx.query('SELECT 1');
          const record = await service.append(event(i, `run-${i}`), tx);
          if (i % 2) throw new Error(`caller failed after appending ${record.seq}`);
          return record;
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
    const records = await service.list({ limit: 100 });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records.map((r) => r.runId).sort()).toEqual(['run-0', 'run-2', 'run-4', 'run-6', 'run-8']);
    expect(await service.verify()).toMatchObject({ ok: true, records: 5 });
  });

  it('never stores a secret', async () => {
    await freshChain(0);
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    await service.append({
      kind: 'aws.request',
      runId: 'run-1',
      actor: 'system',
      data: {
        service: 'rds',
        operation: 'ModifyDBCluster',
        input: { DBClusterIdentifier: 'orders', MasterUserPassword: canary, Tags: [{ Key: 'a', apiKey: canary }] },
      },
    });
    await service.append({
      kind: 'run.accepted',
      runId: 'run-1',
      actor: 'apikey:ops',
      data: { parameters: { dbLogin: canary, cluster: 'orders' } },
      secretKeys: new Set(['dbLogin']),
    });
    const rows = await db.query<{ row: string }>('SELECT t::text AS row FROM audit_events t');
    expect(rows).toHaveLength(2);
    for (const { row } of rows) expect(row).not.toContain(canary);
    const [request, accepted] = await service.list({ limit: 10 });
    expect(request.data).toEqual({
      service: 'rds',
      operation: 'ModifyDBCluster',
      input: { DBClusterIdentifier: 'orders', MasterUserPassword: REDACTED, Tags: [{ Key: 'a', apiKey: REDACTED }] },
    });
    expect(accepted.data).toEqual({ parameters: { dbLogin: REDACTED, cluster: 'orders' } });
    expect(await service.verify()).toMatchObject({ ok: true, records: 2 });
  });

  it('lists by run, after a seq, with a limit, and iterates in batches', async () => {
    await freshChain(0);
    for (let i = 1; i <= 10; i++) await service.append(event(i, i % 3 === 0 ? 'run-a' : 'run-b'));
    expect((await service.list({ runId: 'run-a', limit: 10 })).map((r) => r.seq)).toEqual([3, 6, 9]);
    expect((await service.list({ runId: 'run-b', afterSeq: 4, limit: 2 })).map((r) => r.seq)).toEqual([5, 7]);
    expect((await service.list({ afterSeq: 8, limit: 100 })).map((r) => r.seq)).toEqual([9, 10]);
    const seen: number[] = [];
    for await (const r of repository.iterateAll(3)) seen.push(r.seq);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
