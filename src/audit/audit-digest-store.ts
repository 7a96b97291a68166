import type { AuditDigest } from './audit-digest';

/**
 * Where signed digests are published: outside the database, and write-once. The verifier trusts
 * only what it reads back from here. Implementations: `FileDigestStore` (the embedded default)
 * and `S3DigestStore` (production, a bucket with Object Lock).
 */
export abstract class AuditDigestStore {
  /** Where the digests go, for reports and logs: `file:<path>` or `s3://bucket/prefix`; never a credential. */
  abstract readonly description: string;
  /** Writes one digest; publishing the same digest twice must be harmless. Throws when the store is unreachable. */
  abstract publish(digest: AuditDigest, body: string): Promise<void>;
  /** Every entry stored, parsed as JSON but not yet checked (a forged or broken entry comes back as it is). */
  abstract readAll(): Promise<unknown[]>;
}
