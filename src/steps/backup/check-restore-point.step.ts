import { Injectable } from '@nestjs/common';
import { BackupAdapter } from '../../aws/backup.adapter';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, Finding, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';
import { minutesBetween } from '../rds/restored-resource';

export type BackupSource = 'rds-snapshot' | 'aws-backup';

interface Input {
  source: BackupSource;
  kind: 'instance' | 'cluster';
  identifier: string;
  /** The protected resource's ARN (AWS Backup lists recovery points by it). */
  arn: string;
  region?: string;
  roleArn?: string;
  /** Where copies should be; empty to skip the cross-region check. */
  drRegion?: string;
  rpoTargetMinutes: number;
  retentionDays: number;
  /** The source's automated backup retention (rds-snapshot). */
  backupRetentionPeriod?: number | null;
}

interface Figure {
  id: string;
  label: string;
  value: number | string | null;
  unit?: string;
}

interface Output extends Record<string, unknown> {
  source: BackupSource;
  /** RDS snapshot identifier (or ARN) or AWS Backup recovery point ARN: what the restore starts from. */
  restorePointId: string;
  restorePointCreatedAt: string | null;
  restorePointAgeMinutes: number | null;
  encrypted: boolean;
  kmsKeyId: string | null;
  drCopyAgeMinutes: number | null;
  findings: Finding[];
  figures: Figure[];
}

interface Point {
  id: string;
  createdAt: string | null;
  encrypted: boolean;
  kmsKeyId: string | null;
  /** Days the backup is kept: automated retention, or the recovery point's lifecycle (null: until deleted). */
  keptDays: number | null;
  keptForever: boolean;
}

/**
 * The checks before a restore test, each recorded as a finding with what was measured: the
 * newest snapshot (or AWS Backup recovery point) exists and is within the RPO target, backups
 * are kept long enough, a copy exists in the DR region and is fresh, and the backup is
 * encrypted (and with which key). A failed check fails the run at its end, after the restore
 * test and cleanup have still run.
 */
