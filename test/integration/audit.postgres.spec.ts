import { Client } from 'pg';
import { Clock } from '../../src/common/clock';
import { REDACTED } from '../../src/common/redact';
import { sqlState } from '../../src/persistence/database';
import { migrate } from '../../src/persistence/migrator';
import { PgDatabase } from '../../src/persistence/pg.database';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { AuditSigningKey } from '../../src/audit/audit-digest';
import { GENESIS_HASH, hashRecord } from '../../src/audit/audit-hash';
import { AUDIT_SEALER_LOCK_KEY, AuditRepository } from '../../src/audit/audit.repository';
import { AUDIT_VERIFY_REASONS, AuditService } from '../../src/audit/audit.service';
import type { AuditEventInput } from '../../src/audit/audit.types';
import { S3DigestStore } from '../../src/audit/s3-digest-store.adapter';
import { main as offlineVerify } from '../../src/audit/audit-verify.main';
import { auditParts, TEST_AUDIT_KEY, type AuditParts } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort, startMoto, type MotoServer } from '../support/moto';

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
  let parts: AuditParts;
  let service: AuditService;
  let repository: AuditRepository;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new PgDatabase(withOddTimeZone(testDb.url), 10);
    await migrate(db);
    parts = auditParts(db);
    ({ service, repository } = parts);
  });

  afterAll(async () => {
    await db?.close();
    if (testDb) await untilDisconnected(testDb.url);
    await testDb?.drop();
  });

  /** The privileged attacker: owner of the table (superuser here), switches the append-only triggers off. */
  async function asAttacker(...statements: string[]): Promise<void> {
    await db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_events DISABLE TRIGGER ALL');
      for (const s of statements) await tx.query(s);
      await tx.query('ALTER TABLE audit_events ENABLE TRIGGER ALL');
    });
  }

  /** A new log of n records, anchored by a digest after every `anchorEvery` records (and at the end). */
  async function freshChain(n: number, anchorEvery = n): Promise<void> {
    await asAttacker('DELETE FROM audit_events', 'DELETE FROM audit_digests');
    writeFileSync(parts.digestFile, '');
    for (let i = 1; i <= n; i++) {
      await service.append(event(i));
      if (i % anchorEvery === 0 || i === n) await service.anchorNow();
    }
  }

  const stored = async (position: number) =>
    (await db.query<{ seq: number; hash: string; prev_hash: string }>('SELECT seq, hash, prev_hash FROM audit_events WHERE chain_pos = $1', [position]))[0];

  /** What an attacker who knows the format but not the signing key can do: recompute every link from `from` on. */
  async function recomputeChain(): Promise<void> {
    const rows = await db.query<{ seq: number }>('SELECT seq FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos');
    let prev = GENESIS_HASH;
    const statements: string[] = [];
    let pos = 0;
    for (const { seq } of rows) {
      pos++;
      const [r] = await service.list({ afterSeq: seq - 1, limit: 1 });
      const hash = hashRecord(prev, r);
      statements.push(`UPDATE audit_events SET chain_pos = ${pos}, prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${seq}`);
      prev = hash;
    }
    await asAttacker('UPDATE audit_events SET chain_pos = -chain_pos', ...statements);
  }

  it('writes a record without a hash, seals it into the chain and anchors the chain in a signed digest', async () => {
    await freshChain(0);
    const first = await service.append({ kind: 'run.accepted', runId: 'run-9', actor: 'apikey:ops', data: { parameters: { cluster: 'orders' } } });
    const [second, third] = await service.appendMany([event(2, 'run-9'), { kind: 'run.ended', runId: null, actor: 'system', data: {} }]);
    expect(first).toMatchObject({ position: null, prevHash: null, hash: null, runId: 'run-9' });
    expect([second.seq, third.seq]).toEqual([first.seq + 1, first.seq + 2]);

    expect(await parts.sealer.anchorNow()).toMatchObject({ sealer: true, sealed: 3, digest: 1, published: 1 });
    const [a, b, c] = await service.list({ limit: 10 });
    expect(a).toMatchObject({ seq: first.seq, position: 1, prevHash: GENESIS_HASH });
    expect(b).toMatchObject({ position: 2, prevHash: a.hash });
    expect(c).toMatchObject({ position: 3, prevHash: b.hash, runId: null });
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);

    const digests = readFileSync(parts.digestFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(digests).toEqual([
      expect.objectContaining({ number: 1, position: 3, headHash: c.hash, previousDigestHash: null, keyId: parts.sealer['key'].keyId }),
    ]);
    expect(await service.verify()).toEqual({
      ok: true,
      records: 3,
      headHash: c.hash,
      anchors: expect.objectContaining({ readable: true, digests: 1, anchoredRecords: 3, unanchored: [], badDigests: [], unsealed: 0 }),
      authentication: { checked: true, beforeAuthentication: { records: 0, throughSeq: 0 }, unauthenticated: [], quarantined: [] },
    });
  });

  it('reads `at` and data back exactly as they were hashed, whatever the session time zone', async () => {
    await freshChain(0);
    const odd = new AuditRepository(db, new FixedClock('2024-02-29T23:59:59.999Z'), TEST_AUDIT_KEY.recordMac());
    await odd.append({
      kind: 'aws.request',
      actor: 'system',
      data: { when: new Date('2024-01-01T00:00:00.001Z'), big: 1e21, tiny: 1.5e-7, skip: undefined, text: 'nul\u0000 and \ud800' },
    });
    await service.anchorNow();
    const [read] = await service.list({ limit: 10 });
    expect(read.at).toBe('2024-02-29T23:59:59.999Z');
    expect(hashRecord(read.prevHash!, read)).toBe(read.hash);
    const [{ tz }] = await db.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
    expect(tz).toBe('Pacific/Chatham');
    expect(await service.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('refuses UPDATE, DELETE, TRUNCATE and a second sealing in the database itself', async () => {
    await freshChain(3);
    const unsealed = await service.append(event(4));
    for (const sql of [
      "UPDATE audit_events SET actor = 'mallory' WHERE chain_pos = 2",
      `UPDATE audit_events SET hash = '${'ab'.repeat(32)}' WHERE chain_pos = 3`,
      // The sealer's own UPDATE is allowed only for the chain columns of an unsealed record.
      `UPDATE audit_events SET actor = 'mallory', chain_pos = 99, prev_hash = 'x', hash = 'y' WHERE seq = ${unsealed.seq}`,
      'DELETE FROM audit_events WHERE chain_pos = 3',
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
    expect(await service.verify()).toMatchObject({ ok: true, records: 4 });
  });

  describe("tampering by someone with the database owner's rights (triggers disabled)", () => {
    it('detects a changed record', async () => {
      await freshChain(6, 3);
      await asAttacker(`UPDATE audit_events SET data = jsonb_set(data, '{n}', '42') WHERE chain_pos = 3`);
      const result = await service.verify();
      expect(result).toMatchObject({
        ok: false,
        records: 6,
        firstBadRecord: { position: 3, seq: (await stored(3)).seq, reason: AUDIT_VERIFY_REASONS.badHash },
      });
    });

    it('detects a changed timestamp', async () => {
      await freshChain(3);
      await asAttacker(`UPDATE audit_events SET at = at - interval '1 hour' WHERE chain_pos = 2`);
      expect(await service.verify()).toMatchObject({ ok: false, firstBadRecord: { position: 2, reason: AUDIT_VERIFY_REASONS.badHash } });
    });

    it('detects a removed record', async () => {
      await freshChain(5);
      await asAttacker('DELETE FROM audit_events WHERE chain_pos = 3');
      expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { position: 4, reason: AUDIT_VERIFY_REASONS.missing } });
    });

    it('detects a removal hidden by renumbering the records after it', async () => {
      await freshChain(5);
      await asAttacker(
        'DELETE FROM audit_events WHERE chain_pos = 3',
        'UPDATE audit_events SET chain_pos = -(chain_pos - 1) WHERE chain_pos > 3',
        'UPDATE audit_events SET chain_pos = -chain_pos WHERE chain_pos < 0',
      );
      expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { position: 3, reason: AUDIT_VERIFY_REASONS.badLink } });
    });

    it('detects a forged record inserted with a correct hash of its own (the next link breaks)', async () => {
      await freshChain(5);
      const prev = await stored(2);
      const content = { seq: 1_000_000, at: '2030-01-01T00:00:00.000Z', kind: 'step.ended' as const, runId: 'run-1', actor: 'system', data: { forged: true } };
      await asAttacker(
        'UPDATE audit_events SET chain_pos = -(chain_pos + 1) WHERE chain_pos >= 3',
        'UPDATE audit_events SET chain_pos = -chain_pos WHERE chain_pos < 0',
        `INSERT INTO audit_events (seq, chain_pos, at, kind, run_id, actor, data, prev_hash, hash)
         VALUES (1000000, 3, '${content.at}', 'step.ended', 'run-1', 'system', '{"forged": true}', '${prev.hash}', '${hashRecord(prev.hash, content)}')`,
      );
      expect(await service.verify()).toMatchObject({ ok: false, records: 6, firstBadRecord: { position: 4, reason: AUDIT_VERIFY_REASONS.badLink } });
    });

    it('detects two records swapped', async () => {
      await freshChain(4);
      await asAttacker(
        'UPDATE audit_events SET chain_pos = 100 WHERE chain_pos = 2',
        'UPDATE audit_events SET chain_pos = 2 WHERE chain_pos = 3',
        'UPDATE audit_events SET chain_pos = 3 WHERE chain_pos = 100',
      );
      expect(await service.verify()).toMatchObject({ ok: false, records: 4, firstBadRecord: { position: 2, reason: AUDIT_VERIFY_REASONS.badLink } });
    });

    it('detects the newest records removed, which leave a valid shorter chain: the digest counted them', async () => {
      await freshChain(8, 4);
      await asAttacker('DELETE FROM audit_events WHERE chain_pos > 5');
      const result = await service.verify();
      expect(result).toMatchObject({ ok: false, records: 5, missingTail: { fromPosition: 6, toPosition: 8, digest: 2 } });
      expect(result.firstBadRecord).toBeUndefined();
    });

    it('detects a change whose whole chain was recomputed after it, naming the interval between the last good digest and the first bad one', async () => {
      await freshChain(9, 3);
      await asAttacker(`UPDATE audit_events SET data = jsonb_set(data, '{n}', '42') WHERE chain_pos = 5`);
      await recomputeChain();
      const result = await service.verify();
      expect(result).toMatchObject({ ok: false, records: 9, anchors: { anchoredRecords: 3 } });
      expect(result.firstBadRecord).toEqual({
        seq: (await stored(4)).seq,
        position: 4,
        reason: expect.stringMatching(/does not match signed digest 2 .*positions 4–6/),
      });
    });

    it('detects a tail replaced by forged records with a recomputed chain', async () => {
      await freshChain(6, 3);
      await asAttacker('DELETE FROM audit_events WHERE chain_pos > 4');
      await service.append(event(77));
      await service.append(event(78));
      const result = await service.verify();
      expect(result).toMatchObject({ ok: false, records: 6, firstBadRecord: { position: 4, reason: expect.stringMatching(/signed digest 2/) } });
    });

    it('refuses a digest forged with another key or edited in the store', async () => {
      await freshChain(3);
      const other = AuditSigningKey.fromPem(AuditSigningKey.generatePem());
      const genuine = JSON.parse(readFileSync(parts.digestFile, 'utf8').trim());
      const forged = other.sign({ ...genuine, number: 2, keyId: genuine.keyId });
      const edited = { ...genuine, number: 3, position: 2 };
      writeFileSync(parts.digestFile, `${JSON.stringify(genuine)}\n${JSON.stringify(forged)}\n${JSON.stringify(edited)}\n`);
      const result = await service.verify();
      expect(result.ok).toBe(false);
      expect(result.anchors.badDigests).toEqual([
        { number: 2, reason: 'signature does not verify' },
        { number: 3, reason: 'signature does not verify' },
      ]);
    });
  });

  it('is verified offline from the database, the digest file and the public key alone, which name what is wrong', async () => {
    await freshChain(6, 3);
    const pub = path.join(path.dirname(parts.digestFile), 'audit.pub.pem');
    writeFileSync(pub, TEST_AUDIT_KEY.publicKeyPem());
    const run = async () => {
      const out: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
      try {
        const code = await offlineVerify(['--database-url', testDb.url, '--digests', parts.digestFile, '--public-key', pub]);
        return { code, result: JSON.parse(out.join('')) };
      } finally {
        write.mockRestore();
      }
    };
    expect(await run()).toMatchObject({ code: 0, result: { ok: true, records: 6, anchors: { digests: 2, anchoredRecords: 6 } } });
    await asAttacker('DELETE FROM audit_events WHERE chain_pos > 4');
    expect(await run()).toMatchObject({ code: 1, result: { ok: false, records: 4, missingTail: { fromPosition: 5, toPosition: 6, digest: 2 } } });
  });

  it('verify waits for a sealer busy elsewhere and checks every record committed before it was asked', async () => {
    await freshChain(0);
    await service.appendMany(Array.from({ length: 5 }, (_, i) => event(i, 'verify-wait')));
    // Another replica's sealer holds the lock (mid-batch) when verify is asked.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const hasLock = new Promise<void>((r) => (locked = r));
    const other = db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_SEALER_LOCK_KEY}::bigint)`);
      locked();
      await held;
    });
    await hasLock;
    const verifying = service.verify();
    await new Promise((r) => setTimeout(r, 200));
    release();
    await other;
    expect(await verifying).toMatchObject({ ok: true, records: 5 });
  });

  it('counts every record while the sealer commits (the count /metrics shows never dips)', async () => {
    await freshChain(0);
    let total = 0;
    const seen: number[] = [];
    for (let round = 0; round < 15; round++) {
      await service.appendMany(Array.from({ length: 200 }, (_, i) => event(i, `count-${round}`)));
      total += 200;
      let sealing = true;
      const sealed = parts.sealer.sealPending().finally(() => (sealing = false));
      while (sealing) seen.push((await service.head()).seq - total);
      await sealed;
      seen.push((await service.head()).seq - total);
    }
    expect(seen.filter((d) => d !== 0)).toEqual([]);
  });

  it('seals a record that commits after one with a higher seq, after it, and the chain stays valid', async () => {
    await freshChain(0);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let early!: number;
    const slow = db.transaction(async (tx) => {
      early = (await service.append(event(1, 'slow'), tx)).seq;
      await held;
    });
    await new Promise((r) => setTimeout(r, 50));
    const late = await service.append(event(2, 'fast'));
    expect(late.seq).toBeGreaterThan(early);
    expect(await parts.sealer.sealPending()).toMatchObject({ sealed: 1 });
    release();
    await slow;
    expect(await parts.sealer.sealPending()).toMatchObject({ sealed: 1 });
    const records = await service.list({ limit: 10 });
    expect(records.map((r) => [r.seq, r.position])).toEqual([
      [early, 2],
      [late.seq, 1],
    ]);
    expect(await service.verify()).toMatchObject({ ok: true, records: 2 });
  });

  it('keeps one valid chain under concurrent appends and sealers in four processes, rollbacks included', async () => {
    await freshChain(0);
    const fixture = path.join(__dirname, 'fixtures', 'audit-appender.ts');
    const runChild = (label: string) =>
      new Promise<number[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['-r', '@swc-node/register', fixture, testDb.url, '60', label, parts.digestFile], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, RUNBOOKD_TEST_AUDIT_KEY: TEST_AUDIT_KEY.privateKeyPem() },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${label} exited ${code}: ${err}`))));
      });
    const sealing = (async () => {
      for (let i = 0; i < 200; i++) {
        await parts.sealer.sealPending();
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const committed = (await Promise.all(['p1', 'p2', 'p3'].map(runChild))).flat();
    await sealing;
    await service.anchorNow();

    const rows = await db.query<{ seq: number; chain_pos: number }>('SELECT seq, chain_pos FROM audit_events ORDER BY chain_pos');
    expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...committed].sort((a, b) => a - b));
    expect(rows.map((r) => r.chain_pos)).toEqual(rows.map((_, i) => i + 1));
    // 3 processes × 60 transactions of 1–3 records, every 4th rolled back.
    const perProcess = Array.from({ length: 60 }, (_, i) => (i % 4 === 3 ? 0 : 1 + (i % 3))).reduce((a, b) => a + b, 0);
    expect(committed.length).toBe(3 * perProcess);
    expect(await service.verify()).toMatchObject({ ok: true, records: committed.length, anchors: { anchoredRecords: committed.length, unanchored: [] } });
  });

  describe('digest publication to S3 (moto)', () => {
    let moto: MotoServer;
    const bucket = 'audit-digests';
    beforeAll(async () => {
      moto = await startMoto();
      const s3 = new S3Client({
        region: 'us-east-1',
        endpoint: moto.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
      await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
      s3.destroy();
    });
    afterAll(async () => {
      await moto?.stop();
    });

    const s3Store = (endpoint: string) => new S3DigestStore({ bucket, prefix: 'prod/', region: 'us-east-1', endpoint, retentionDays: 30, timeoutMs: 1000 });

    it('keeps a digest the store could not take, says which records it leaves unanchored, and publishes it after a restart', async () => {
      process.env.AWS_ACCESS_KEY_ID ??= 'test';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
      await freshChain(0);
      const down = s3Store(`http://127.0.0.1:${await freePort()}`);
      const before = auditParts(db, { store: down });
      for (let i = 1; i <= 4; i++) await before.service.append(event(i));
      expect(await before.sealer.anchorNow()).toMatchObject({ sealed: 4, digest: 1, published: 0 });
      const unreachable = await before.service.verify();
      expect(unreachable).toMatchObject({ ok: true, records: 4, anchors: { readable: false, digests: 0, anchoredRecords: 0 } });
      expect(unreachable.anchors.unanchored).toEqual([{ fromPosition: 1, toPosition: 4, reason: expect.stringMatching(/^digest store unreadable/) }]);
      down.close();

      // "Restart": a new process with the store back. The digest waited in the outbox; it is retried when due.
      const up = s3Store(moto.endpoint);
      const after = auditParts(db, { store: up });
      const [pending] = await after.repository.unpublishedDigests(false);
      expect(pending).toMatchObject({ number: 1, position: 4, attempts: 1, lastError: expect.stringMatching(/\S/) });
      const seenBefore = await after.service.verify();
      expect(seenBefore.anchors.unanchored).toEqual([
        { fromPosition: 1, toPosition: 4, reason: expect.stringMatching(/^digest 1 not published: store unreachable after 1 attempt/) },
      ]);
      await db.query('UPDATE audit_digests SET next_attempt_at = now() WHERE number = 1'); // skip the 1 s backoff
      await after.sealer.tick();
      expect(await after.repository.unpublishedDigests(false)).toEqual([]);
      expect(await after.service.verify()).toMatchObject({ ok: true, records: 4, anchors: { readable: true, digests: 1, anchoredRecords: 4, unanchored: [] } });

      const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: up.key(1) }));
      expect(head.ObjectLockMode).toBe('COMPLIANCE');
      expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
      s3.destroy();
      up.close();
    });
  });

  it("commits a record with the caller's transaction and leaves nothing when it rolls back", async () => {
    await freshChain(0);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (tx) => {
          const record = await service.append(event(i, `run-${i}`), tx);
          if (i % 2) throw new Error(`caller failed after appending ${record.seq}`);
          return record;
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
    await service.anchorNow();
    const records = await service.list({ limit: 100 });
    expect(records.map((r) => r.runId).sort()).toEqual(['run-0', 'run-2', 'run-4', 'run-6', 'run-8']);
    expect(records.map((r) => r.position).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await service.verify()).toMatchObject({ ok: true, records: 5 });
  });

  it("appends from many callers at once without a transaction in a few INSERTs, each committed before it resolves, in each caller's order", async () => {
    await freshChain(0);
    const statements: string[] = [];
    const query = db.query.bind(db);
    const spy = jest.spyOn(db, 'query').mockImplementation((sql: string, params?: readonly unknown[]) => {
      if (sql.startsWith('INSERT INTO audit_events')) statements.push(sql);
      return query(sql, params);
    });
    let seqs: number[][];
    try {
      // 40 callers, each appending 3 records one after the other.
      seqs = await Promise.all(
        Array.from({ length: 40 }, async (_, c) => {
          const mine: number[] = [];
          for (let i = 0; i < 3; i++) mine.push((await service.append({ kind: 'step.ended', runId: `run-${c}`, actor: 'system', data: { caller: c, i } })).seq);
          // Committed by the time it resolved: another connection sees it.
          expect(await query('SELECT 1 FROM audit_events WHERE seq = $1', [mine[2]])).toHaveLength(1);
          return mine;
        }),
      );
    } finally {
      spy.mockRestore();
    }
    // Group-committed: 120 records in far fewer INSERTs (one a record before).
    expect(statements.length).toBeLessThan(40);
    for (const [c, mine] of seqs.entries()) {
      expect([...mine].sort((a, b) => a - b)).toEqual(mine);
      const rows = await service.list({ runId: `run-${c}`, limit: 10 });
      expect(rows.map((r) => [r.seq, r.data.i])).toEqual(mine.map((seq, i) => [seq, i]));
    }
    await service.anchorNow();
    expect(await service.verify()).toMatchObject({ ok: true, records: 120 });
  });

  it('fails only the record the database refuses when appends share an INSERT', async () => {
    await freshChain(0);
    // Ten callers at once; caller 7's record has no actor (NOT NULL).
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, c) =>
        service.append({ kind: 'step.ended', runId: `run-${c}`, actor: c === 7 ? (null as unknown as string) : 'system', data: { caller: c } }),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(outcomes.map((_, c) => (c === 7 ? 'rejected' : 'fulfilled')));
    expect((await service.list({ limit: 100 })).map((r) => r.data.caller).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9]);
  });

  it('an idle sealer round costs one statement, and the next record is sealed and anchored all the same', async () => {
    await freshChain(3);
    await parts.sealer.tick();
    const statements: string[] = [];
    const query = db.query.bind(db);
    const transaction = db.transaction.bind(db);
    const spies = [
      jest.spyOn(db, 'query').mockImplementation((sql: string, params?: readonly unknown[]) => {
        statements.push(sql);
        return query(sql, params);
      }),
      jest.spyOn(db, 'transaction').mockImplementation((fn) => {
        statements.push('BEGIN');
        return transaction(fn);
      }),
    ];
    try {
      // Everything sealed, anchored and published: a round only asks whether there is work.
      for (let i = 0; i < 5; i++) await parts.sealer.tick();
      expect(statements).toHaveLength(5);
      statements.length = 0;
      await service.append(event(4));
      await parts.sealer.tick();
      expect(statements.length).toBeGreaterThan(2);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    const [fourth] = await service.list({ afterSeq: 0, limit: 10 }).then((r) => r.filter((x) => x.data.n === 4));
    expect(fourth.position).toBe(4);
    await service.anchorNow();
    expect(await service.verify()).toMatchObject({ ok: true, records: 4 });
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
    await service.anchorNow();
    const rows = await db.query<{ row: string }>('SELECT t::text AS row FROM audit_events t');
    expect(rows).toHaveLength(2);
    for (const { row } of rows) expect(row).not.toContain(canary);
    expect(readFileSync(parts.digestFile, 'utf8')).not.toContain(canary);
    const [request, accepted] = await service.list({ limit: 10 });
    expect(request.data).toEqual({
      service: 'rds',
      operation: 'ModifyDBCluster',
      input: { DBClusterIdentifier: 'orders', MasterUserPassword: REDACTED, Tags: [{ Key: 'a', apiKey: REDACTED }] },
    });
    expect(accepted.data).toEqual({ parameters: { dbLogin: REDACTED, cluster: 'orders' } });
    expect(await service.verify()).toMatchObject({ ok: true, records: 2 });
  });

  it('lists by run, after a seq, with a limit, and iterates the chain in batches', async () => {
    await freshChain(0);
    const written = [];
    for (let i = 1; i <= 10; i++) written.push(await service.append(event(i, i % 3 === 0 ? 'run-a' : 'run-b')));
    await service.anchorNow();
    const s = written.map((r) => r.seq);
    expect((await service.list({ runId: 'run-a', limit: 10 })).map((r) => r.seq)).toEqual([s[2], s[5], s[8]]);
    expect((await service.list({ runId: 'run-b', afterSeq: s[3], limit: 2 })).map((r) => r.seq)).toEqual([s[4], s[6]]);
    const seen: number[] = [];
    for await (const r of repository.iterateSealed(3)) seen.push(r.position);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
