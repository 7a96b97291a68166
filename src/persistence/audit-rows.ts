import { redact } from '../common/redact';

/**
 * Audit records as the database stores them. The audit log's meaning (kinds, the hash chain, the
 * sealer, verification) is `src/audit/`'s; the rows are this layer's, because the executor's and
 * acceptance's group commits insert audit rows in the same statements as run and step rows.
 */

/** What persistence needs of an audit record to store it (`AuditEventInput`, `src/audit/audit.types.ts`, is one). */
export interface AuditRowInput {
  kind: string;
  runId?: string | null;
  actor: string;
  data: Record<string, unknown>;
  /** Property names to redact on top of the secret-looking ones. */
  secretKeys?: ReadonlySet<string>;
}

/** What a record's MAC covers: what the record says, not where the chain put it. */
export interface AuditRowContent {
  at: string;
  kind: string;
  runId: string | null;
  actor: string;
  data: Record<string, unknown>;
}

/**
 * Authenticates a record as it is written (`AuditRecordMac` in `src/audit/`, provided under this
 * token): persistence stores the MAC, the audit layer holds the key.
 */
export abstract class AuditRowSigner {
  abstract readonly keyId: string;
  abstract sign(content: AuditRowContent): string;
}

export interface StoredAuditRow {
  at: string;
  kind: string;
  run_id: string | null;
  actor: string;
  data: Record<string, unknown>;
  auth_key_id: string;
  auth_mac: string;
}

/**
 * Audit records as they are stored: secrets redacted, data as it comes back from jsonb (so the
 * sealer's hash of the stored row matches), all stamped `at`, each authenticated in this process
 * (the MAC is made from the redacted, stored form, so a secret never enters it). Shared by every
 * writer of the log, so no path writes a record the sealer would quarantine.
 */
export function storedAuditRows(inputs: readonly AuditRowInput[], at: Date, signer: AuditRowSigner): StoredAuditRow[] {
  const iso = at.toISOString();
  return inputs.map((input) => {
    const row = { at: iso, kind: input.kind, run_id: input.runId ?? null, actor: input.actor, data: asStoredJson(redact(input.data, input.secretKeys)) };
    return { ...row, auth_key_id: signer.keyId, auth_mac: signer.sign({ at: iso, kind: row.kind, runId: row.run_id, actor: row.actor, data: row.data }) };
  });
}

/**
 * The value as it will come back from a jsonb column (Dates become strings, `undefined` goes,
 * NaN becomes null), so the hash computed before the insert equals the one recomputed on read.
 * Strings PostgreSQL's jsonb refuses (NUL, unpaired surrogates) get U+FFFD instead, so odd input
 * cannot make an audit append, and with it the caller's transaction, fail.
 */
export function asStoredJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableString(v) : v))) as T;
}

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function storableString(s: string): string {
  return s.replace(UNSTORABLE, '\ufffd');
}
