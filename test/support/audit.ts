import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditSigningKey } from '../../src/audit/audit-digest';
import { AuditDigestStore } from '../../src/audit/audit-digest-store';
import type { AuditRecordMac } from '../../src/audit/audit-record-mac';
import { AuditSealerService } from '../../src/audit/audit-sealer.service';
import { AuditRepository } from '../../src/audit/audit.repository';
import { AuditService } from '../../src/audit/audit.service';
import { FileDigestStore } from '../../src/audit/file-digest-store.adapter';
import { Clock } from '../../src/common/clock';
import { loadConfig, type AppConfig } from '../../src/config/app.config';
import type { Database } from '../../src/persistence/database';

/** One signing key per test process (a child process is handed its parent's in RUNBOOKD_TEST_AUDIT_KEY). */
export const TEST_AUDIT_KEY = AuditSigningKey.fromPem(process.env.RUNBOOKD_TEST_AUDIT_KEY ?? AuditSigningKey.generatePem());

export interface AuditParts {
  config: AppConfig;
  repository: AuditRepository;
  store: AuditDigestStore;
  sealer: AuditSealerService;
  service: AuditService;
  digestFile: string;
  /** The record MAC key every writer here signs with (derived from `key`). */
  mac: AuditRecordMac;
}

/**
 * The audit log's parts wired by hand (what InfrastructureModule does), with digests only on
 * demand (`anchorNow`) unless `env` says otherwise, and a digest file of its own.
 */
export function auditParts(
  db: Database,
  opts: { clock?: Clock; store?: AuditDigestStore; env?: Record<string, string>; key?: AuditSigningKey; digestFile?: string } = {},
): AuditParts {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbookd-audit-'));
  const config = loadConfig({
    RUNBOOKD_STATE_DIR: dir,
    RUNBOOKD_AUDIT_DIGEST_INTERVAL_MS: '86400000',
    RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS: '3600000',
    ...(opts.env ?? {}),
  });
  const digestFile = opts.digestFile ?? path.join(dir, 'audit-digests.jsonl');
  const clock = opts.clock ?? new Clock();
  const key = opts.key ?? TEST_AUDIT_KEY;
  const mac = key.recordMac();
  const repository = new AuditRepository(db, clock, mac);
  const store = opts.store ?? new FileDigestStore(digestFile);
  const sealer = new AuditSealerService(repository, key, store, config, clock, mac);
  const service = new AuditService(repository, sealer, store, key, mac);
  return { config, repository, store, sealer, service, digestFile, mac };
}
