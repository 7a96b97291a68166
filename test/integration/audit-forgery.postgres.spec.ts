/**
 * Audit rows runbookd never wrote (issue 23, hole 2). The attacker has INSERT rights on
 * audit_events and nothing else: every forgery here is a plain INSERT through the table's
 * triggers, never a trigger switched off. Each one must be named by verify online and offline
 * (with the auditors' record key), and never be anchored by a digest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { hashRecord } from '../../src/audit/audit-hash';
import { main as offlineVerify } from '../../src/audit/audit-verify.main';
import type { AuditEventInput } from '../../src/audit/audit.types';
import { migrate } from '../../src/persistence/migrator';
import { MIGRATION_LIST } from '../../src/persistence/migration-list';
import { PgDatabase } from '../../src/persistence/pg.database';
import { auditParts, TEST_AUDIT_KEY, type AuditParts } from '../support/audit';
import { createTestDatabase, type TestDatabase } from '../support/database';

jest.setTimeout(180_000);

const genuine = (i: number): AuditEventInput => ({ kind: 'step.ended', runId: `run-${i % 7}`, actor: 'system', data: { stepId: `s${i}`, n: i } });

/** The forger's row: what issue 23 tried (a run accepted, by mallory). */
const FORGED = {
  at: '2026-12-07T10:00:00.000Z',
  kind: 'run.accepted',
  runId: 'run-forged',
  actor: 'mallory',
  data: { runbookId: 'failover-test', parameters: {} },
};

