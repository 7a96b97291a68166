import { RDS_READ_SUBJECT_ACTIONS } from '../../aws/rds-common';
import { Injectable } from '@nestjs/common';
import { BackupAdapter } from '../../aws/backup.adapter';
import { RdsRestoreAdapter } from '../../aws/rds-restore.adapter';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app.config';
import { EngineError } from '../../engine/engine.error';
import { done, StepContext, StepType, wait } from '../step.contract';
import { targetOf } from '../aws-target';
import { observeRestored, resourceRecords, restoredRefProperties, type ResourceRecord, type RestoredRef } from './restored-resource';

interface Input extends RestoredRef {
  /** An AWS Backup restore job to see through to COMPLETED first. */
  restoreJobId?: string;
  pollSeconds?: number;
}

interface Output extends Record<string, unknown> {
  status: string;
  availableAt: string;
  availableAtMs: number;
  endpoint: string | null;
  arn: string | null;
  restoreJobId: string | null;
  createdResourceArn: string | null;
  resources: ResourceRecord[];
  figures: Array<{ id: string; label: string; value: number | string | null; unit?: string }>;
}

const JOB_DONE = 'COMPLETED';
const JOB_ENDED_BADLY = new Set(['FAILED', 'ABORTED']);

/**
 * Waits, without holding a worker, until the restored copy is available (a cluster and its
 * instance both). With an AWS Backup job, the job must reach COMPLETED first; FAILED or ABORTED
 * fails the step with AWS Backup's reason, and cleanup still runs.
 */
@Injectable()
export class WaitForRestoredStep implements StepType<Input, Output> {
  readonly uses = 'rds.wait-for-restored';
  readonly description = 'Waits until a restored instance or cluster is available (and its AWS Backup job completed)';
  readonly mutates = false;
  readonly iamActions = [...RDS_READ_SUBJECT_ACTIONS, 'backup:DescribeRestoreJob'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'identifier'],
    properties: {
      ...restoredRefProperties,
      restoreJobId: { type: 'string', minLength: 1 },
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 600, default: 30 },
    },
  };
  readonly outputs = ['status', 'availableAt', 'availableAtMs', 'endpoint', 'arn', 'restoreJobId', 'createdResourceArn', 'resources', 'figures'];

  constructor(
    private readonly rds: RdsRestoreAdapter,
    private readonly backup: BackupAdapter,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const target = targetOf(input, this.config);
    const poll = input.pollSeconds ?? 30;
    let createdResourceArn = typeof ctx.memory.createdResourceArn === 'string' ? ctx.memory.createdResourceArn : null;
    if (input.restoreJobId && ctx.memory.jobCompleted !== true) {
      const job = await this.backup.describeRestoreJob(ctx.aws, target, input.restoreJobId);
      if (JOB_ENDED_BADLY.has(job.status)) {
        throw new EngineError('RESTORE_FAILED', `AWS Backup restore job ${job.id} ended ${job.status}${job.statusMessage ? `: ${job.statusMessage}` : ''}`, {
          restoreJobId: job.id,
          status: job.status,
        });
      }
      if (job.status !== JOB_DONE) {
        return wait<Output>(poll, {}, `restore job ${job.status}${job.percentDone ? ` (${job.percentDone}% done)` : ''}`);
      }
      createdResourceArn = job.createdResourceArn;
    }
    const memory = input.restoreJobId ? { jobCompleted: true, createdResourceArn } : {};
    const observedAtMs = this.clock.nowMs();
    const now = await observeRestored(this.rds, ctx.aws, target, input);
    const ready = now.exists && now.status === 'available' && (input.kind === 'instance' || now.instanceStatus === 'available');
    if (!ready) {
      const what = now.exists ? `${now.status}${input.kind === 'cluster' ? `, instance ${now.instanceStatus ?? 'not yet there'}` : ''}` : 'not visible yet';
      return wait<Output>(poll, memory, `${input.identifier}: ${what}`);
    }
    const waitedMinutes = Math.round(((observedAtMs - ctx.startedAt.getTime()) / 60_000) * 100) / 100;
    return done<Output>({
      status: now.status,
      availableAt: new Date(observedAtMs).toISOString(),
      availableAtMs: observedAtMs,
      endpoint: now.endpoint,
      arn: now.arn,
      restoreJobId: input.restoreJobId ?? null,
      createdResourceArn,
      resources: resourceRecords(input, target.region, 'available', { arn: now.arn, instanceArn: now.instanceArn, instanceState: now.instanceStatus }),
      figures: [{ id: 'restore-wait', label: 'Waited for the restored copy', value: waitedMinutes, unit: 'min' }],
    });
  }

  summarize(o: Output): string {
    return `available at ${o.availableAt}${o.endpoint ? ` (${o.endpoint})` : ''}`;
  }
}
