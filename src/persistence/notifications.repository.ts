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
   * Claims due notifications by pushing their next attempt out by `leaseMs`: a dispatcher that
   * dies mid-delivery leaves the row to be retried after the lease, and replicas never claim
   * the same row at once (SKIP LOCKED).
   */
  async claimDue(limit: number, leaseMs: number): Promise<NotificationRecord[]> {
    const rows = await this.db.query<Row>(
      `UPDATE notifications SET next_attempt_at = now() + ($2::text || ' milliseconds')::interval, attempts = attempts + 1
       WHERE id IN (SELECT id FROM notifications WHERE state = 'pending' AND next_attempt_at <= now()
                    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [limit, String(leaseMs)],
    );
    return rows.map(toRecord);
  }

  async markSent(id: number, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE notifications SET state = 'sent', sent_at = now(), last_error = NULL WHERE id = $1`, [id]);
  }

  async markRetry(id: number, error: string, delayMs: number, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE notifications SET last_error = $2, next_attempt_at = now() + ($3::text || ' milliseconds')::interval WHERE id = $1`,
      [id, error, String(delayMs)],
    );
  }

  async markFailed(id: number, error: string, q: Queryable = this.db): Promise<void> {
    await q.query(`UPDATE notifications SET state = 'failed', last_error = $2 WHERE id = $1`, [id, error]);
  }

  async forRun(runId: string): Promise<NotificationRecord[]> {
    return (await this.db.query<Row>('SELECT * FROM notifications WHERE run_id = $1 ORDER BY id', [runId])).map(toRecord);
  }
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

function toRecord(r: Row): NotificationRecord {
  return {
    id: Number(r.id), runId: r.run_id, channel: r.channel, target: r.target, state: r.state, attempts: r.attempts,
    nextAttemptAt: date(r.next_attempt_at)!, lastError: r.last_error, createdAt: date(r.created_at)!, sentAt: date(r.sent_at),
    approvalId: r.approval_id === null || r.approval_id === undefined ? null : Number(r.approval_id),
  };
}
