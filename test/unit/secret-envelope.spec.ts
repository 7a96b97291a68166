import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isSecretEnvelope, openSecret, sealSecret, SecretsError, type SecretKeyring } from '../../src/common/secret-envelope';
import { loadConfig } from '../../src/config/app.config';
import { loadSecretKeyring } from '../../src/engine/run-secrets.service';
import { mapSecretValues, secretValuesOf } from '../../src/runbooks/runbook-catalog.service';
import type { RunbookDefinition } from '../../src/model/runbook.types';

const ring = (id = 'k1', key = randomBytes(32), old: Array<[string, Buffer]> = []): SecretKeyring => ({
  current: { id, key },
  all: new Map([...old, [id, key]]),
});
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SecretsError);
    return (err as SecretsError).code;
  }
  throw new Error('did not throw');
};

describe('secret envelope (AES-256-GCM)', () => {
  it('round-trips any JSON value and never holds the plain text', () => {
    const r = ring();
    for (const v of ['canary-secret-1', { user: 'u', password: 'canary-pw' }, 42, ['a', 'b']]) {
      const env = sealSecret(r, v, 'runbookd/run/r1');
      expect(isSecretEnvelope(env)).toBe(true);
      expect(env.kid).toBe('k1');
      expect(JSON.stringify(env)).not.toContain('canary');
      expect(openSecret(r, env, 'runbookd/run/r1')).toEqual(v);
    }
    // A fresh IV each time: the same secret does not seal to the same text twice.
    expect(sealSecret(r, 'x', 'a').ct).not.toBe(sealSecret(r, 'x', 'a').ct);
  });

  it('refuses a tampered ciphertext, tag or IV, and an envelope moved to another run', () => {
    const r = ring();
    const env = sealSecret(r, 'canary-tamper', 'runbookd/run/r1');
    const flip = (b64: string) => {
      const b = Buffer.from(b64, 'base64');
      b[0] ^= 1;
      return b.toString('base64');
    };
    expect(codeOf(() => openSecret(r, { ...env, ct: flip(env.ct) }, 'runbookd/run/r1'))).toBe('SECRETS_TAMPERED');
    expect(codeOf(() => openSecret(r, { ...env, tag: flip(env.tag) }, 'runbookd/run/r1'))).toBe('SECRETS_TAMPERED');
    expect(codeOf(() => openSecret(r, { ...env, iv: flip(env.iv) }, 'runbookd/run/r1'))).toBe('SECRETS_TAMPERED');
    expect(codeOf(() => openSecret(r, env, 'runbookd/run/r2'))).toBe('SECRETS_TAMPERED');
    // Another key under the same id is a tamper too, not a silent garbage value.
    expect(codeOf(() => openSecret(ring('k1'), env, 'runbookd/run/r1'))).toBe('SECRETS_TAMPERED');
  });

  it('opens with an old key kept for rotation, and names the key id when it is gone', () => {
    const oldKey = randomBytes(32);
    const env = sealSecret(ring('k1', oldKey), 'canary-rotate', 'a');
    expect(openSecret(ring('k2', randomBytes(32), [['k1', oldKey]]), env, 'a')).toBe('canary-rotate');
    try {
      openSecret(ring('k2'), env, 'a');
      throw new Error('opened without its key');
    } catch (err) {
      expect((err as SecretsError).code).toBe('SECRETS_KEY_UNKNOWN');
      expect((err as SecretsError).message).toMatch(/"k1".*RUNBOOKD_SECRETS_OLD_KEYS/);
      expect((err as SecretsError).details).toEqual({ keyId: 'k1' });
    }
  });

  it('seals writeOnly values top-level and nested (objects, arrays, oneOf) and leaves the rest alone', () => {
    const def = {
      parameters: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          token: { type: 'string', writeOnly: true },
          db: { type: 'object', properties: { host: { type: 'string' }, password: { type: 'string', writeOnly: true } } },
          keys: { type: 'array', items: { type: 'string', writeOnly: true } },
        },
        oneOf: [{ properties: { token: { writeOnly: true } } }, { properties: { db: { type: 'object' } } }],
      },
    } as unknown as RunbookDefinition;
    const r = ring();
    const params = { name: 'n', token: 'canary-top', db: { host: 'h', password: 'canary-nested' }, keys: ['canary-a1', 'canary-a2'] };
    const sealed = mapSecretValues(def, params, (v) => (isSecretEnvelope(v) ? v : sealSecret(r, v, 'x')));
    expect(JSON.stringify(sealed)).not.toContain('canary');
    expect(sealed).toMatchObject({ name: 'n', db: { host: 'h' } });
    expect(params.token).toBe('canary-top'); // a copy: the caller's plain values stay for preflight and hashing
    // Envelopes are not secret values themselves: redaction of a sealed run hides nothing else.
    expect(secretValuesOf(def, sealed)).toEqual([]);
    const opened = mapSecretValues(def, sealed, (v) => (isSecretEnvelope(v) ? openSecret(r, v, 'x') : v));
    expect(opened).toEqual(params);
  });

  it('generates a 0600 key file outside production and reuses it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rbd-secrets-'));
    const config = loadConfig({ RUNBOOKD_STATE_DIR: dir });
    const first = loadSecretKeyring(config);
    const file = path.join(dir, 'secrets-key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toEqual(first.current.key);
    expect(loadSecretKeyring(config).current).toEqual(first.current);
    expect(first.current.id).toMatch(/^k-[0-9a-f]{12}$/);
  });
});
