/**
 * The audit log: one append-only, hash-chained (sealed moments after commit) record for every decision and every AWS call
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
  /** A CloudWatch alarm event an EventBridge API destination posted (key checked): what became of it, as for SNS. */
  | 'eventbridge.received'
  /** A PagerDuty v3 webhook event (signature checked): the run it started, or why none. */
  | 'pagerduty.received'
  /** A Slack interaction (signature checked): who pressed what, and what runbookd did or refused. */
  | 'slack.interaction'
  | 'schedule.tick-skipped'
  /** A tick that fired while everything was stopped (stop-all): recorded, no run started. */
  | 'schedule.tick-refused'
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
  | 'approval.voided'
  | 'approval.inherited'
  /** A fleet run's targets as resolved when it was accepted: the list it acts on, nothing else (fleets/fleet-acceptance.service.ts). */
  | 'fleet.targets-resolved'
  /** The stop button (engine/stop-switch.service.ts): who stopped every run and why, how many were asked to stop; who lifted it. */
  | 'governance.stopped-all'
  | 'governance.resumed-all'
  /** Console sign-in: who (or `anonymous`), how (`oidc`, ...), the source address, and for a refusal why. */
  | 'auth.sign-in.succeeded'
  | 'auth.sign-in.refused';

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
  /**
   * Identifies the record, taken from a sequence when it is written: increasing in the order
   * records were written, with gaps where a transaction rolled back. Hashed, so it cannot change.
   */
  seq: number;
  /**
   * Place in the hash chain (1, 2, 3, ... with no gaps: a gap is a removed record), given when the
   * sealer links the record into the chain moments after it committed; null until then.
   */
  position: number | null;
  /** ISO 8601, millisecond precision, UTC (`2024-05-01T10:00:00.123Z`): exactly what was hashed. */
  at: string;
  kind: AuditKind;
  runId: string | null;
  actor: string;
  data: Record<string, unknown>;
  /** Null until sealed. */
  prevHash: string | null;
  /** sha256(prevHash + canonical record); null until sealed. */
  hash: string | null;
}

/** A record with what proves who wrote it (never served by the list API: it is for the sealer and the verifiers). */
export type StoredAuditRecord = AuditRecord & {
  /** The record MAC's key id, `before-authentication` for records older than authentication, null when none (not runbookd's). */
  authKeyId: string | null;
  authMac: string | null;
  /** Set when the sealer refused to link the row: kept, outside the chain. */
  quarantineReason: string | null;
};

/** A record already linked into the chain. */
export type SealedAuditRecord = AuditRecord & { position: number; prevHash: string; hash: string };

export interface AuditVerifyProblem {
  /** The record's seq and chain position (a record, not an interval, is named where one can be). */
  seq: number | null;
  position: number | null;
  reason: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Sealed records examined (all of them, also when one is bad). */
  records: number;
  /** Hash of the last sealed record. */
  headHash: string | null;
  /** The first record found changed, removed, inserted, reordered or rewritten. */
  firstBadRecord?: AuditVerifyProblem;
  /** Records a signed digest counted that the database no longer has (the newest removed). */
  missingTail?: { fromPosition: number; toPosition: number; digest: number };
  anchors: AuditAnchorsReport;
  authentication: AuditAuthenticationReport;
}

export interface AuditAuthenticationReport {
  /** False when no record key was given (offline without `--record-key`): record MACs were not checked. */
  checked: boolean;
  /** Records written before records were authenticated (migration 17): sealed, never re-signed. */
  beforeAuthentication: { records: number; throughSeq: number };
  /** Sealed records whose MAC is missing or wrong: written by someone other than runbookd. */
  unauthenticated: { seq: number; position: number | null; reason: string }[];
  /** Rows the sealer refused to link (kept, outside the chain), with its reason. */
  quarantined: { seq: number; at: string; kind: string; actor: string; reason: string }[];
}

export interface AuditAnchorsReport {
  /** Where the digests were read from (`file:...`, `s3://...`); never a credential. */
  store: string;
  /** False when the store could not be read: nothing could be checked against it. */
  readable: boolean;
  error?: string;
  /** Valid signed digests found in the store. */
  digests: number;
  /** Records covered by the newest digest that matched the database. */
  anchoredRecords: number;
  lastDigestAt: string | null;
  /** Digests in the store that are themselves bad: wrong signature, broken digest chain, a gap. */
  badDigests: { number: number; reason: string }[];
  /** Sealed records no published digest covers yet, and why (not yet due, or publication failing). */
  unanchored: { fromPosition: number; toPosition: number; reason: string }[];
  /** Records committed but not yet linked into the chain (being sealed right now). */
  unsealed: number;
}

export interface AuditListQuery {
  runId?: string;
  /** Records with seq greater than this (keyset paging: pass the last seq seen). */
  afterSeq?: number;
  /** Records with seq less than this (newest-first paging). */
  beforeSeq?: number;
  /** An exact kind, or a family ending in `.` (`schedule.`). */
  kind?: string;
  actor?: string;
  /** Written at or after `since` and before `until`. */
  since?: Date;
  until?: Date;
  /** `asc` (the chain's order, the default) or `desc` (newest first). */
  order?: 'asc' | 'desc';
  limit: number;
}

/** `data` of `run.accepted`. */
export interface RunAcceptedAuditData {
  runbookId: string;
  trigger: { kind: 'rest' | 'cli' | 'sns' | 'schedule' | (string & {}); [detail: string]: unknown };
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
