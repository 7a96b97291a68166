import { Injectable, Logger } from '@nestjs/common';
import type { Queryable } from '../persistence/database';
import { AuditSigningKey } from './audit-digest';
import { AuditDigestStore } from './audit-digest-store';
import { AuditRecordMac } from './audit-record-mac';
import { AuditSealerService } from './audit-sealer.service';
import { verifyAuditLog, type AuditVerifyInput } from './audit-verifier';
import { AuditRepository } from './audit.repository';
import type { AuditEventInput, AuditListQuery, AuditRecord, AuditVerifyResult } from './audit.types';

export { AUDIT_VERIFY_REASONS } from './audit-verifier';

export const AUDIT_VERIFY_BATCH_SIZE = 5000;

@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    private readonly repository: AuditRepository,
    private readonly sealer: AuditSealerService,
    private readonly store: AuditDigestStore,
    private readonly key: AuditSigningKey,
    private readonly mac: AuditRecordMac,
  ) {}

  /**
   * Writes one record: a single INSERT without a lock. Pass the caller's transaction to commit
   * the record with its write. It joins the hash chain when the sealer links it, moments later.
   */
  append(input: AuditEventInput, tx?: Queryable): Promise<AuditRecord> {
    return this.repository.append(input, tx);
  }

  appendMany(inputs: readonly AuditEventInput[], tx?: Queryable): Promise<AuditRecord[]> {
    return this.repository.appendMany(inputs, tx);
  }

  /** `seq`: records in the log (those in the chain and those committed moments ago, not yet sealed); `hash`: the chain head's. */
  async head(): Promise<{ seq: number; hash: string | null }> {
    const h = await this.repository.headAndUnsealed();
    return { seq: h.position + h.unsealed, hash: h.hash };
  }

  /** Rows the sealer refused to link (forgeries kept as evidence): a counter in /metrics. */
  countQuarantined(): Promise<number> {
    return this.repository.countQuarantined();
  }

  list(query: AuditListQuery): Promise<AuditRecord[]> {
    return this.repository.list(query);
  }

  /** Seals and publishes a digest of the whole chain at once (after a migration, before an audit). */
  anchorNow() {
    return this.sealer.anchorNow();
  }

  /**
   * Seals what has committed, then checks the whole chain and checks it against the signed
   * digests in the external store: names the first record changed, removed, inserted or
   * reordered, a chain recomputed after a change, a removed tail, bad digests, and what no
   * digest covers yet (with the reason: not yet due, or the store unreachable).
   */
  async verify(): Promise<AuditVerifyResult> {
    await this.sealer.sealPending(false, true);
    let store: AuditVerifyInput['store'];
    try {
      store = { description: this.store.description, entries: await this.store.readAll() };
    } catch (err) {
      store = { description: this.store.description, error: `${(err as Error).name}: ${(err as Error).message}`.slice(0, 300) };
    }
    const result = await verifyAuditLog({
      records: this.repository.iterateSealed(AUDIT_VERIFY_BATCH_SIZE),
      store,
      publicKeys: [this.key.publicKey],
      pending: await this.repository.unpublishedDigests(false),
      unsealed: await this.repository.countUnsealed(),
      recordMac: this.mac,
      authenticatedFrom: await this.repository.authenticatedFrom(),
      quarantined: await this.repository.quarantined(),
      unsealedRecords: await this.repository.unsealedAll(10_000),
    });
    // Positions and fixed reasons only: record content may hold data that must not reach logs.
    if (result.firstBadRecord) this.logger.warn(`Audit chain broken at position ${result.firstBadRecord.position}: ${result.firstBadRecord.reason}`);
    if (result.missingTail)
      this.logger.warn(
        `Audit chain lost its tail: positions ${result.missingTail.fromPosition}–${result.missingTail.toPosition} anchored by digest ${result.missingTail.digest} are missing`,
      );
    for (const r of result.authentication.unauthenticated)
      this.logger.error(`AUDIT FORGERY SUSPECTED: sealed record seq ${r.seq} at position ${r.position}: ${r.reason}`);
    if (result.authentication.quarantined.length)
      this.logger.error(
        `AUDIT FORGERY SUSPECTED: ${result.authentication.quarantined.length} row(s) quarantined, not in the chain (seq ${result.authentication.quarantined
          .slice(0, 20)
          .map((q) => q.seq)
          .join(', ')})`,
      );
    for (const d of result.anchors.badDigests) this.logger.warn(`Audit digest ${d.number} is bad: ${d.reason}`);
    return result;
  }
}
