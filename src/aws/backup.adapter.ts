import { Injectable } from '@nestjs/common';
import {
  DescribeRecoveryPointCommand,
  DescribeRestoreJobCommand,
  paginateListRecoveryPointsByResource,
  PutRestoreValidationResultCommand,
  StartRestoreJobCommand,
  type BackupClient,
  type DescribeRecoveryPointCommandOutput,
  type DescribeRestoreJobCommandOutput,
  type PutRestoreValidationResultCommandInput,
  type StartRestoreJobCommandInput,
  type StartRestoreJobCommandOutput,
} from '@aws-sdk/client-backup';
import type { AwsCallContext, PlannedCall } from './aws-call.types';
import { AwsCallerService, AwsServiceCalls, firstPages } from './aws-caller.service';
import { AwsClientFactory, type AwsTarget } from './aws-client.factory';

export const BACKUP_SERVICE = 'backup';

export interface RecoveryPoint {
  arn: string;
  /** ISO 8601. */
  createdAt: string | null;
  status: string;
  vaultName: string | null;
  encryptionKeyArn: string | null;
}

export interface RecoveryPointDetail extends RecoveryPoint {
  encrypted: boolean;
  /** Days after creation AWS Backup deletes it; null when kept until deleted by hand. */
  deleteAfterDays: number | null;
  resourceArn: string | null;
}

export interface RestoreJob {
  id: string;
  /** PENDING, RUNNING, COMPLETED, ABORTED, FAILED. */
  status: string;
  statusMessage: string | null;
  percentDone: string | null;
  createdResourceArn: string | null;
  createdAt: string | null;
  completedAt: string | null;
  validationStatus: string | null;
}

export interface StartRestoreJobParams {
  recoveryPointArn: string;
  iamRoleArn: string;
  /** Service-specific restore settings (for RDS: DBInstanceIdentifier, DBSubnetGroupName, ...). */
  metadata: Record<string, string>;
  /** Makes a repeated start (a worker that died mid-call) return the same job instead of a second one. */
  idempotencyToken: string;
  resourceType?: string;
}

export type RestoreValidationStatus = 'SUCCESSFUL' | 'FAILED';

const MAX_RECOVERY_POINT_PAGES = 20;

/** AWS Backup as the restore-test steps need it; `planX` twins share the input builders with `x`. */
@Injectable()
export class BackupAdapter {
  private readonly calls: AwsServiceCalls;

  constructor(clients: AwsClientFactory, caller: AwsCallerService) {
    this.calls = caller.forService(BACKUP_SERVICE, (region, roleArn, kind) => clients.backup(region, roleArn, kind));
  }

  /** Recovery points of one resource, newest first. */
  async listRecoveryPoints(ctx: AwsCallContext, target: AwsTarget, resourceArn: string): Promise<RecoveryPoint[]> {
    const out: RecoveryPoint[] = [];
    const pages = paginateListRecoveryPointsByResource(this.calls.paging<BackupClient>(ctx, target, 'ListRecoveryPointsByResource'), {
      ResourceArn: resourceArn,
      MaxResults: 100,
    });
    for await (const res of firstPages(MAX_RECOVERY_POINT_PAGES, pages)) {
      for (const p of res.RecoveryPoints ?? []) {
        if (!p.RecoveryPointArn) continue;
        out.push({
          arn: p.RecoveryPointArn,
          createdAt: p.CreationDate?.toISOString() ?? null,
          status: p.Status ?? 'UNKNOWN',
          vaultName: p.BackupVaultName ?? null,
          encryptionKeyArn: p.EncryptionKeyArn ?? null,
        });
      }
    }
    return out.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
  }

  async describeRecoveryPoint(ctx: AwsCallContext, target: AwsTarget, vaultName: string, recoveryPointArn: string): Promise<RecoveryPointDetail> {
    const p = await this.calls.read<DescribeRecoveryPointCommandOutput>(
      ctx,
      target,
      'DescribeRecoveryPoint',
      new DescribeRecoveryPointCommand({ BackupVaultName: vaultName, RecoveryPointArn: recoveryPointArn }),
    );
    return {
      arn: p.RecoveryPointArn ?? recoveryPointArn,
      createdAt: p.CreationDate?.toISOString() ?? null,
      status: p.Status ?? 'UNKNOWN',
      vaultName: p.BackupVaultName ?? vaultName,
      encryptionKeyArn: p.EncryptionKeyArn ?? null,
      encrypted: p.IsEncrypted === true,
      deleteAfterDays: p.Lifecycle?.DeleteAfterDays ?? null,
      resourceArn: p.ResourceArn ?? null,
    };
  }

  async describeRestoreJob(ctx: AwsCallContext, target: AwsTarget, restoreJobId: string): Promise<RestoreJob> {
    const j = await this.calls.read<DescribeRestoreJobCommandOutput>(
      ctx,
      target,
      'DescribeRestoreJob',
      new DescribeRestoreJobCommand({ RestoreJobId: restoreJobId }),
    );
    return {
      id: j.RestoreJobId ?? restoreJobId,
      status: j.Status ?? 'UNKNOWN',
      statusMessage: j.StatusMessage ?? null,
      percentDone: j.PercentDone ?? null,
      createdResourceArn: j.CreatedResourceArn ?? null,
      createdAt: j.CreationDate?.toISOString() ?? null,
      completedAt: j.CompletionDate?.toISOString() ?? null,
      validationStatus: j.ValidationStatus ?? null,
    };
  }

  planStartRestoreJob(target: AwsTarget, params: StartRestoreJobParams): PlannedCall {
    return this.calls.plan(target, 'StartRestoreJob', startRestoreJobInput(params));
  }

  async startRestoreJob(ctx: AwsCallContext, target: AwsTarget, params: StartRestoreJobParams): Promise<{ restoreJobId: string; requestId: string | null }> {
    const out = await this.calls.mutate<StartRestoreJobCommandOutput>(ctx, target, 'StartRestoreJob', new StartRestoreJobCommand(startRestoreJobInput(params)));
    return { restoreJobId: out.RestoreJobId ?? '', requestId: out.$metadata?.requestId ?? null };
  }

  planPutRestoreValidationResult(target: AwsTarget, restoreJobId: string, status: RestoreValidationStatus, message: string): PlannedCall {
    return this.calls.plan(target, 'PutRestoreValidationResult', restoreValidationInput(restoreJobId, status, message));
  }

  async putRestoreValidationResult(
    ctx: AwsCallContext,
    target: AwsTarget,
    restoreJobId: string,
    status: RestoreValidationStatus,
    message: string,
  ): Promise<void> {
    await this.calls.mutate(
      ctx,
      target,
      'PutRestoreValidationResult',
      new PutRestoreValidationResultCommand(restoreValidationInput(restoreJobId, status, message)),
    );
  }
}

export function startRestoreJobInput(p: StartRestoreJobParams): StartRestoreJobCommandInput {
  return {
    RecoveryPointArn: p.recoveryPointArn,
    IamRoleArn: p.iamRoleArn,
    Metadata: { ...p.metadata },
    IdempotencyToken: p.idempotencyToken,
    ...(p.resourceType ? { ResourceType: p.resourceType } : {}),
  };
}

/** AWS Backup keeps at most 2048 characters of the message. */
const MAX_VALIDATION_MESSAGE = 2000;

export function restoreValidationInput(restoreJobId: string, status: RestoreValidationStatus, message: string): PutRestoreValidationResultCommandInput {
  return { RestoreJobId: restoreJobId, ValidationStatus: status, ValidationStatusMessage: message.slice(0, MAX_VALIDATION_MESSAGE) };
}
