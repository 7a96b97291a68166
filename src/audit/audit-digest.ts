import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';
import { AuditRecordMac } from './audit-record-mac';

/**
 * A digest anchors the chain outside the database: "after `position` records the head was
 * `headHash`", signed with a key the database never holds and linked to the digest before it, so
 * whoever can rewrite the database can neither recompute the chain nor drop its newest records
 * without the mismatch showing against a digest published earlier.
 */
export interface AuditDigest {
  version: 1;
  /** 1, 2, 3, ... with no gaps. */
  number: number;
  /** Records in the chain when the digest was made (the head's chain position). */
  position: number;
  /** Hash of the record at `position`; null for an empty chain. */
  headHash: string | null;
  /** ISO 8601 UTC. */
  at: string;
  /** `digestHash` of digest number - 1; null for the first. */
  previousDigestHash: string | null;
  /** First 16 hex digits of the SHA-256 of the public key (DER SPKI): which key signed. */
  keyId: string;
  /** Ed25519 signature (base64) over the canonical JSON of every other field. */
  signature: string;
}

export type UnsignedAuditDigest = Omit<AuditDigest, 'signature'>;

export function digestPayload(d: UnsignedAuditDigest | AuditDigest): string {
  const { version, number, position, headHash, at, previousDigestHash, keyId } = d;
  return canonicalJson({ version, number, position, headHash, at, previousDigestHash, keyId });
}

/** What the next digest links to: covers the signature too, so a re-signed digest breaks the link. */
export function digestHash(d: AuditDigest): string {
  return createHash('sha256')
    .update(`${digestPayload(d)}\n${d.signature}`, 'utf8')
    .digest('hex');
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export class AuditSigningKey {
  readonly publicKey: KeyObject;
  readonly keyId: string;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the audit signing key must be Ed25519, got ${privateKey.asymmetricKeyType}`);
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  static fromPem(pem: string): AuditSigningKey {
    return new AuditSigningKey(createPrivateKey(pem));
  }

  static generatePem(): string {
    return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The key that authenticates each record as it is written, derived from this one (so there is one secret to keep). */
  recordMac(): AuditRecordMac {
    return AuditRecordMac.fromSigningKey(this.privateKey);
  }

  sign(d: UnsignedAuditDigest): AuditDigest {
    return { ...d, signature: sign(null, Buffer.from(digestPayload(d), 'utf8'), this.privateKey).toString('base64') };
  }
}

/** Checks a digest's shape and signature against one of the trusted public keys. Returns a reason, or null when good. */
export function checkDigest(d: unknown, publicKeys: readonly KeyObject[]): string | null {
  if (!isDigestShape(d)) return 'not a digest (fields missing or of the wrong type)';
  const key = publicKeys.find((k) => keyIdOf(k) === d.keyId);
  if (!key) return `signed by an unknown key ${d.keyId}`;
  let good: boolean;
  try {
    good = verify(null, Buffer.from(digestPayload(d), 'utf8'), key, Buffer.from(d.signature, 'base64'));
  } catch {
    good = false;
  }
  return good ? null : 'signature does not verify';
}

function isDigestShape(d: unknown): d is AuditDigest {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return (
    o.version === 1 &&
    Number.isSafeInteger(o.number) &&
    (o.number as number) >= 1 &&
    Number.isSafeInteger(o.position) &&
    (o.position as number) >= 0 &&
    (o.headHash === null || (typeof o.headHash === 'string' && /^[0-9a-f]{64}$/.test(o.headHash))) &&
    typeof o.at === 'string' &&
    (o.previousDigestHash === null || typeof o.previousDigestHash === 'string') &&
    typeof o.keyId === 'string' &&
    typeof o.signature === 'string'
  );
}
