import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { redact } from '../common/redact';
import { Database, type Queryable } from '../persistence/database';
import { asStoredJson, GENESIS_HASH, hashRecord } from './audit-hash';
import type { AuditEventInput, AuditKind, AuditListQuery, AuditRecord } from './audit.types';

/**
 * Advisory lock key held while a record is appended. Every appender, in every process, takes it
 * before reading the head of the chain, so two appends can never both link to the same record.
 * A transaction-scoped lock: it is released at commit or rollback, never leaked by a dead process.
 */
export const AUDIT_APPEND_LOCK_KEY = '7290478181926548513';

export const AUDIT_LIST_MAX_LIMIT = 1000;

interface AuditRow {
  seq: string | number | bigint;
  at: string;
  kind: string;
  run_id: string | null;
  actor: string;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * `at` is read back with the exact text it was hashed with (UTC, milliseconds), whatever the
 * session's TimeZone or the driver's date parsing.
 */
const COLUMNS = `seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, kind, run_id, actor, data, prev_hash, hash`;

@Injectable()
export class AuditRepository {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends one record. Given `tx`, the record is written in that transaction and commits or
   * rolls back with the caller's own write. The append lock is then held until the caller's
   * transaction ends, so append last, just before commit. `tx` must be READ COMMITTED (the
   * default): the head is read after the lock is taken and must see the previous append.
   */
  async append(input: AuditEventInput, tx?: Queryable): Promise<AuditRecord> {
    return (await this.appendMany([input], tx))[0];
  }

  /**
   * Appends several records in order under one lock, one head read and one INSERT: the engine
   * writes a step's start and end together, and each round trip is on its hot path.
   */
  async appendMany(inputs: readonly AuditEventInput[], tx?: Queryable): Promise<AuditRecord[]> {
    if (inputs.length === 0) return [];
    if (tx) return this.appendIn(tx, inputs);
    return this.db.transaction((own) => this.appendIn(own, inputs));
  }

  private async appendIn(q: Queryable, inputs: readonly AuditEventInput[]): Promise<AuditRecord[]> {
    await q.query(`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK_KEY}::bigint)`);
    const [head] = await q.query<{ seq: string | number; hash: string }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    let seq = head ? Number(head.seq) : 0;
    let prevHash = head ? head.hash : GENESIS_HASH;
    // Taken under the lock so `at` never goes backwards along the chain within one clock.
    const at = this.clock.now().toISOString();
    const records: AuditRecord[] = [];
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const input of inputs) {
      const data = asStoredJson(redact(input.data, input.secretKeys));
      seq += 1;
      const record = { seq, at, kind: input.kind, runId: input.runId ?? null, actor: input.actor, data };
      const hash = hashRecord(prevHash, record);
      const n = params.length;
      rows.push(`($${n + 1}, $${n + 2}::timestamptz, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}::jsonb, $${n + 7}, $${n + 8})`);
      params.push(seq, at, record.kind, record.runId, record.actor, JSON.stringify(data), prevHash, hash);
      records.push({ ...record, prevHash, hash });
      prevHash = hash;
    }
    await q.query(`INSERT INTO audit_events (seq, at, kind, run_id, actor, data, prev_hash, hash) VALUES ${rows.join(', ')}`, params);
    return records;
  }

  /** The newest record's seq and hash (0 and null for an empty log). */
  async head(): Promise<{ seq: number; hash: string | null }> {
    const [row] = await this.db.query<{ seq: string | number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: null };
  }

  async list(query: AuditListQuery): Promise<AuditRecord[]> {
    const limit = Math.min(Math.max(1, Math.floor(query.limit)), AUDIT_LIST_MAX_LIMIT);
    const params: unknown[] = [query.afterSeq ?? 0];
    let where = 'seq > $1';
    if (query.runId !== undefined) {
      params.push(query.runId);
      where += ` AND run_id = $${params.length}`;
    }
    params.push(limit);
    const rows = await this.db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events WHERE ${where} ORDER BY seq LIMIT $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Every record in seq order, fetched `batchSize` at a time so the log never sits in memory whole. */
  async *iterateAll(batchSize = 500): AsyncGenerator<AuditRecord> {
    // The first page has no lower bound so a forged record numbered 0 or below is seen too.
    let after: number | null = null;
    for (;;) {
      const rows: AuditRow[] = await this.db.query<AuditRow>(
        after === null
          ? `SELECT ${COLUMNS} FROM audit_events ORDER BY seq LIMIT $1`
          : `SELECT ${COLUMNS} FROM audit_events WHERE seq > $2 ORDER BY seq LIMIT $1`,
        after === null ? [batchSize] : [batchSize, after],
      );
      for (const row of rows) yield toRecord(row);
      if (rows.length < batchSize) return;
      after = Number(rows[rows.length - 1].seq);
    }
  }
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    at: row.at,
    kind: row.kind as AuditKind,
    runId: row.run_id,
    actor: row.actor,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
