import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';
import type { AuditRowSigner } from '../persistence/audit-rows';
import type { AuditKind } from './audit.types';

/** The `auth_key_id` of records written before records were authenticated (migration 17): known unauthenticated, never re-signed. */
export const BEFORE_AUTHENTICATION = 'before-authentication';

/** What a record's MAC covers: what the record says, not where the chain put it (seq is given by the database at insert). */
export interface AuditMacContent {
  at: string;
  kind: AuditKind | (string & {}); // a known kind, or one a later version wrote
  runId: string | null;
  actor: string;
  data: Record<string, unknown>;
}

const NONCE_BYTES = 12;
const MAC_BYTES = 32;

/**
 * Authenticates each audit record when runbookd writes it, so a row someone INSERTs with database
 * rights alone is told apart from one runbookd wrote. HMAC-SHA256 over the record's canonical
 * form and a random nonce (two identical records written in the same millisecond stay distinct,
 * and a copied MAC is refused by a unique index), keyed with a key derived by HKDF from the audit
 * signing key: the database never holds it, and nothing is stored beside the signing key.
 *
 * HMAC rather than Ed25519 (which the digests use): the sealer checks every record before it links
 * it, and an Ed25519 verify costs about 15 times an HMAC here, on the path that keeps up with the
 * group commit. The price is symmetry: whoever holds this key (the auditor's copy included) can
 * make a MAC. The digests stay Ed25519, so what the sealer has linked and a digest anchored cannot
 * be rewritten with the MAC key alone; see docs/reliability.md.
 */
export class AuditRecordMac implements AuditRowSigner {
  /** First 16 hex digits of SHA-256 over a label and the key: names the key, reveals nothing of it. */
  readonly keyId: string;

  private constructor(private readonly key: Buffer) {
    this.keyId = createHash('sha256').update('runbookd audit record mac key id\n').update(key).digest('hex').slice(0, 16);
  }

  /** HKDF-SHA256 of the Ed25519 signing key's private bytes, with a label of its own (a record MAC key is never a digest key). */
  static fromSigningKey(privateKey: KeyObject): AuditRecordMac {
    const ikm = privateKey.export({ type: 'pkcs8', format: 'der' });
    const okm = hkdfSync('sha256', ikm, Buffer.from('runbookd-audit', 'utf8'), Buffer.from('audit record mac v1', 'utf8'), 32);
    return new AuditRecordMac(Buffer.from(okm));
  }

  /** The verification key given to auditors (base64), for the offline verifier's `--record-key`. */
  static fromExported(text: string): AuditRecordMac {
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32) throw new Error('an audit record key is 32 bytes, base64');
    return new AuditRecordMac(key);
  }

  /** The key for auditors. Handle it as a secret: it can make MACs, not only check them. */
  exportKey(): string {
    return this.key.toString('base64');
  }

  /** `auth_mac`: base64url(nonce ‖ HMAC). */
  sign(content: AuditMacContent): string {
    const nonce = randomBytes(NONCE_BYTES);
    return Buffer.concat([nonce, this.compute(nonce, content)]).toString('base64url');
  }

  /** Null when the record is authentic under this key; otherwise why not (fixed phrases: no record content, no key material). */
  check(record: AuditMacContent & { authKeyId: string | null; authMac: string | null }): string | null {
    if (record.authKeyId === null || record.authMac === null) return 'not authenticated: no record MAC (not written by runbookd)';
    if (record.authKeyId !== this.keyId) return `not authenticated: record MAC under an unknown key ${record.authKeyId.slice(0, 32)}`;
    const raw = Buffer.from(record.authMac, 'base64url');
    if (raw.length !== NONCE_BYTES + MAC_BYTES) return 'not authenticated: record MAC malformed';
    const expected = this.compute(raw.subarray(0, NONCE_BYTES), record);
    return timingSafeEqual(expected, raw.subarray(NONCE_BYTES)) ? null : 'not authenticated: record MAC does not match its content';
  }

  private compute(nonce: Buffer, c: AuditMacContent): Buffer {
    const { at, kind, runId, actor, data } = c;
    return createHmac('sha256', this.key)
      .update(`runbookd audit record v1\n${this.keyId}\n${nonce.toString('base64url')}\n${canonicalJson({ at, kind, runId, actor, data })}`, 'utf8')
      .digest();
  }
}
