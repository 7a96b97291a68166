import { Injectable, Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from '../config/app.config';
import { approvalRequirement, type ApprovalRequirement, type ApprovalSubject } from './approval-rules';
import type { TargetFacts } from '../aws/target-facts';
import { decideAccess, needsTargetFacts, type AccessDecision, type PolicyActor } from './policy-access';
import { loadPolicy, PolicyFileError } from './policy-file';
import type { Policy, PolicyAction } from './policy.types';

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

  /**
   * The groups an API key is in: the group it is configured with (RUNBOOKD_API_KEYS, or a managed
   * key's), and every policy group that lists its name under `keys`.
   */
  groupsOfKey(name: string, group: string): string[] {
    return [
      ...new Set([
        group,
        ...Object.entries(this.policy.groups)
          .filter(([, g]) => g.keys.includes(name))
          .map(([n]) => n),
      ]),
    ];
  }

  /**
   * The groups an SSO user is in: those listing their subject, or one of their group-claim values;
   * none matching, the policy's `sso.defaultGroup` if it names one. Empty: the sign-in is refused.
   */
  groupsOfOidc(subject: string, claimGroups: readonly string[]): string[] {
    const matched = Object.entries(this.policy.groups)
      .filter(([, g]) => g.subjects.includes(subject) || g.oidcGroups.some((c) => claimGroups.includes(c)))
      .map(([n]) => n);
    const fallback = this.policy.sso?.defaultGroup;
    return matched.length > 0 || fallback === undefined ? matched : [fallback];
  }

  hasGroup(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.policy.groups, name);
  }

  /** See decideAccess: the one answer to "may this actor do this, on this runbook, there". */
  decide(actor: PolicyActor, action: PolicyAction, runbookId?: string, targets?: readonly TargetFacts[]): AccessDecision {
    return decideAccess(this.policy, actor, action, runbookId, targets);
  }

  needsTargetFacts(actor: PolicyActor, action: PolicyAction, runbookId: string): boolean {
    return needsTargetFacts(this.policy, actor, action, runbookId);
  }

  approvalFor(subject: ApprovalSubject): ApprovalRequirement {
    return approvalRequirement(this.policy, subject);
  }
}
