import { existsSync, readFileSync } from 'node:fs';
import { Logger, type Provider } from '@nestjs/common';
import { createFileOnce } from '../common/file-once';
import { AppConfig } from '../config/app.config';
import { AuditSigningKey } from './audit-digest';
import { AuditDigestStore } from './audit-digest-store';
import { AuditRowSigner } from '../persistence/audit-rows';
import { AuditRecordMac } from './audit-record-mac';
import { FileDigestStore } from './file-digest-store.adapter';
import { S3DigestStore } from './s3-digest-store.adapter';

/**
 * The digest signing key: from RUNBOOKD_AUDIT_SIGNING_KEY, else the key file, generated (mode
 * 0600) when missing so the embedded default works out of the box. Never in the database: the
 * point of a digest is that whoever can rewrite the database cannot sign one.
 */
export function loadAuditSigningKey(config: AppConfig): AuditSigningKey {
  if (config.audit.signingKeyPem) return AuditSigningKey.fromPem(config.audit.signingKeyPem);
  const file = config.audit.signingKeyFile;
  if (!existsSync(file) && createFileOnce(file, () => AuditSigningKey.generatePem())) {
    const logger = new Logger('AuditSigningKey');
    const where = `generated a new audit digest signing key at ${file}`;
    if (config.isProduction) logger.warn(`${where}: keep it (and its public half for auditors) away from the database's administrators`);
    else logger.log(where);
  }
  return AuditSigningKey.fromPem(readFileSync(file, 'utf8'));
}

export function openDigestStore(config: AppConfig): AuditDigestStore {
  const s = config.audit.digestStore;
  if (s.kind === 'file') return new FileDigestStore(s.path);
  return new S3DigestStore({
    bucket: s.bucket,
    prefix: s.prefix,
    region: config.aws.region,
    endpoint: config.aws.endpoints.AWS_ENDPOINT_URL_S3 ?? config.aws.endpoints.AWS_ENDPOINT_URL,
    retentionDays: config.audit.digestRetentionDays,
    timeoutMs: config.audit.digestStoreTimeoutMs,
  });
}

export const AUDIT_PROVIDERS: Provider[] = [
  { provide: AuditSigningKey, inject: [AppConfig], useFactory: loadAuditSigningKey },
  { provide: AuditRecordMac, inject: [AuditSigningKey], useFactory: (key: AuditSigningKey) => key.recordMac() },
  // The executor's and acceptance's writes sign the audit rows they insert with the same MAC.
  { provide: AuditRowSigner, useExisting: AuditRecordMac },
  { provide: AuditDigestStore, inject: [AppConfig], useFactory: openDigestStore },
];
