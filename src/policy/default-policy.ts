import type { ApprovalRule, Policy, PolicyGrant, PolicyGroup } from './policy.types';

/**
 * With no RUNBOOKD_POLICY, or for the sections a policy file leaves out. The three groups are
 * today's key roles (a key configured as `operator` is in group `operator`); the approval rules
 * make a high-risk runbook wait for a second person when its target is production by its own
 * tags or account, whatever the requester passed.
 */
export const DEFAULT_APPROVAL_RULES: readonly ApprovalRule[] = [
  { id: 'production-environment-tag', when: { tags: { environment: ['production', 'prod'] }, risk: ['high'] }, minApprovals: 1 },
  { id: 'production-account', when: { account: 'production', risk: ['high'] }, minApprovals: 1 },
  { id: 'critical-tier-tag', when: { tags: { 'runbookd:tier': ['critical'] }, risk: ['high'] }, minApprovals: 2 },
];

export const ROLE_GROUPS = ['viewer', 'operator', 'admin'] as const;

const everywhere = { runbooks: ['*'], accounts: ['*'], regions: ['*'], environments: ['*'] };

export const DEFAULT_GRANTS: readonly PolicyGrant[] = [
  { who: { group: 'viewer' }, may: ['view'], ...everywhere },
  { who: { group: 'operator' }, may: ['view', 'run', 'approve', 'cancel'], ...everywhere },
  { who: { group: 'admin' }, may: ['view', 'run', 'approve', 'cancel', 'admin'], ...everywhere },
];

export function defaultGroups(): Record<string, PolicyGroup> {
  return Object.fromEntries(ROLE_GROUPS.map((g) => [g, { keys: [], subjects: [], oidcGroups: [] }]));
}

export function defaultPolicy(): Policy {
  return {
    source: 'built-in defaults',
    productionAccounts: [],
    approvalRules: [...DEFAULT_APPROVAL_RULES],
    groups: defaultGroups(),
    grants: [...DEFAULT_GRANTS],
    sso: { defaultGroup: undefined },
  };
}
