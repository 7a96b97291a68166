import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Database, type Queryable } from '../persistence/database';
import { databaseGroupCommit, GroupCommit } from '../persistence/group-commit';
import { storedAuditRows } from '../persistence/audit-rows';
import { AuditRecordMac } from './audit-record-mac';
import type { AuditEventInput, AuditKind, AuditListQuery, AuditRecord, SealedAuditRecord, StoredAuditRecord } from './audit.types';

/**
 * Advisory lock key of the sealer: one sealer at a time, in any process, links committed records
 * into the chain and numbers the digests. Transaction-scoped: released at commit or rollback,
 * never leaked by a dead process. Appends never take it.
 */
export const AUDIT_SEALER_LOCK_KEY = '7290478181926548514';

export const AUDIT_LIST_MAX_LIMIT = 1000;

interface AuditRow {
  seq: string | number | bigint;
  chain_pos: string | number | bigint | null;
  at: string;
  kind: string;
  run_id: string | null;
  actor: string;
  data: Record<string, unknown>;
  prev_hash: string | null;
  hash: string | null;
  auth_key_id?: string | null;
  auth_mac?: string | null;
  quarantine_reason?: string | null;
}

export interface DigestRow {
  number: number;
  position: number;
  headHash: string | null;
  body: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

/**
 * `at` is read back with the exact text it was hashed with (UTC, milliseconds), whatever the
 * session's TimeZone or the driver's date parsing.
 */
const COLUMNS = `seq, chain_pos, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, kind, run_id, actor, data, prev_hash, hash`;
/** With what proves who wrote the record: read by the sealer and the verifiers, never served by the list API. */
const STORED_COLUMNS = `${COLUMNS}, auth_key_id, auth_mac, quarantine_reason`;

@Injectable()
export class AuditRepository {
  /**
   * Appends made outside a transaction (an AWS call's answer, a notification sent, a cancel
   * request) from every caller in this process: group-committed, one INSERT and one commit for
   * all that arrive while the previous one is in flight.
   */
  private readonly loose: GroupCommit<readonly AuditEventInput[], AuditRecord[]>;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly mac: AuditRecordMac,
  ) {
    this.loose = databaseGroupCommit(db, async (batches) => {
      const records = await this.insert(batches.flat(), db);
      let at = 0;
      return batches.map((b) => records.slice(at, (at += b.length)));
    });
  }

  /**
   * Appends one record: a plain INSERT, no lock and no read of the chain head, so appends from
   * different runs never wait for each other. Given `tx`, the record commits or rolls back with
   * the caller's own write; without, it is committed (with others arriving meanwhile) before this
   * resolves. The sealer links it into the hash chain moments after it commits.
   */
  async append(input: AuditEventInput, tx?: Queryable): Promise<AuditRecord> {
    return (await this.appendMany([input], tx))[0];
  }

  /** Several records in one INSERT, numbered in the order given (the engine writes a step's start and end together). */
  async appendMany(inputs: readonly AuditEventInput[], tx?: Queryable): Promise<AuditRecord[]> {
    if (inputs.length === 0) return [];
    return tx ? this.insert(inputs, tx) : this.loose.submit(inputs);
  }

  private async insert(inputs: readonly AuditEventInput[], q: Queryable): Promise<AuditRecord[]> {
    const rows = storedAuditRows(inputs, this.clock.now(), this.mac);
    const params: unknown[] = [];
    const values: string[] = [];
    for (const row of rows) {
      const n = params.length;
      // nextval in the row itself, so seq follows the order of the rows in this one statement.
      values.push(`(nextval('audit_events_seq'), $${n + 1}::timestamptz, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}::jsonb, $${n + 6}, $${n + 7})`);
      params.push(row.at, row.kind, row.run_id, row.actor, JSON.stringify(row.data), row.auth_key_id, row.auth_mac);
    }
    const inserted = await q.query<{ seq: string | number }>(
      `INSERT INTO audit_events (seq, at, kind, run_id, actor, data, auth_key_id, auth_mac) VALUES ${values.join(', ')} RETURNING seq`,
      params,
    );
    const seqs = inserted.map((r) => Number(r.seq)).sort((a, b) => a - b);
    return rows.map((r, i) => ({
      position: null,
      at: r.at,
      kind: inputs[i].kind,
      runId: r.run_id,
      actor: r.actor,
      data: r.data,
      prevHash: null,
      hash: null,
      seq: seqs[i],
    }));
  }

