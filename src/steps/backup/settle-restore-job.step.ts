import { Injectable } from '@nestjs/common';
import { BackupAdapter } from '../../aws/backup.adapter';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType, wait } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';

interface Input {
  restoreJobId: string;
  region?: string;
  roleArn?: string;
  pollSeconds?: number;
}

interface Output extends Record<string, unknown> {
  status: string;
  createdResourceArn: string | null;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'ABORTED']);

/**
 * Cleanup's first look at an AWS Backup restore: waits until the job has ended, whatever way.
 * A run cancelled (or timed out) while the job was running would otherwise delete nothing — the
 * copy does not exist yet — and AWS Backup would create it afterwards, untagged and unowned.
 */
@Injectable()
export class SettleRestoreJobStep implements StepType<Input, Output> {
  readonly uses = 'backup.settle-restore-job';
  readonly description = 'Waits until an AWS Backup restore job has ended (completed, failed or aborted)';
  readonly mutates = false;
  readonly iamActions = ['backup:DescribeRestoreJob'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['restoreJobId'],
    properties: {
      restoreJobId: { type: 'string', minLength: 1 },
      ...TARGET_PROPERTIES,
      pollSeconds: { type: 'number', minimum: 0.2, maximum: 600, default: 30 },
    },
  };
  readonly outputs = ['status', 'createdResourceArn'];

  constructor(
    private readonly backup: BackupAdapter,
    private readonly config: AppConfig,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const job = await this.backup.describeRestoreJob(ctx.aws, targetOf(input, this.config), input.restoreJobId);
    if (!ENDED.has(job.status))
      return wait<Output>(input.pollSeconds ?? 30, {}, `restore job ${job.id} is ${job.status}; its copy must exist before it can be deleted`);
    return done<Output>({ status: job.status, createdResourceArn: job.createdResourceArn });
  }

  summarize(o: Output): string {
    return `restore job ended ${o.status}`;
  }
}
