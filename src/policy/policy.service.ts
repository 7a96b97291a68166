import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from '../config/app.config';
import { approvalRequirement, type ApprovalRequirement, type ApprovalSubject } from './approval-rules';
import { loadPolicy, PolicyFileError } from './policy-file';
import type { Policy } from './policy.types';

/**
 * The policy this process holds: read and checked once at boot (a bad file stops the process,
 * naming file, path and reason), then asked by the engine and the HTTP guard. Triggers and
 * controllers never decide who may act or whether a run needs an approval on their own.
 */
@Injectable()
export class PolicyService {
  private readonly logger = new Logger('Policy');
  readonly policy: Policy;

  constructor(config: AppConfig) {
    try {
      this.policy = loadPolicy(config.scope.policyFile);
    } catch (err) {
      if (err instanceof PolicyFileError) throw new ConfigError(err.problems.map((p) => `RUNBOOKD_POLICY ${p}`));
      throw err;
    }
    this.logger.log(
      `policy from ${this.policy.source}: ${this.policy.approvalRules.length} approval rule(s), ${Object.keys(this.policy.groups).length} group(s), ` +
        `${this.policy.grants.length} grant(s), production accounts: ${this.policy.productionAccounts.join(', ') || 'none'}`,
    );
  }

  approvalFor(subject: ApprovalSubject): ApprovalRequirement {
    return approvalRequirement(this.policy, subject);
  }
}
