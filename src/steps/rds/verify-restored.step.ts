import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { AppConfig } from '../../config/app.config';
import { done, Finding, StepContext, StepType } from '../step.contract';
import { targetOf } from '../aws-target';
import { minutesBetween, observeRestored, restoredRefProperties, type RestoredRef } from './restored-resource';

interface Input extends RestoredRef {
  sourceEngine: string;
  sourceEngineVersion: string;
  sourceAllocatedStorage?: number | null;
  sourceStorageEncrypted: boolean;
  /** When the run was accepted (`run.acceptedAt`): the RTO clock starts at the trigger. */
  acceptedAt: string;
  availableAtMs: number;
  rtoTargetMinutes: number;
  /** Point-in-time restores: the point asked for and the latest restorable time when asked. */
  requestedPoint?: string;
  latestRestorableTime?: string;
  rpoTargetMinutes?: number;
  /** `recovery`: the copy is kept and its endpoint is the run's answer. */
  mode?: 'drill' | 'recovery';
}

interface Output extends Record<string, unknown> {
  passed: boolean;
  /** One line naming every failed check, for AWS Backup's validation message. */
  message: string;
  endpoint: string | null;
  rtoMinutes: number;
  rpoMinutes: number | null;
  findings: Finding[];
  figures: Array<{ id: string; label: string; value: number | string | null; unit?: string }>;
}

/**
 * Compares the restored copy with its source (engine, version, storage, encryption), checks it is
 * available and not publicly accessible, and measures RTO (run accepted → copy available) and,
 * for a point-in-time restore, the achieved RPO (requested point → latest restorable time), each
 * against its target. Failed checks are findings: the run fails at its end, after cleanup.
 */
@Injectable()
export class VerifyRestoredStep implements StepType<Input, Output> {
  readonly uses = 'rds.verify-restored';
  readonly description = 'Checks a restored copy against its source and measures RTO and RPO';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier', 'sourceEngine', 'sourceEngineVersion', 'sourceStorageEncrypted', 'acceptedAt', 'availableAtMs', 'rtoTargetMinutes'],
    properties: {
      ...restoredRefProperties,
      sourceEngine: { type: 'string' },
      sourceEngineVersion: { type: 'string' },
      sourceAllocatedStorage: { type: ['number', 'null'] },
      sourceStorageEncrypted: { type: 'boolean' },
      acceptedAt: { type: 'string', format: 'date-time' },
      availableAtMs: { type: 'number' },
      rtoTargetMinutes: { type: 'number', exclusiveMinimum: 0 },
      requestedPoint: { type: 'string', format: 'date-time' },
      latestRestorableTime: { type: 'string', format: 'date-time' },
      rpoTargetMinutes: { type: 'number', exclusiveMinimum: 0 },
      mode: { enum: ['drill', 'recovery'] },
    },
  };
  readonly outputs = ['passed', 'message', 'endpoint', 'rtoMinutes', 'rpoMinutes', 'findings', 'figures'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const now = await observeRestored(this.rds, ctx.aws, target, input);
    const rtoMinutes = minutesBetween(Date.parse(input.acceptedAt), input.availableAtMs);
    const findings: Finding[] = [
      {
        id: 'restored-available',
        title: `Restored ${input.kind} ${input.identifier} is available`,
        passed: now.status === 'available',
        measured: now.status,
        target: 'available',
      },
      { id: 'engine-matches', title: 'Engine matches the source', passed: now.engine === input.sourceEngine, measured: now.engine, target: input.sourceEngine },
      {
        id: 'engine-version-matches',
        title: 'Engine version matches the source',
        passed: now.engineVersion === input.sourceEngineVersion,
        measured: now.engineVersion,
        target: input.sourceEngineVersion,
      },
      {
        id: 'encryption-matches',
        title: 'Encryption matches the source',
        passed: now.storageEncrypted === input.sourceStorageEncrypted,
        measured: now.storageEncrypted ? `encrypted (${now.kmsKeyId ?? 'unknown key'})` : 'not encrypted',
        target: input.sourceStorageEncrypted ? 'encrypted' : 'not encrypted',
      },
      {
        id: 'not-public',
        title: 'The restored copy is not publicly accessible',
        passed: now.publiclyAccessible === false,
        measured: now.publiclyAccessible === null ? 'unknown' : now.publiclyAccessible ? 'public' : 'private',
        target: 'private',
      },
    ];
    // Aurora storage grows on its own; only an instance's allocated storage can be compared.
    if (input.kind === 'instance' && typeof input.sourceAllocatedStorage === 'number') {
      findings.push({
        id: 'storage-matches',
        title: 'Allocated storage is at least the source’s',
        passed: (now.allocatedStorage ?? -1) >= input.sourceAllocatedStorage,
        measured: now.allocatedStorage,
        target: input.sourceAllocatedStorage,
        unit: 'GiB',
      });
    }
    findings.push({
      id: 'rto',
      title: 'RTO: from the trigger to an available restored copy, within target',
      passed: rtoMinutes <= input.rtoTargetMinutes,
      measured: rtoMinutes,
      target: input.rtoTargetMinutes,
      unit: 'min',
    });
    let rpoMinutes: number | null = null;
    if (input.requestedPoint && input.latestRestorableTime) {
      rpoMinutes = Math.max(0, minutesBetween(Date.parse(input.requestedPoint), Date.parse(input.latestRestorableTime)));
      if (typeof input.rpoTargetMinutes === 'number') {
        findings.push({
          id: 'rpo',
          title: 'Achieved RPO: requested point to the latest restorable time, within target',
          passed: rpoMinutes <= input.rpoTargetMinutes,
          measured: rpoMinutes,
          target: input.rpoTargetMinutes,
          unit: 'min',
        });
      }
    }
    const failed = findings.filter((f) => !f.passed);
    const figures: Output['figures'] = [
      { id: 'rto-minutes', label: 'RTO (trigger → restored copy available)', value: rtoMinutes, unit: 'min' },
      { id: 'restored-identifier', label: 'Restored copy', value: input.identifier },
    ];
    if (rpoMinutes !== null) figures.push({ id: 'rpo-minutes', label: 'Achieved RPO', value: rpoMinutes, unit: 'min' });
    if (input.mode === 'recovery' || now.endpoint)
      figures.push({ id: 'endpoint', label: input.mode === 'recovery' ? 'New endpoint (kept)' : 'Restored endpoint', value: now.endpoint });
    return done<Output>({
      passed: failed.length === 0,
      message:
        failed.length === 0
          ? `restored ${input.identifier} matches its source; RTO ${rtoMinutes} min`
          : `failed: ${failed.map((f) => `${f.id} (measured ${String(f.measured)}, expected ${String(f.target)})`).join('; ')}`,
      endpoint: now.endpoint,
      rtoMinutes,
      rpoMinutes,
      findings,
      figures,
    });
  }

  summarize(o: Output): string {
    return o.passed ? `all ${o.findings.length} checks passed; RTO ${o.rtoMinutes} min` : o.message;
  }
}
