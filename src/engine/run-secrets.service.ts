import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { createFileOnce } from '../common/file-once';
import { AppConfig } from '../config/app.config';
import { isSecretEnvelope, keyFingerprintId, openSecret, sealSecret, SECRET_KEY_BYTES, SecretsError, type SecretKeyring } from '../common/secret-envelope';
import { mapSecretValues } from '../runbooks/runbook-catalog.service';
import type { RunbookDefinition } from '../model/runbook.types';
import type { RunError, RunRecord } from '../model/run.types';

/**
 * The keyring: RUNBOOKD_SECRETS_KEY, else the key file, generated (mode 0600) outside production
 * when missing so the embedded default works out of the box; plus RUNBOOKD_SECRETS_OLD_KEYS for
 * opening what older keys sealed. Never in the database: whoever reads a dump must not read secrets.
 */
export function loadSecretKeyring(config: AppConfig): SecretKeyring {
  let current: { id: string; key: Buffer };
  if (config.secrets.key) {
    current = { id: config.secrets.keyId ?? keyFingerprintId(config.secrets.key), key: config.secrets.key };
  } else {
    const file = config.secrets.keyFile;
    if (!existsSync(file)) {
      if (config.isProduction) throw new Error(`RUNBOOKD_SECRETS_KEY_FILE ${file} does not exist`);
      if (createFileOnce(file, () => `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`)) {
        new Logger('SecretsKey').log(`generated a new key for secret run parameters at ${file}`);
      }
    }
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== SECRET_KEY_BYTES) throw new Error(`${file} must hold a 32-byte key in base64, holds ${key.length} bytes`);
    current = { id: keyFingerprintId(key), key };
  }
  const all = new Map<string, Buffer>();
  for (const old of config.secrets.oldKeys) all.set(old.id, old.key);
  all.set(current.id, current.key);
  return { current, all };
}

/**
 * Seals a run's `writeOnly` parameters before the run row is written, and opens them again, in
 * memory only, for the executor that resolves step inputs. API views read the sealed row and
 * show `[REDACTED]` (the parameters' keys are secret by schema), so nothing else ever opens them.
 */
@Injectable()
export class RunSecretsService {
  private readonly ring: SecretKeyring;

  constructor(config: AppConfig) {
    this.ring = loadSecretKeyring(config);
  }

  /** The parameters as they are stored: every writeOnly value (at any depth) replaced by its envelope. */
  seal(definition: RunbookDefinition, runId: string, parameters: Record<string, unknown>): Record<string, unknown> {
    return mapSecretValues(definition, parameters, (v) => (isSecretEnvelope(v) ? v : sealSecret(this.ring, v, aadOf(runId))));
  }

  /** The run with its parameters opened; throws SecretsError when an envelope does not open. */
  open(run: RunRecord): RunRecord {
    return { ...run, parameters: mapSecretValues(run.definition, run.parameters, (v) => (isSecretEnvelope(v) ? openSecret(this.ring, v, aadOf(run.id)) : v)) };
  }

  /** `open`, or the error a run ends with when it cannot be opened. */
  tryOpen(run: RunRecord): { run: RunRecord } | { error: RunError } {
    try {
      return { run: this.open(run) };
    } catch (err) {
      if (!(err instanceof SecretsError)) throw err;
      return { error: { code: err.code, message: err.message, details: err.details } };
    }
  }
}

function aadOf(runId: string): string {
  return `runbookd/run/${runId}`;
}
