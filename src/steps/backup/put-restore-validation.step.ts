import { Injectable } from '@nestjs/common';
import type { PlannedCall } from '../../aws/aws-call.types';
import { BackupAdapter } from '../../aws/backup.adapter';
import { AppConfig } from '../../config/app.config';
import { done, StepContext, StepType } from '../step.contract';
import { TARGET_PROPERTIES, targetOf } from '../aws-target';

interface Input {
  restoreJobId: string;
  region?: string;
  roleArn?: string;
  passed: boolean;
  message: string;
}

interface Output extends Record<string, unknown> {
  validationStatus: 'SUCCESSFUL' | 'FAILED';
  message: string;
}

/**
 * Tells AWS Backup how the restore test went (PutRestoreValidationResult: SUCCESSFUL, or FAILED
 * with the checks that failed), so the verdict is also on record next to the restore job.
 * Putting the same result again changes nothing.
 */
@Injectable()
export class PutRestoreValidationStep implements StepType<Input, Output> {
  readonly uses = 'backup.put-restore-validation';
  readonly description = 'Records the restore test verdict on the AWS Backup restore job';
  readonly mutates = true;
  readonly iamActions = ['backup:PutRestoreValidationResult'];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['restoreJobId', 'passed', 'message'],
    properties: {
      restoreJobId: { type: 'string', minLength: 1 },
      ...TARGET_PROPERTIES,
      passed: { type: 'boolean' },
      message: { type: 'string' },
    },
  };
  readonly outputs = ['validationStatus', 'message'];

  constructor(
    private readonly backup: BackupAdapter,
    private readonly config: AppConfig,
  ) {}

  async plan(input: Input): Promise<PlannedCall[]> {
    return [this.backup.planPutRestoreValidationResult(targetOf(input, this.config), input.restoreJobId, status(input), input.message)];
  }

  async run(input: Input, ctx: StepContext) {
    await this.backup.putRestoreValidationResult(ctx.aws, targetOf(input, this.config), input.restoreJobId, status(input), input.message);
    return done<Output>({ validationStatus: status(input), message: input.message });
  }

  summarize(o: Output): string {
    return `validation ${o.validationStatus}: ${o.message}`;
  }
}

const status = (input: Input): 'SUCCESSFUL' | 'FAILED' => (input.passed ? 'SUCCESSFUL' : 'FAILED');
