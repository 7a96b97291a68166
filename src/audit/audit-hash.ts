import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';
import type { AuditRecord } from './audit.types';

/** The `prevHash` of record 1: there is no previous record. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * What a record's hash covers: everything recorded, not the chain columns (position, hashes).
 * `seq` is part of it so a record cannot be renumbered; its place in the chain is fixed by the
 * link (`prevHash`) instead, so moving it breaks the link of the record after it.
 */
export type AuditHashContent = Pick<AuditRecord, 'seq' | 'at' | 'kind' | 'runId' | 'actor' | 'data'>;

/**
 * SHA-256 (lower-case hex) of the previous record's hash and this record's canonical content.
 * Chaining on `prevHash` means a changed record breaks its own hash and an inserted or removed
 * one breaks the link of the record after it.
 */
export function hashRecord(prevHash: string, content: AuditHashContent): string {
  const { seq, at, kind, runId, actor, data } = content;
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalJson({ seq, at, kind, runId, actor, data })}`, 'utf8')
    .digest('hex');
}
