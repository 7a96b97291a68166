import * as path from 'node:path';
import { AuditSigningKey } from '../../src/audit/audit-digest';
import { openDigestStore } from '../../src/audit/audit.providers';
import { FileDigestStore } from '../../src/audit/file-digest-store.adapter';
import { S3DigestStore } from '../../src/audit/s3-digest-store.adapter';
import { ConfigError, loadConfig } from '../../src/config/app.config';

describe('audit configuration', () => {
  it('defaults to an append-only file in the state folder, and takes a file path or an S3 bucket and prefix', () => {
    const c = loadConfig({ RUNBOOKD_STATE_DIR: '/var/lib/rb' });
    expect(c.audit.digestStore).toEqual({ kind: 'file', path: '/var/lib/rb/audit-digests.jsonl' });
    expect(c.audit.signingKeyFile).toBe('/var/lib/rb/audit-signing-key.pem');
    expect(openDigestStore(c)).toBeInstanceOf(FileDigestStore);
    expect(loadConfig({ RUNBOOKD_AUDIT_DIGEST_STORE: 'file:///srv/digests.jsonl' }).audit.digestStore).toEqual({
      kind: 'file',
      path: path.resolve('/srv/digests.jsonl'),
    });
    const s3 = loadConfig({ RUNBOOKD_AUDIT_DIGEST_STORE: 's3://audit-bucket/runbookd/prod' });
    expect(s3.audit.digestStore).toEqual({ kind: 's3', bucket: 'audit-bucket', prefix: 'runbookd/prod/' });
    const store = openDigestStore(s3);
    expect(store).toBeInstanceOf(S3DigestStore);
    expect(store.description).toBe('s3://audit-bucket/runbookd/prod/');
  });

  it('names what is wrong: an unknown store scheme, a key that is not a private key PEM', () => {
    expect(() => loadConfig({ RUNBOOKD_AUDIT_DIGEST_STORE: 'gs://bucket/x' })).toThrow(
      /RUNBOOKD_AUDIT_DIGEST_STORE must be s3:\/\/bucket\/prefix or a file path, got "gs:\/\/bucket\/x"/,
    );
    const err = (() => {
      try {
        loadConfig({ RUNBOOKD_AUDIT_SIGNING_KEY: 'hunter2', RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS: '-1' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('accepted');
    })();
    expect(err.problems).toEqual([
      'RUNBOOKD_AUDIT_DIGEST_MIN_GAP_MS must be an integer from 0 to 3600000, got "-1"',
      'RUNBOOKD_AUDIT_SIGNING_KEY must be an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)',
    ]);
    // The value itself never appears in the message.
    expect(err.message).not.toContain('hunter2');
    // A PEM with escaped newlines (as env files often carry it) is accepted.
    const pem = AuditSigningKey.generatePem().replace(/\n/g, '\\n');
    expect(AuditSigningKey.fromPem(loadConfig({ RUNBOOKD_AUDIT_SIGNING_KEY: pem }).audit.signingKeyPem!).keyId).toMatch(/^[0-9a-f]{16}$/);
  });
});