describe('audit rows runbookd did not write', () => {
  let testDb: TestDatabase;
  let db: PgDatabase;
  let parts: AuditParts;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-forgery-'));
  const pub = path.join(dir, 'audit.pub.pem');
  const recordKey = path.join(dir, 'audit-record.key');
  const logged: string[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new PgDatabase(testDb.url, 10);
    await migrate(db);
    parts = auditParts(db);
    writeFileSync(pub, TEST_AUDIT_KEY.publicKeyPem());
    writeFileSync(recordKey, TEST_AUDIT_KEY.recordMac().exportKey());
    for (const level of ['log', 'warn', 'error'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => void logged.push(String(args[0])));
    }
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await db?.close();
    await testDb?.drop();
  });

  async function reset(): Promise<void> {
    // The test's own reset, as the table owner; the forgeries below never do this.
    await db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
      await tx.query('DELETE FROM audit_events');
      await tx.query('DELETE FROM audit_digests');
      await tx.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
    });
    writeFileSync(parts.digestFile, '');
  }

  async function offline(withKey = true): Promise<{ code: number; out: any }> {
    let out = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => ((out += String(chunk)), true));
    try {
      const code = await offlineVerify([
        '--database-url',
        testDb.url,
        '--digests',
        parts.digestFile,
        '--public-key',
        pub,
        ...(withKey ? ['--record-key', recordKey] : []),
      ]);
      return { code, out: out ? JSON.parse(out) : undefined };
    } finally {
      write.mockRestore();
    }
  }

  async function head(): Promise<{ seq: number; pos: number; hash: string }> {
    const [r] = await db.query<any>('SELECT seq, chain_pos, hash FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1');
    return { seq: Number(r.seq), pos: Number(r.chain_pos), hash: r.hash };
  }

  /** A chain of `n` genuine records, sealed and anchored. */
  async function genuineChain(n: number): Promise<void> {
    await reset();
    await parts.service.appendMany(Array.from({ length: n }, (_, i) => genuine(i)));
    await parts.service.anchorNow();
  }

  async function insertForged(extra: Record<string, unknown> = {}): Promise<number> {
    const cols = { at: FORGED.at, kind: FORGED.kind, run_id: FORGED.runId, actor: FORGED.actor, data: JSON.stringify(FORGED.data), ...extra };
    const names = Object.keys(cols);
    const [row] = await db.query<{ seq: string }>(
      `INSERT INTO audit_events (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING seq`,
      Object.values(cols),
    );
    return Number(row.seq);
  }

  /** What every detected forgery must look like: named online and offline, out of the chain, the newest digest on a genuine head. */
  async function expectCaught(seq: number, genuineHead: { hash: string; pos: number }): Promise<void> {
    const off = await offline();
    expect(off.code).toBe(1);
    expect(off.out.ok).toBe(false);
    const named = [...off.out.authentication.unauthenticated, ...off.out.authentication.quarantined].map((r: any) => r.seq);
    expect(named).toContain(seq);

    const online = await parts.service.verify();
    expect(online.ok).toBe(false);
    expect(online.authentication.quarantined.map((q) => q.seq)).toContain(seq);
    expect(online.authentication.quarantined.find((q) => q.seq === seq)!.reason).toMatch(/not authenticated|before-authentication/);

    // Kept as evidence, not in the chain.
    const [row] = await db.query<any>('SELECT chain_pos, quarantine_reason FROM audit_events WHERE seq = $1', [seq]);
    expect(row.chain_pos).toBeNull();
    expect(row.quarantine_reason).toMatch(/not authenticated|before-authentication/);

    // Genuine records keep being sealed after it, and the next digest anchors the genuine head.
    await parts.service.append(genuine(99_999));
    const anchored = await parts.service.anchorNow();
    expect(anchored.digest).toBeDefined();
    const digests = readFileSync(parts.digestFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = digests[digests.length - 1];
    const h = await head();
    expect(h.pos).toBe(genuineHead.pos + 1);
    expect(last.position).toBe(h.pos);
    expect(last.headHash).toBe(h.hash);
    const [{ n }] = await db.query<any>(`SELECT count(*)::int AS n FROM audit_events WHERE chain_pos IS NOT NULL AND actor = 'mallory'`);
    expect(n).toBe(0);
    expect(logged.some((m) => m.includes('AUDIT FORGERY SUSPECTED') && m.includes(`seq ${seq}`))).toBe(true);
    // The forger's row is still named after more sealing: quarantine is for good.
    expect((await parts.service.verify()).authentication.quarantined.map((q) => q.seq)).toContain(seq);
  }

  it('an unsealed INSERT (run.accepted by mallory) is quarantined, not sealed', async () => {
    await genuineChain(20);
    const before = await head();
    const seq = await insertForged();
    const round = await parts.sealer.sealPending();
    expect(round).toMatchObject({ sealed: 0, quarantined: 1 });
    await expectCaught(seq, before);
  });

  it('an unsealed INSERT with a made-up MAC under the real key id is quarantined', async () => {
    await genuineChain(5);
    const before = await head();
    const seq = await insertForged({ auth_key_id: parts.mac.keyId, auth_mac: Buffer.alloc(44, 7).toString('base64url') });
    await expectCaught(seq, before);
  });

  it('a genuine MAC copied onto a new row (a replay) is refused by the database', async () => {
    await genuineChain(3);
    const [g] = await db.query<any>('SELECT at, kind, run_id, actor, data, auth_key_id, auth_mac FROM audit_events ORDER BY seq LIMIT 1');
    await expect(
      db.query('INSERT INTO audit_events (at, kind, run_id, actor, data, auth_key_id, auth_mac) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        g.at,
        g.kind,
        g.run_id,
        g.actor,
        g.data,
        g.auth_key_id,
        g.auth_mac,
      ]),
    ).rejects.toThrow(/audit_events_auth_mac/);
  });

  it('a new row cannot pass as one written before authentication', async () => {
    await genuineChain(3);
    await expect(insertForged({ auth_key_id: 'before-authentication' })).rejects.toThrow(/before-authentication/);
  });

  it('a row INSERTed sealed at the tail, chain hash NOT recomputed, is named offline, then taken out of the chain and never anchored', async () => {
    await genuineChain(10);
    const before = await head();
    const seq = await insertForged({ chain_pos: before.pos + 1, prev_hash: before.hash, hash: 'f'.repeat(64) });
    await expectCaught(seq, before);
  });

  it('a row INSERTed sealed at the tail WITH a correctly recomputed chain hash is named offline, then taken out of the chain and never anchored', async () => {
    await genuineChain(10);
    const before = await head();
    const [{ next }] = await db.query<any>(`SELECT nextval('audit_events_seq') AS next`);
    const seq = Number(next);
    const hash = hashRecord(before.hash, {
      seq,
      at: FORGED.at,
      kind: FORGED.kind as 'run.accepted',
      runId: FORGED.runId,
      actor: FORGED.actor,
      data: FORGED.data,
    });
    await insertForged({ seq, chain_pos: before.pos + 1, prev_hash: before.hash, hash });
    // The chain itself is consistent: only the record MAC tells it apart.
    const off = await offline(false);
    expect(off.out.firstBadRecord).toBeUndefined();
    expect(off.out.authentication.checked).toBe(false);
    await expectCaught(seq, before);
  });

  it('several forged rows stacked at the tail are all taken out, the genuine head restored', async () => {
    await genuineChain(4);
    const before = await head();
    let prev = before.hash;
    const seqs: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const [{ next }] = await db.query<any>(`SELECT nextval('audit_events_seq') AS next`);
      const seq = Number(next);
      const hash = hashRecord(prev, { seq, at: FORGED.at, kind: 'run.accepted', runId: FORGED.runId, actor: FORGED.actor, data: FORGED.data });
      await insertForged({ seq, chain_pos: before.pos + i, prev_hash: prev, hash });
      prev = hash;
      seqs.push(seq);
    }
    const round = await parts.sealer.sealPending();
    expect(round.quarantined).toBe(3);
    await expectCaught(seqs[0], before);
    const named = (await parts.service.verify()).authentication.quarantined.map((q) => q.seq);
    expect(named).toEqual(expect.arrayContaining(seqs));
  });

  it('a genuine burst of 10,000 records through the group commit still verifies, online and offline', async () => {
    await reset();
    await Promise.all(Array.from({ length: 100 }, (_, b) => Promise.all(Array.from({ length: 100 }, (_, i) => parts.service.append(genuine(b * 100 + i))))));
    const online = await parts.service.verify();
    expect(online).toMatchObject({ ok: true, records: 10_000 });
    expect(online.authentication).toMatchObject({ checked: true, unauthenticated: [], quarantined: [] });
    await parts.service.anchorNow();
    const off = await offline();
    expect(off.code).toBe(0);
    expect(off.out).toMatchObject({ ok: true, records: 10_000, authentication: { checked: true, unauthenticated: [], quarantined: [] } });
    // The key never reaches the log, the verify result or the rows.
    const secret = TEST_AUDIT_KEY.recordMac().exportKey();
    expect(logged.join('\n')).not.toContain(secret);
    expect(JSON.stringify(off.out)).not.toContain(secret);
    const [{ hit }] = await db.query<any>(`SELECT count(*)::int AS hit FROM audit_events WHERE strpos(audit_events::text, $1) > 0`, [secret]);
    expect(hit).toBe(0);
  });
});

