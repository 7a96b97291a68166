/**
 * The audit log: one append-only, hash-chained record for every decision and every AWS call
 * that could change something. The shapes of `data` per kind are listed below so writers in
 * different areas (triggers, engine, aws) record the same fields under the same names.
 */
export type AuditKind =
  | 'run.accepted'
  | 'run.deduplicated'
  | 'run.refused'
  | 'run.started'
  | 'run.resumed'
  | 'run.cancel-requested'
  | 'run.ended'
  | 'step.started'
  | 'step.ended'
  | 'aws.request'
  | 'aws.response'
  /** Anything POSTed to the SNS webhook: accepted, duplicate, confirmed or rejected with the reason. */
  | 'sns.received'
  | 'schedule.tick-skipped'
  | 'schedule.paused'
  | 'schedule.resumed'
  | 'schedule.removed'
  | 'notification.sent'
  | 'notification.failed'
  | 'run.dead-lettered'
  /** Approvals (engine/approvals.service.ts): a gate asked, a person decided, a request expired or was voided by a changed plan. */
  | 'approval.requested'
  | 'approval.decided'
  | 'approval.granted'
  | 'approval.expired'
  | 'approval.voided';

export interface AuditEventInput {
  kind: AuditKind;
  runId?: string | null;
  /** Who caused the event: `apikey:<name>`, `sns:<topic>`, `schedule:<id>`, `system`. */
  actor: string;
  /** Redacted by the repository before it is hashed or stored; writers need not pre-redact. */
  data: Record<string, unknown>;
  /**
   * Property names to redact on top of the secret-looking ones, e.g. a runbook's parameters
   * marked `writeOnly` in its schema, whose names may not look secret.
   */
  secretKeys?: ReadonlySet<string>;
}

export interface AuditRecord {
  /** 1, 2, 3, ... with no gaps: a gap is a removed record. */
  seq: number;
  /** ISO 8601, millisecond precision, UTC (`2024-05-01T10:00:00.123Z`): exactly what was hashed. */
  at: string;
  kind: AuditKind;
  runId: string | null;
  actor: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Records examined (all of them, also when one is bad). */
  records: number;
  /**
   * Hash of the last record. Kept outside the database (a ticket, a report) it detects what
   * the chain alone cannot: removal of the newest records or a rewrite of the whole tail.
   */
  headHash: string | null;
  firstBadRecord?: { seq: number; reason: string };
}

export interface AuditListQuery {
  runId?: string;
  /** Records with seq greater than this (keyset paging: pass the last seq seen). */
  afterSeq?: number;
  limit: number;
}

/** `data` of `run.accepted`. */
export interface RunAcceptedAuditData {
  runbookId: string;
  trigger: { kind: 'rest' | 'cli' | 'sns' | 'schedule' | string; [detail: string]: unknown };
  parameters: Record<string, unknown>;
  dryRun?: boolean;
  reason?: string | null;
}

/** `data` of `aws.request`: written before a mutating call is sent. */
export interface AwsRequestAuditData {
  stepId?: string;
  service: string;
  operation: string;
  region?: string;
  input: Record<string, unknown>;
  dryRun?: boolean;
}

/** `data` of `aws.response`: written when a mutating call returned or failed. */
export interface AwsResponseAuditData {
  stepId?: string;
  service: string;
  operation: string;
  requestId: string | null;
  outcome: 'ok' | 'error';
  httpStatus?: number;
  errorCode?: string;
  durationMs?: number;
}
