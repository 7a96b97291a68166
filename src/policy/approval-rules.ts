import { anyGlobMatches } from './glob';
import type { ApprovalRule, Policy, RunbookRisk } from './policy.types';
import type { TargetFacts } from '../aws/target-facts';

/** One reason a run needs approval: the rule, and the fact about which target made it hold. */
export interface ApprovalReason {
  rule: string;
  minApprovals: number;
  /** What held, in words: `cluster orders-aurora is tagged environment=production`. */
  because: string;
  /** The target the rule matched, or null for a rule of the runbook itself (`approval.when`). */
  target: string | null;
}

export interface ApprovalRequirement {
  /** 0 when nothing asks for an approval. */
  minApprovals: number;
  reasons: ApprovalReason[];
}

export interface ApprovalSubject {
  runbookId: string;
  risk: RunbookRisk;
  targets: TargetFacts[];
}

/**
 * Which of the policy's approval rules hold for a run, from the targets' own facts. The most
 * demanding rule sets the number of approvals; every rule that held is named, so the approver
 * sees why they were asked. Nothing here reads what the requester typed.
 */
export function approvalRequirement(policy: Policy, subject: ApprovalSubject): ApprovalRequirement {
  const reasons: ApprovalReason[] = [];
  for (const rule of policy.approvalRules) {
    if (rule.when.risk && !rule.when.risk.includes(subject.risk)) continue;
    if (rule.when.runbooks && !anyGlobMatches(rule.when.runbooks, subject.runbookId)) continue;
    const needsTarget = rule.when.account !== undefined || rule.when.tags !== undefined;
    if (!needsTarget) {
      reasons.push({ rule: rule.id, minApprovals: rule.minApprovals, because: `runbook ${subject.runbookId} (risk ${subject.risk})`, target: null });
      continue;
    }
    for (const t of subject.targets) {
      const why = targetMatch(rule, policy, t);
      if (why !== null)
        reasons.push({ rule: rule.id, minApprovals: rule.minApprovals, because: `${describe(t)} ${why}`, target: t.arn ?? `${t.type}/${t.identifier}` });
    }
  }
  return { minApprovals: reasons.reduce((n, r) => Math.max(n, r.minApprovals), 0), reasons };
}

/** Both requirements at once: the larger count, every reason. A requester's rule can only add. */
export function combineRequirements(a: ApprovalRequirement, b: ApprovalRequirement): ApprovalRequirement {
  return { minApprovals: Math.max(a.minApprovals, b.minApprovals), reasons: [...a.reasons, ...b.reasons] };
}

function targetMatch(rule: ApprovalRule, policy: Policy, t: TargetFacts): string | null {
  const said: string[] = [];
  if (rule.when.account !== undefined) {
    const accounts = rule.when.account === 'production' ? policy.productionAccounts : rule.when.account;
    if (t.account === null || !accounts.includes(t.account)) return null;
    said.push(`is in ${rule.when.account === 'production' ? 'production ' : ''}account ${t.account}`);
  }
  for (const [key, values] of Object.entries(rule.when.tags ?? {})) {
    // Case-blind on both sides: `Environment=Production` is the same promise as `environment=production`.
    const found = Object.entries(t.tags).find(([k, v]) => k.toLowerCase() === key.toLowerCase() && values.some((x) => x.toLowerCase() === v.toLowerCase()));
    if (found === undefined) return null;
    said.push(`is tagged ${found[0]}=${found[1]}`);
  }
  return said.join(' and ');
}

function describe(t: TargetFacts): string {
  return `${t.type.split(':').pop()} ${t.identifier}`;
}
