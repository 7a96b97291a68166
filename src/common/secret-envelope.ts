import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { CodedError } from './coded-error';

/**
 * A `writeOnly` value as it is stored: AES-256-GCM over the value's JSON, under the key named by
 * `kid`. The run id and the path of the value are the additional data, so an envelope copied to
 * another run or another parameter does not open.
 */
export interface SecretEnvelope {
  $enc: 'v1';
  kid: string;
  iv: string;
  tag: string;
  ct: string;
}

export type SecretsErrorCode =
  /** The envelope names a key this process was not given (rotated away without RUNBOOKD_SECRETS_OLD_KEYS). */
  | 'SECRETS_KEY_UNKNOWN'
  /** The envelope does not open under its key: altered, moved, or the key under that id changed. */
  | 'SECRETS_TAMPERED';

export class SecretsError extends CodedError<SecretsErrorCode> {
  readonly area = 'secrets';
}

export const SECRET_KEY_BYTES = 32;

export interface SecretKeyring {
  /** The key new values are sealed with. */
  current: { id: string; key: Buffer };
  /** Every key an envelope may be opened with, the current one included. */
  all: ReadonlyMap<string, Buffer>;
}

/** A stable id for a key given without one: its fingerprint, never the key. */
export function keyFingerprintId(key: Buffer): string {
  return `k-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

export function isSecretEnvelope(v: unknown): v is SecretEnvelope {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    (v as { $enc?: unknown }).$enc === 'v1' &&
    typeof (v as SecretEnvelope).kid === 'string' &&
    typeof (v as SecretEnvelope).ct === 'string'
  );
}

export function sealSecret(ring: SecretKeyring, value: unknown, aad: string): SecretEnvelope {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return { $enc: 'v1', kid: ring.current.id, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

export function openSecret(ring: SecretKeyring, env: SecretEnvelope, aad: string): unknown {
  const key = ring.all.get(env.kid);
  if (!key) {
    throw new SecretsError(
      'SECRETS_KEY_UNKNOWN',
      `a secret parameter was sealed with key "${env.kid}", which this process does not have: list it in RUNBOOKD_SECRETS_OLD_KEYS (id:base64)`,
      { keyId: env.kid },
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(env.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(env.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(env.ct, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  } catch {
    throw new SecretsError(
      'SECRETS_TAMPERED',
      `a secret parameter sealed with key "${env.kid}" does not open: it was altered or the key under that id changed`,
      { keyId: env.kid },
    );
  }
}