@Injectable()
export class CheckRestorePointStep implements StepType<Input, Output> {
  readonly uses = 'backup.check-restore-point';
  readonly description = 'Finds the newest snapshot or recovery point and checks age, retention, DR copy and encryption';
  readonly mutates = false;
  readonly iamActions = [
    'backup:ListRecoveryPointsByResource',
    'backup:DescribeRecoveryPoint',
    'rds:DescribeDBInstanceAutomatedBackups',
    'rds:DescribeDBSnapshots',
    'rds:DescribeDBClusterSnapshots',
  ];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['source', 'kind', 'identifier', 'arn', 'rpoTargetMinutes', 'retentionDays'],
    properties: {
      source: { enum: ['rds-snapshot', 'aws-backup'] },
      kind: { enum: ['instance', 'cluster'] },
      identifier: { type: 'string', minLength: 1 },
      arn: { type: 'string', minLength: 1 },
      ...TARGET_PROPERTIES,
      drRegion: { type: 'string' },
      rpoTargetMinutes: { type: 'number', exclusiveMinimum: 0 },
      retentionDays: { type: 'number', minimum: 0 },
      backupRetentionPeriod: { type: ['number', 'null'] },
    },
  };
  readonly outputs = [
    'source',
    'restorePointId',
    'restorePointCreatedAt',
    'restorePointAgeMinutes',
    'encrypted',
    'kmsKeyId',
    'drCopyAgeMinutes',
    'findings',
    'figures',
  ];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly backup: BackupAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const now = this.clock.nowMs();
    const what = input.source === 'aws-backup' ? 'recovery point' : 'snapshot';
    const newest = input.source === 'aws-backup' ? await this.newestRecoveryPoint(ctx, target, input) : await this.newestSnapshot(ctx, target, input);
    if (!newest) {
      throw new EngineError('PRECONDITION_FAILED', `no available ${what} of ${input.kind} ${input.identifier} in ${target.region}: nothing to restore`, {
        source: input.source,
      });
    }
    const age = newest.createdAt ? minutesBetween(Date.parse(newest.createdAt), now) : null;
    const findings: Finding[] = [
      {
        id: 'newest-backup-age',
        title: `The newest ${what} is within the RPO target`,
        passed: age !== null && age <= input.rpoTargetMinutes,
        measured: age,
        target: input.rpoTargetMinutes,
        unit: 'min',
        detail: `${newest.id}, taken ${newest.createdAt ?? 'at an unknown time'}`,
      },
      input.source === 'aws-backup'
        ? {
            id: 'backup-retention',
            title: 'Recovery points are kept at least the retention target',
            passed: newest.keptForever || (newest.keptDays !== null && newest.keptDays >= input.retentionDays),
            measured: newest.keptForever ? 'until deleted' : newest.keptDays,
            target: input.retentionDays,
            unit: 'days',
          }
        : {
            id: 'backup-retention',
            title: 'Automated backup retention meets the retention target',
            passed: typeof input.backupRetentionPeriod === 'number' && input.backupRetentionPeriod >= input.retentionDays,
            measured: input.backupRetentionPeriod ?? null,
            target: input.retentionDays,
            unit: 'days',
          },
      {
        id: 'backup-encrypted',
        title: `The ${what} is encrypted`,
        passed: newest.encrypted,
        measured: newest.encrypted ? `KMS key ${newest.kmsKeyId ?? 'unknown'}` : 'not encrypted',
        target: 'encrypted',
      },
    ];
    let drAge: number | null = null;
    if (input.drRegion && input.drRegion !== target.region) {
      const copy = await this.newestCopy(ctx, { ...target, region: input.drRegion }, input);
      drAge = copy ? minutesBetween(Date.parse(copy.at), now) : null;
      findings.push({
        id: 'dr-copy-age',
        title: `A copy exists in ${input.drRegion} and is within the RPO target`,
        passed: drAge !== null && drAge <= input.rpoTargetMinutes,
        measured: drAge,
        target: input.rpoTargetMinutes,
        unit: 'min',
        detail: copy ? `${copy.id}, taken ${copy.at}` : `no copy of ${input.identifier} in ${input.drRegion}`,
      });
    }
    const figures: Figure[] = [
      { id: 'newest-backup-age', label: `Newest ${what} age`, value: age, unit: 'min' },
      { id: 'restore-point', label: `Restored from ${what}`, value: newest.id },
      { id: 'backup-kms-key', label: 'Backup encryption key', value: newest.encrypted ? (newest.kmsKeyId ?? 'unknown') : 'not encrypted' },
    ];
    if (input.drRegion && input.drRegion !== target.region)
      figures.push({ id: 'dr-copy-age', label: `DR copy age (${input.drRegion})`, value: drAge, unit: 'min' });
    return done<Output>({
      source: input.source,
      restorePointId: newest.id,
      restorePointCreatedAt: newest.createdAt,
      restorePointAgeMinutes: age,
      encrypted: newest.encrypted,
      kmsKeyId: newest.kmsKeyId,
      drCopyAgeMinutes: drAge,
      findings,
      figures,
    });
  }

  private async newestSnapshot(ctx: StepContext, target: { region: string; roleArn?: string }, input: Input): Promise<Point | null> {
    const snaps = await this.rds.describeSnapshots(ctx.aws, target, { kind: input.kind, identifier: input.identifier });
    const s = snaps.find((x) => x.status === 'available');
    if (!s) return null;
    return { id: s.identifier, createdAt: s.createdAt, encrypted: s.encrypted, kmsKeyId: s.kmsKeyId, keptDays: null, keptForever: false };
  }

  private async newestRecoveryPoint(ctx: StepContext, target: { region: string; roleArn?: string }, input: Input): Promise<Point | null> {
    const points = await this.backup.listRecoveryPoints(ctx.aws, target, input.arn);
    const p = points.find((x) => x.status === 'COMPLETED');
    if (!p) return null;
    const detail = p.vaultName ? await this.backup.describeRecoveryPoint(ctx.aws, target, p.vaultName, p.arn) : null;
    return {
      id: p.arn,
      createdAt: p.createdAt,
      encrypted: detail ? detail.encrypted : !!p.encryptionKeyArn,
      kmsKeyId: detail?.encryptionKeyArn ?? p.encryptionKeyArn,
      keptDays: detail?.deleteAfterDays ?? null,
      keptForever: detail !== null && detail.deleteAfterDays === null,
    };
  }

  /** The freshest copy in the DR region: copied snapshots, replicated automated backups, or AWS Backup copies. */
  private async newestCopy(ctx: StepContext, dr: { region: string; roleArn?: string }, input: Input): Promise<{ id: string; at: string } | null> {
    const candidates: Array<{ id: string; at: string }> = [];
    if (input.source === 'aws-backup') {
      for (const p of await this.backup.listRecoveryPoints(ctx.aws, dr, input.arn))
        if (p.status === 'COMPLETED' && p.createdAt) candidates.push({ id: p.arn, at: p.createdAt });
    } else {
      for (const s of await this.rds.describeSnapshots(ctx.aws, dr, { kind: input.kind, identifier: input.identifier })) {
        if (s.status === 'available' && s.createdAt) candidates.push({ id: s.arn || s.identifier, at: s.createdAt });
      }
      if (input.kind === 'instance') {
        for (const b of await this.rds.describeAutomatedBackups(ctx.aws, dr, input.identifier)) {
          if (b.latestTime && b.sourceRegion && b.sourceRegion !== dr.region)
            candidates.push({ id: b.arn ?? `replicated automated backups of ${input.identifier}`, at: b.latestTime });
        }
      }
    }
    return candidates.sort((a, b) => b.at.localeCompare(a.at))[0] ?? null;
  }

  summarize(o: Output): string {
    const failed = o.findings.filter((f) => !f.passed);
    const age = o.restorePointAgeMinutes === null ? 'unknown age' : `${o.restorePointAgeMinutes} min old`;
    return `${o.restorePointId} (${age}); ${failed.length === 0 ? `all ${o.findings.length} checks passed` : `failed: ${failed.map((f) => f.id).join(', ')}`}`;
  }
}
