import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';

type Row = Record<string, any>;

export type NotificationChannel = 'sns' | 'webhook';

export interface NotificationRecord {
  id: number;
  runId: string;
  channel: NotificationChannel;
  target: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** The current claim's token: only its holder's outcome is recorded. */
  claimToken: string | null;
  /** Set for an approval request (engine/approvals.service.ts); null for the run's end. */
  approvalId: number | null;
}

/** The notifications outbox: rows written with the run's end, delivered and retried by workers. */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly db: Database) {}

  async enqueue(runId: string, channel: NotificationChannel, target: string, q: Queryable, approvalId: number | null = null): Promise<void> {
    await q.query(
      `INSERT INTO notifications (run_id, channel, target, approval_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (run_id, channel, (COALESCE(approval_id, 0))) DO NOTHING`,
      [runId, channel, target, approvalId],
    );
  }

  /**
   * Claims the next due notification for one send: pushes its next attempt out by `leaseMs` and
   * stamps a fresh claim token. The lease must outlast the send (its timeout plus a margin), so
   * no one else takes the row while its holder may still be sending; a holder that dies leaves
   * it to whoever looks after the lease. Replicas never claim the same row at once (SKIP LOCKED).
   */
  async claimNext(leaseMs: number): Promise<NotificationRecord | null> {
    const rows = await this.db.query<Row>(
      `UPDATE notifications SET next_attempt_at = now() + ($1::text || ' milliseconds')::interval, attempts = attempts + 1, claim_token = $2
       WHERE id = (SELECT id FROM notifications WHERE state = 'pending' AND next_attempt_at <= now()
                   ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [String(leaseMs), randomUUID()],
    );
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /** The outcome of one claim; false when the claim was lost (its lease ran out and another took the row). */
  async markSent(id: number, claimToken: string, q: Queryable = this.db): Promise<boolean> {
    const rows = await q.query(
      `UPDATE notifications SET state = 'sent', sent_at = now(), last_error = NULL, claim_token = NULL WHERE id = $1 AND claim_token = $2 RETURNING id`,
      [id, claimToken],
    );
    return rows.length > 0;
  }

  async markRetry(id: number, claimToken: string, error: string, delayMs: number, q: Queryable = this.db): Promise<boolean> {
    const rows = await q.query(
      `UPDATE notifications SET last_error = $3, claim_token = NULL, next_attempt_at = now() + ($4::text || ' milliseconds')::interval
       WHERE id = $1 AND claim_token = $2 RETURNING id`,
      [id, claimToken, error, String(delayMs)],
    );
    return rows.length > 0;
  }

  async markFailed(id: number, claimToken: string, error: string, q: Queryable = this.db): Promise<boolean> {
    const rows = await q.query(
      `UPDATE notifications SET state = 'failed', last_error = $3, claim_token = NULL WHERE id = $1 AND claim_token = $2 RETURNING id`,
      [id, claimToken, error],
    );
    return rows.length > 0;
  }

  async forRun(runId: string): Promise<NotificationRecord[]> {
    return (await this.db.query<Row>('SELECT * FROM notifications WHERE run_id = $1 ORDER BY id', [runId])).map(toRecord);
  }
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

function toRecord(r: Row): NotificationRecord {
  return {
    id: Number(r.id),
    runId: r.run_id,
    channel: r.channel,
    target: r.target,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: date(r.next_attempt_at)!,
    lastError: r.last_error,
    createdAt: date(r.created_at)!,
    sentAt: date(r.sent_at),
    claimToken: r.claim_token ?? null,
    approvalId: r.approval_id === null || r.approval_id === undefined ? null : Number(r.approval_id),
  };
}
