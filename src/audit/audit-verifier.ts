import type { KeyObject } from 'node:crypto';
import { checkDigest, digestHash, type AuditDigest } from './audit-digest';
import { GENESIS_HASH, hashRecord } from './audit-hash';
import { AuditRecordMac, BEFORE_AUTHENTICATION } from './audit-record-mac';
import type { AuditAnchorsReport, AuditAuthenticationReport, AuditVerifyProblem, AuditVerifyResult, SealedAuditRecord, StoredAuditRecord } from './audit.types';

export const AUDIT_VERIFY_REASONS = {
  missing: 'record missing before this one',
  badSeq: 'chain position out of order (record moved or duplicated)',
  badLink: 'prev_hash does not match the previous record (a record was removed, inserted or reordered here)',
  badHash: 'content does not match its hash (record changed)',
} as const;

/** A digest in the outbox that has not reached the store yet: only used to say why an interval is unanchored. */
export interface PendingDigest {
  number: number;
  position: number;
  attempts: number;
  lastError: string | null;
}

export interface AuditVerifyInput {
  /** Sealed records in chain order. */
  records: AsyncIterable<SealedAuditRecord & Partial<StoredAuditRecord>>;
  /**
   * The record MAC key: every sealed record after `authenticatedFrom` must carry a MAC that checks.
   * Absent (offline without `--record-key`): MACs are not checked, and the result says so.
   */
  recordMac?: AuditRecordMac;
  /** Records with seq up to this were written before authentication began (migration 17). */
  authenticatedFrom?: number;
  /** Committed rows not yet sealed (the offline verifier cannot seal): their MACs are checked too. */
  unsealedRecords?: readonly StoredAuditRecord[];
  /** Rows the sealer quarantined (kept outside the chain). */
  quarantined?: AuditAuthenticationReport['quarantined'];
  /** Entries read from the digest store, or why it could not be read. */
  store: { description: string; entries: unknown[] } | { description: string; error: string };
  /** Keys whose digests are trusted (the current signing key's public half, and any retired ones). */
  publicKeys: readonly KeyObject[];
  pending?: readonly PendingDigest[];
  unsealed?: number;
}

/**
 * Checks the chain against itself (every record's hash, every link, positions without gaps) and
 * against the signed digests read from outside the database: a chain recomputed after a change no
 * longer matches the head a digest signed for that position, and a removed tail leaves a digest
 * counting more records than there are. Pure: the caller reads the database and the store, so
 * the API and the offline verifier run the same checks.
 */
