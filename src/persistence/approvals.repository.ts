import { Injectable } from '@nestjs/common';
import { Database, Queryable } from './database';

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired' | 'void';

export interface ApprovalDecision {
  actor: string;
  role: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  at: string;
}

export interface ApprovalRecord {
  id: number;
  runId: string;
  gate: string;
  state: ApprovalState;
  requestedBy: string;
  approvers: { roles: string[]; keys: string[] };
  minApprovals: number;
  message: string | null;
  plan: Record<string, unknown>;
  planHash: string;
  decisions: ApprovalDecision[];
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  reason: string | null;
  /** Joined from runs for lists. */
  runbookId?: string;
  runState?: string;
}

export type NewApproval = Pick<ApprovalRecord, 'runId' | 'gate' | 'requestedBy' | 'approvers' | 'minApprovals' | 'message' | 'plan' | 'planHash' | 'expiresAt'>;

type Row = Record<string, any>;
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

function toRecord(r: Row): ApprovalRecord {
  return {
    id: Number(r.id),
    runId: r.run_id,
    gate: r.gate,
    state: r.state,
    requestedBy: r.requested_by,
    approvers: r.approvers,
    minApprovals: Number(r.min_approvals),
    message: r.message,
    plan: r.plan,
    planHash: r.plan_hash,
    decisions: r.decisions ?? [],
    createdAt: date(r.created_at)!,
    expiresAt: date(r.expires_at)!,
    decidedAt: date(r.decided_at),
    reason: r.reason,
    ...(r.runbook_id ? { runbookId: r.runbook_id } : {}),
    ...(r.run_state ? { runState: r.run_state } : {}),
  };
}

/** Approval requests and their decisions. */
@Injectable()
export class ApprovalsRepository {
  constructor(private readonly db: Database) {}

  async insert(a: NewApproval, q: Queryable = this.db): Promise<ApprovalRecord> {
    const rows = await q.query(
      `INSERT INTO approvals (run_id, gate, state, requested_by, approvers, min_approvals, message, plan, plan_hash, expires_at)
       VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [a.runId, a.gate, a.requestedBy, JSON.stringify(a.approvers), a.minApprovals, a.message, JSON.stringify(a.plan), a.planHash, a.expiresAt],
    );
    return toRecord(rows[0]);
  }

  async get(id: number, q: Queryable = this.db): Promise<ApprovalRecord | null> {
    const rows = await q.query(`SELECT * FROM approvals WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The newest request of a gate, whatever its state. */
  async latest(runId: string, gate: string, q: Queryable = this.db): Promise<ApprovalRecord | null> {
    const rows = await q.query(`SELECT * FROM approvals WHERE run_id = $1 AND gate = $2 ORDER BY id DESC LIMIT 1`, [runId, gate]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The run's newest request of any gate, locked for a decision. */
  async latestOfRunForUpdate(runId: string, q: Queryable): Promise<ApprovalRecord | null> {
    const rows = await q.query(`SELECT * FROM approvals WHERE run_id = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE`, [runId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async latestOfRun(runId: string): Promise<ApprovalRecord | null> {
    const rows = await this.db.query(
      `SELECT a.*, r.runbook_id, r.state AS run_state FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.run_id = $1 ORDER BY a.id DESC LIMIT 1`,
      [runId],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(state: ApprovalState | undefined, limit: number): Promise<ApprovalRecord[]> {
    const rows = await this.db.query(
      // A request still pending on a run that ended another way (cancelled, timed out) is void, not pending.
      `SELECT a.*, r.runbook_id, r.state AS run_state FROM approvals a JOIN runs r ON r.id = a.run_id
       WHERE ($1::text IS NULL OR (CASE WHEN a.state = 'pending' AND r.state NOT IN ('queued','running','waiting') THEN 'void' ELSE a.state END) = $1)
       ORDER BY a.id DESC LIMIT $2`,
      [state ?? null, limit],
    );
    return rows.map(toRecord);
  }

  async update(
    id: number,
    patch: { state?: ApprovalState; decisions?: ApprovalDecision[]; decidedAt?: Date; reason?: string },
    q: Queryable = this.db,
  ): Promise<void> {
    await q.query(
      `UPDATE approvals SET state = COALESCE($2, state), decisions = COALESCE($3::jsonb, decisions),
         decided_at = COALESCE($4, decided_at), reason = COALESCE($5, reason) WHERE id = $1`,
      [id, patch.state ?? null, patch.decisions ? JSON.stringify(patch.decisions) : null, patch.decidedAt ?? null, patch.reason ?? null],
    );
  }

  /** For /metrics: how many requests wait for a decision, and how long the oldest has waited. */
  async pendingStats(): Promise<{ pending: number; oldestSeconds: number | null }> {
    const rows = await this.db.query(
      `SELECT count(*)::int AS n, EXTRACT(EPOCH FROM (now() - min(a.created_at)))::float AS age
       FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.state = 'pending' AND r.state IN ('queued','running','waiting')`,
    );
    return { pending: Number(rows[0]?.n ?? 0), oldestSeconds: rows[0]?.age === null || rows[0]?.age === undefined ? null : Number(rows[0].age) };
  }
}
