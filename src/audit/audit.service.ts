import { Injectable, Logger } from '@nestjs/common';
import type { Queryable } from '../persistence/database';
import { GENESIS_HASH, hashRecord } from './audit-hash';
import { AuditRepository } from './audit.repository';
import type { AuditEventInput, AuditListQuery, AuditRecord, AuditVerifyResult } from './audit.types';

export const AUDIT_VERIFY_BATCH_SIZE = 1000;

export const AUDIT_VERIFY_REASONS = {
  missing: 'record missing before this one',
  badSeq: 'sequence number out of order',
  badLink: 'prev_hash does not match the previous record (record inserted or reordered)',
  badHash: 'content does not match its hash (record changed)',
} as const;

@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(private readonly repository: AuditRepository) {}

  /** See `AuditRepository.append`: pass the caller's transaction to commit the record with its write. */
  append(input: AuditEventInput, tx?: Queryable): Promise<AuditRecord> {
    return this.repository.append(input, tx);
  }

  appendMany(inputs: readonly AuditEventInput[], tx?: Queryable): Promise<AuditRecord[]> {
    return this.repository.appendMany(inputs, tx);
  }

  head(): Promise<{ seq: number; hash: string | null }> {
    return this.repository.head();
  }

  list(query: AuditListQuery): Promise<AuditRecord[]> {
    return this.repository.list(query);
  }

  /**
   * Walks the whole chain in seq order. A changed record fails its own hash; a removed one
   * leaves a gap in seq; an inserted or reordered one breaks the prev_hash link of the record
   * after it (or its own hash). Removing the newest records leaves a valid shorter chain: compare
   * `headHash` with one kept outside the database to catch that.
   */
  async verify(): Promise<AuditVerifyResult> {
    let records = 0;
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let firstBadRecord: AuditVerifyResult['firstBadRecord'];

    for await (const record of this.repository.iterateAll(AUDIT_VERIFY_BATCH_SIZE)) {
      records++;
      if (!firstBadRecord) {
        const reason = problemWith(record, expectedSeq, prevHash);
        if (reason) firstBadRecord = { seq: record.seq, reason };
      }
      // Follow what is stored, so the count stays right; only the first problem is reported.
      expectedSeq = record.seq + 1;
      prevHash = record.hash;
    }

    const headHash = records > 0 ? prevHash : null;
    if (firstBadRecord) {
      // seq and a fixed reason only: record content may hold data that must not reach logs.
      this.logger.warn(`Audit chain broken at seq ${firstBadRecord.seq}: ${firstBadRecord.reason}`);
      return { ok: false, records, headHash, firstBadRecord };
    }
    return { ok: true, records, headHash };
  }
}

function problemWith(record: AuditRecord, expectedSeq: number, prevHash: string): string | null {
  if (record.seq > expectedSeq) return AUDIT_VERIFY_REASONS.missing;
  if (record.seq !== expectedSeq) return AUDIT_VERIFY_REASONS.badSeq;
  if (record.prevHash !== prevHash) return AUDIT_VERIFY_REASONS.badLink;
  if (hashRecord(record.prevHash, record) !== record.hash) return AUDIT_VERIFY_REASONS.badHash;
  return null;
}