  /**
   * Runs `fn` in a transaction holding the sealer lock, or returns `undefined` at once when
   * another sealer (another replica) holds it; with `wait`, waits for that sealer instead.
   */
  async asSealer<T>(fn: (tx: Queryable) => Promise<T>, wait = false): Promise<{ value: T } | undefined> {
    return this.db.transaction(async (tx) => {
      if (wait) {
        await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_SEALER_LOCK_KEY}::bigint)`);
      } else {
        const [{ got }] = await tx.query<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(${AUDIT_SEALER_LOCK_KEY}::bigint) AS got`);
        if (!got) return undefined;
      }
      return { value: await fn(tx) };
    });
  }

  /** The newest sealed record's position and hash (0 and null for an empty chain). */
  async chainHead(q: Queryable = this.db): Promise<{ position: number; hash: string | null }> {
    const [row] = await q.query<{ chain_pos: string | number; hash: string }>(
      'SELECT chain_pos, hash FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1',
    );
    return row ? { position: Number(row.chain_pos), hash: row.hash } : { position: 0, hash: null };
  }

  /**
   * Committed records not yet in the chain, oldest seq first. Only committed rows are visible, so
   * a record whose transaction is still open (even with a lower seq) is simply sealed by a later
   * batch: the chain's order is the order of sealing, and nothing can slip in behind a sealed record.
   */
  async unsealed(q: Queryable, limit: number): Promise<StoredAuditRecord[]> {
    const rows = await q.query<AuditRow>(
      `SELECT ${STORED_COLUMNS} FROM audit_events WHERE chain_pos IS NULL AND quarantine_reason IS NULL ORDER BY seq LIMIT $1`,
      [limit],
    );
    return rows.map(toStoredRecord);
  }

  /** The newest sealed record whole (the sealer checks it is genuine before linking onto it). */
  async headRecord(q: Queryable): Promise<StoredAuditRecord | undefined> {
    const [row] = await q.query<AuditRow>(`SELECT ${STORED_COLUMNS} FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1`);
    return row && toStoredRecord(row);
  }

  /** The seq up to which records were written before records were authenticated (migration 17). */
  async authenticatedFrom(q: Queryable = this.db): Promise<number> {
    const [row] = await q.query<{ before_seq: string | number }>('SELECT before_seq FROM audit_auth_start');
    return row ? Number(row.before_seq) : 0;
  }

  /**
   * Keeps the rows but out of the chain, with the reason: unsealed ones are never linked, and a
   * sealed one (a forgery written with chain columns of its own) is taken out of it.
   */
  async quarantine(q: Queryable, rows: readonly { seq: number; reason: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await q.query(
      `UPDATE audit_events AS a SET quarantine_reason = v.reason, chain_pos = NULL, prev_hash = NULL, hash = NULL
         FROM unnest($1::bigint[], $2::text[]) AS v(seq, reason)
        WHERE a.seq = v.seq AND a.quarantine_reason IS NULL`,
      [rows.map((r) => r.seq), rows.map((r) => r.reason)],
    );
  }

  async quarantined(q: Queryable = this.db, limit = 1000): Promise<{ seq: number; at: string; kind: string; actor: string; reason: string }[]> {
    const rows = await q.query<AuditRow>(`SELECT ${STORED_COLUMNS} FROM audit_events WHERE quarantine_reason IS NOT NULL ORDER BY seq LIMIT $1`, [limit]);
    return rows.map((r) => ({ seq: Number(r.seq), at: r.at, kind: r.kind, actor: r.actor, reason: r.quarantine_reason ?? '' }));
  }

  async countQuarantined(): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM audit_events WHERE quarantine_reason IS NOT NULL');
    return Number(row.n);
  }

  /** Unsealed rows (quarantined ones included): the offline verifier checks them too, without sealing. */
  async unsealedAll(limit = 100_000): Promise<StoredAuditRecord[]> {
    const rows = await this.db.query<AuditRow>(`SELECT ${STORED_COLUMNS} FROM audit_events WHERE chain_pos IS NULL ORDER BY seq LIMIT $1`, [limit]);
    return rows.map(toStoredRecord);
  }

  async seal(q: Queryable, sealed: readonly SealedAuditRecord[]): Promise<void> {
    if (sealed.length === 0) return;
    await q.query(
      `UPDATE audit_events AS a SET chain_pos = v.pos, prev_hash = v.prev, hash = v.h
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS v(seq, pos, prev, h)
        WHERE a.seq = v.seq AND a.chain_pos IS NULL`,
      [sealed.map((r) => r.seq), sealed.map((r) => r.position), sealed.map((r) => r.prevHash), sealed.map((r) => r.hash)],
    );
  }

  /**
   * The chain head and the records not yet sealed, read in one statement (one snapshot): read
   * apart, a sealer committing between the two reads would make records vanish from the sum.
   */
  async headAndUnsealed(): Promise<{ position: number; hash: string | null; unsealed: number }> {
    const [row] = await this.db.query<{ chain_pos: string | number | null; hash: string | null; unsealed: string | number }>(
      `SELECT h.chain_pos, h.hash, (SELECT count(*) FROM audit_events WHERE chain_pos IS NULL AND quarantine_reason IS NULL) AS unsealed
         FROM (SELECT 1) one
         LEFT JOIN (SELECT chain_pos, hash FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1) h ON true`,
    );
    return { position: Number(row.chain_pos ?? 0), hash: row.hash ?? null, unsealed: Number(row.unsealed) };
  }

  /**
   * Whether a sealing round has anything to do: records not yet sealed, a chain that grew past its
   * last digest (one may be due), or a digest waiting to be published. One statement, no lock:
   * every process ticks five times a second, and an idle round should cost no more than this.
   */
  async sealerHasWork(): Promise<boolean> {
    const [row] = await this.db.query<{ work: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM audit_events WHERE chain_pos IS NULL AND quarantine_reason IS NULL)
           OR (SELECT chain_pos FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1)
                IS DISTINCT FROM (SELECT position FROM audit_digests ORDER BY number DESC LIMIT 1)
           OR EXISTS (SELECT 1 FROM audit_digests WHERE published_at IS NULL AND next_attempt_at <= now()) AS work`,
    );
    return row.work;
  }

  async countUnsealed(): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM audit_events WHERE chain_pos IS NULL AND quarantine_reason IS NULL');
    return Number(row.n);
  }

  /** Whether a run ended in the chain after `position`: each run end is anchored by a digest. */
  async runEndedAfter(q: Queryable, position: number): Promise<boolean> {
    const rows = await q.query(`SELECT 1 FROM audit_events WHERE chain_pos > $1 AND kind = 'run.ended' LIMIT 1`, [position]);
    return rows.length > 0;
  }

  async lastDigest(q: Queryable = this.db): Promise<DigestRow | undefined> {
    const [row] = await q.query<DigestDbRow>(`SELECT ${DIGEST_COLUMNS} FROM audit_digests ORDER BY number DESC LIMIT 1`);
    return row && toDigestRow(row);
  }

  async insertDigest(q: Queryable, number: number, position: number, headHash: string | null, body: string): Promise<void> {
    await q.query('INSERT INTO audit_digests (number, position, head_hash, body) VALUES ($1, $2, $3, $4)', [number, position, headHash, body]);
  }

  /** Digests not yet in the store, oldest first; `dueOnly` leaves out those waiting for their retry time. */
  async unpublishedDigests(dueOnly: boolean, limit = 100): Promise<DigestRow[]> {
    const rows = await this.db.query<DigestDbRow>(
      `SELECT ${DIGEST_COLUMNS} FROM audit_digests WHERE published_at IS NULL ${dueOnly ? 'AND next_attempt_at <= now()' : ''} ORDER BY number LIMIT $1`,
      [limit],
    );
    return rows.map(toDigestRow);
  }

  async markDigestPublished(number: number): Promise<void> {
    await this.db.query('UPDATE audit_digests SET published_at = now(), last_error = NULL WHERE number = $1', [number]);
  }

  async markDigestFailed(number: number, error: string, retryInMs: number): Promise<void> {
    await this.db.query(
      `UPDATE audit_digests SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + ($3::text || ' milliseconds')::interval WHERE number = $1`,
      [number, error.slice(0, 500), String(retryInMs)],
    );
  }

  async list(query: AuditListQuery): Promise<AuditRecord[]> {
    const limit = Math.min(Math.max(1, Math.floor(query.limit)), AUDIT_LIST_MAX_LIMIT);
    const params: unknown[] = [];
    const where: string[] = [];
    const add = (sql: (p: string) => string, value: unknown) => where.push(sql(`$${params.push(value)}`));
    if (query.afterSeq !== undefined || query.order !== 'desc') add((p) => `seq > ${p}`, query.afterSeq ?? 0);
    if (query.beforeSeq !== undefined) add((p) => `seq < ${p}`, query.beforeSeq);
    if (query.runId !== undefined) add((p) => `run_id = ${p}`, query.runId);
    // A kind ending in `.` is a family (`approval.` is every approval record).
    if (query.kind !== undefined) add((p) => (query.kind!.endsWith('.') ? `starts_with(kind, ${p})` : `kind = ${p}`), query.kind);
    if (query.actor !== undefined) add((p) => `actor = ${p}`, query.actor);
    if (query.since !== undefined) add((p) => `at >= ${p}::timestamptz`, query.since.toISOString());
    if (query.until !== undefined) add((p) => `at < ${p}::timestamptz`, query.until.toISOString());
    const rows = await this.db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY seq ${query.order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${params.push(limit)}`,
      params,
    );
    return rows.map(toRecord);
  }

  /**
   * Every sealed record in chain order, fetched `batchSize` at a time so the log never sits in
   * memory whole. The first page has no lower bound so a forged record placed at 0 or below is seen too.
   */
  async *iterateSealed(batchSize = 5000): AsyncGenerator<SealedAuditRecord & StoredAuditRecord> {
    const page = (after: number | null) =>
      this.db.query<AuditRow>(
        after === null
          ? `SELECT ${STORED_COLUMNS} FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY chain_pos LIMIT $1`
          : `SELECT ${STORED_COLUMNS} FROM audit_events WHERE chain_pos > $2 ORDER BY chain_pos LIMIT $1`,
        after === null ? [batchSize] : [batchSize, after],
      );
    let pending = page(null);
    for (;;) {
      const rows = await pending;
      const more = rows.length === batchSize;
      // The next page is read while this one is hashed: database and CPU work overlap.
      if (more) pending = page(Number(rows[rows.length - 1].chain_pos));
      for (const row of rows) yield toStoredRecord(row) as SealedAuditRecord & StoredAuditRecord;
      if (!more) return;
    }
  }
}

interface DigestDbRow {
  number: string | number;
  position: string | number;
  head_hash: string | null;
  body: string;
  attempts: number;
  last_error: string | null;
  created_at: string;
}

const DIGEST_COLUMNS = `number, position, head_hash, body, attempts, last_error, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

function toDigestRow(r: DigestDbRow): DigestRow {
  return {
    number: Number(r.number),
    position: Number(r.position),
    headHash: r.head_hash,
    body: r.body,
    attempts: Number(r.attempts),
    lastError: r.last_error,
    createdAt: r.created_at,
  };
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    position: row.chain_pos === null ? null : Number(row.chain_pos),
    at: row.at,
    kind: row.kind as AuditKind,
    runId: row.run_id,
    actor: row.actor,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toStoredRecord(row: AuditRow): StoredAuditRecord {
  return { ...toRecord(row), authKeyId: row.auth_key_id ?? null, authMac: row.auth_mac ?? null, quarantineReason: row.quarantine_reason ?? null };
}