export async function verifyAuditLog(input: AuditVerifyInput): Promise<AuditVerifyResult> {
  const anchors: AuditAnchorsReport = {
    store: input.store.description,
    readable: !('error' in input.store),
    ...('error' in input.store ? { error: input.store.error } : {}),
    digests: 0,
    anchoredRecords: 0,
    lastDigestAt: null,
    badDigests: [],
    unanchored: [],
    unsealed: input.unsealed ?? 0,
  };
  const digests = 'entries' in input.store ? checkDigests(input.store.entries, input.publicKeys, anchors.badDigests) : [];
  anchors.digests = digests.length;
  anchors.lastDigestAt = digests.length ? digests[digests.length - 1].at : null;

  const authentication: AuditAuthenticationReport = {
    checked: input.recordMac !== undefined,
    beforeAuthentication: { records: 0, throughSeq: input.authenticatedFrom ?? 0 },
    unauthenticated: [],
    quarantined: input.quarantined ?? [],
  };
  let records = 0;
  let expectedPos = 1;
  let prevHash = GENESIS_HASH;
  let lastPos = 0;
  let firstBad: AuditVerifyProblem | undefined;
  let next = 0; // index of the next digest to compare
  let lastGood: AuditDigest | undefined;
  let firstAfterGood: SealedAuditRecord | undefined;

  for await (const record of input.records) {
    records++;
    if (!firstBad) {
      const reason = problemWith(record, expectedPos, prevHash);
      if (reason) firstBad = { seq: record.seq, position: record.position, reason };
    }
    if (record.authKeyId === BEFORE_AUTHENTICATION && record.seq <= (input.authenticatedFrom ?? 0)) authentication.beforeAuthentication.records++;
    else if (input.recordMac) {
      const reason =
        record.authKeyId === BEFORE_AUTHENTICATION
          ? 'marked before-authentication but written after authentication began'
          : input.recordMac.check({ ...record, authKeyId: record.authKeyId ?? null, authMac: record.authMac ?? null });
      if (reason) authentication.unauthenticated.push({ seq: record.seq, position: record.position, reason });
    }
    if (record.position === (lastGood?.position ?? 0) + 1) firstAfterGood = record;
    // Follow what is stored, so the count stays right; only the first problem is reported.
    expectedPos = record.position + 1;
    prevHash = record.hash;
    lastPos = record.position;
    while (next < digests.length && digests[next].position <= record.position) {
      const d = digests[next++];
      if (d.position !== record.position) continue; // a gap here is already reported as a missing record
      if (d.headHash === record.hash) {
        lastGood = d;
        continue;
      }
      if (!firstBad) {
        const from = (lastGood?.position ?? 0) + 1;
        firstBad = {
          seq: firstAfterGood?.seq ?? null,
          position: from,
          reason: `chain does not match signed digest ${d.number} of ${d.at}: a record at positions ${from}–${d.position} was changed, removed or inserted and the chain recomputed`,
        };
      }
    }
  }

  if (input.recordMac) {
    for (const r of input.unsealedRecords ?? []) {
      if (r.quarantineReason !== null) continue; // listed with the quarantined rows
      if (r.authKeyId === BEFORE_AUTHENTICATION && r.seq <= (input.authenticatedFrom ?? 0)) continue;
      const reason = r.authKeyId === BEFORE_AUTHENTICATION ? 'marked before-authentication but written after authentication began' : input.recordMac.check(r);
      if (reason) authentication.unauthenticated.push({ seq: r.seq, position: null, reason: `${reason}; not sealed yet (the sealer will quarantine it)` });
    }
  }
  const headHash = records > 0 ? prevHash : null;
  const beyond = digests.filter((d) => d.position > lastPos);
  const missingTail = beyond.length
    ? { fromPosition: lastPos + 1, toPosition: beyond[beyond.length - 1].position, digest: beyond[beyond.length - 1].number }
    : undefined;
  anchors.anchoredRecords = lastGood?.position ?? 0;

  // What no digest in the store covers yet, and why.
  let covered = digests.length ? Math.min(lastPos, digests[digests.length - 1].position) : 0;
  if (!anchors.readable) {
    if (lastPos > 0) anchors.unanchored.push({ fromPosition: 1, toPosition: lastPos, reason: `digest store unreadable: ${anchors.error}` });
    covered = lastPos;
  }
  for (const p of input.pending ?? []) {
    if (p.position <= covered || covered >= lastPos) continue;
    const to = Math.min(p.position, lastPos);
    anchors.unanchored.push({
      fromPosition: covered + 1,
      toPosition: to,
      reason: p.lastError
        ? `digest ${p.number} not published: store unreachable after ${p.attempts} attempt(s) (${p.lastError}); retrying`
        : `digest ${p.number} waiting to be published`,
    });
    covered = to;
  }
  if (covered < lastPos)
    anchors.unanchored.push({
      fromPosition: covered + 1,
      toPosition: lastPos,
      reason: 'sealed after the newest digest; the next digest is due within the digest interval',
    });

  // A quarantined row is an attempt at forgery that was stopped: nothing in the chain is wrong, but it must not pass unseen.
  const ok =
    !firstBad && !missingTail && anchors.badDigests.length === 0 && authentication.unauthenticated.length === 0 && authentication.quarantined.length === 0;
  return {
    ok,
    records,
    headHash,
    ...(firstBad ? { firstBadRecord: firstBad } : {}),
    ...(missingTail ? { missingTail } : {}),
    anchors,
    authentication,
  };
}

function problemWith(record: SealedAuditRecord, expectedPos: number, prevHash: string): string | null {
  if (record.position > expectedPos) return AUDIT_VERIFY_REASONS.missing;
  if (record.position !== expectedPos) return AUDIT_VERIFY_REASONS.badSeq;
  if (record.prevHash !== prevHash) return AUDIT_VERIFY_REASONS.badLink;
  if (hashRecord(record.prevHash, record) !== record.hash) return AUDIT_VERIFY_REASONS.badHash;
  return null;
}

/**
 * The digests to anchor against: signed by a trusted key, one per number. Anything else is
 * reported: a bad signature, two different digests under one number, a number missing, a digest
 * that does not link to the one before, or one that counts fewer records than the one before.
 */
function checkDigests(entries: unknown[], keys: readonly KeyObject[], bad: { number: number; reason: string }[]): AuditDigest[] {
  const byNumber = new Map<number, AuditDigest>();
  for (const e of entries) {
    const reason = checkDigest(e, keys);
    const number =
      typeof e === 'object' && e !== null && Number.isSafeInteger((e as { number?: unknown }).number) ? Number((e as { number: number }).number) : 0;
    if (reason) {
      bad.push({ number, reason });
      continue;
    }
    const d = e as AuditDigest;
    const seen = byNumber.get(d.number);
    // The same digest published twice (a retry, two replicas) is one digest.
    if (seen && seen.signature !== d.signature) bad.push({ number: d.number, reason: 'two different signed digests under one number' });
    else byNumber.set(d.number, d);
  }
  const sorted = [...byNumber.values()].sort((a, b) => a.number - b.number);
  let prev: AuditDigest | undefined;
  for (const d of sorted) {
    const expected = (prev?.number ?? 0) + 1;
    if (d.number > expected) bad.push({ number: expected, reason: `missing from the store (digests ${expected}–${d.number - 1})` });
    else if (prev && d.previousDigestHash !== digestHash(prev)) bad.push({ number: d.number, reason: `does not link to digest ${prev.number}` });
    if (!prev && d.number === 1 && d.previousDigestHash !== null) bad.push({ number: 1, reason: 'the first digest links to a predecessor' });
    if (prev && d.position < prev.position) bad.push({ number: d.number, reason: `counts fewer records than digest ${prev.number}` });
    prev = d;
  }
  return sorted;
}