describe('records written before authentication', () => {
  it('are marked so by the migration, not re-signed, and verify reports them as such', async () => {
    const testDb = await createTestDatabase();
    const db = new PgDatabase(testDb.url, 4);
    try {
      const upTo15 = { ...MIGRATION_LIST, migrations: MIGRATION_LIST.migrations.filter((m) => m.version <= 16) };
      await migrate(db, upTo15);
      // Three records sealed as version 16 sealed them (no MAC), and one committed but not yet sealed.
      let prev = '0'.repeat(64);
      for (let i = 1; i <= 3; i++) {
        const content = { seq: i, at: `2026-12-01T00:00:0${i}.000Z`, kind: 'run.started' as const, runId: 'old', actor: 'system', data: { i } };
        const hash = hashRecord(prev, content);
        await db.query(
          'INSERT INTO audit_events (seq, chain_pos, at, kind, run_id, actor, data, prev_hash, hash) VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8)',
          [i, content.at, content.kind, content.runId, content.actor, JSON.stringify(content.data), prev, hash],
        );
        prev = hash;
      }
      await db.query(`SELECT setval('audit_events_seq', 3)`);
      await db.query(`INSERT INTO audit_events (at, kind, run_id, actor, data) VALUES ('2026-12-01T00:00:04.000Z', 'run.ended', 'old', 'system', '{}')`);
      await migrate(db);
      const parts = auditParts(db);
      const [{ n }] = await db.query<any>(`SELECT count(*)::int AS n FROM audit_events WHERE auth_key_id = 'before-authentication' AND auth_mac IS NULL`);
      expect(n).toBe(4);
      await parts.service.append({ kind: 'run.started', runId: 'new', actor: 'system', data: {} });
      const result = await parts.service.verify();
      expect(result).toMatchObject({ ok: true, records: 5 });
      expect(result.authentication).toEqual({ checked: true, beforeAuthentication: { records: 4, throughSeq: 4 }, unauthenticated: [], quarantined: [] });
      // The boundary is fixed: nobody moves it to let a new row pass as old.
      await expect(db.query('UPDATE audit_auth_start SET before_seq = 1000')).rejects.toThrow(/fixed/);
    } finally {
      await db.close();
      await testDb.drop();
    }
  });
});
