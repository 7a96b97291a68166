import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AuditDigest } from './audit-digest';
import { AuditDigestStore } from './audit-digest-store';

export interface S3DigestStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `runbookd/audit/` (may be empty). */
  prefix: string;
  region: string;
  /** Sandbox endpoint (moto); unset in production. */
  endpoint?: string;
  /** Object Lock retention of each digest, in days (COMPLIANCE mode); 0 leaves the bucket's default retention. */
  retentionDays: number;
  timeoutMs: number;
}

/**
 * Production store: one object per digest, `<prefix>digest-<number padded>.json`, in a bucket with
 * Object Lock, each written with a COMPLIANCE retention so not even the account's root can delete
 * or overwrite it before the date. A second PutObject of the same digest (two replicas racing
 * after a failover) only adds an identical version.
 */
export class S3DigestStore extends AuditDigestStore {
  readonly description: string;
  private readonly client: S3Client;

  constructor(private readonly options: S3DigestStoreOptions) {
    super();
    this.description = `s3://${options.bucket}/${options.prefix}`;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      // The publisher retries on its own schedule (and says so in verify); a long SDK retry would only delay that.
      maxAttempts: 2,
      requestHandler: { requestTimeout: options.timeoutMs, connectionTimeout: options.timeoutMs },
    });
  }

  key(number: number): string {
    return `${this.options.prefix}digest-${String(number).padStart(12, '0')}.json`;
  }

  async publish(digest: AuditDigest, body: string): Promise<void> {
    const retain =
      this.options.retentionDays > 0
        ? { ObjectLockMode: 'COMPLIANCE' as const, ObjectLockRetainUntilDate: new Date(Date.parse(digest.at) + this.options.retentionDays * 86_400_000) }
        : {};
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.key(digest.number),
        Body: body,
        ContentType: 'application/json',
        ...retain,
      }),
    );
  }

  async readAll(): Promise<unknown[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.options.bucket,
          Prefix: `${this.options.prefix}digest-`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    keys.sort();
    const out: unknown[] = [];
    // A few at a time: a long log has many digests, and one GET each.
    for (let i = 0; i < keys.length; i += 16) {
      const bodies = await Promise.all(
        keys.slice(i, i + 16).map(async (Key) => {
          const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key }));
          const text = (await res.Body?.transformToString('utf8')) ?? '';
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return { unparsable: Key };
          }
        }),
      );
      out.push(...bodies);
    }
    return out;
  }

  close(): void {
    this.client.destroy();
  }
}
