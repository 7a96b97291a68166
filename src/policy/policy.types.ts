/** What a principal may do; each grant lists the actions it gives. */
export const POLICY_ACTIONS = ['view', 'run', 'approve', 'cancel', 'admin'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** A runbook's own statement of how much harm a mistaken run can do; approval rules match on it. */
export const RUNBOOK_RISKS = ['low', 'medium', 'high'] as const;
export type RunbookRisk = (typeof RUNBOOK_RISKS)[number];

/** Conditions of one approval rule; every condition given must hold. */
export interface ApprovalRuleWhen {
  /** `production` (the policy's production accounts) or a list of account ids. */
  account?: 'production' | string[];
  /** Tag key → accepted values; every key listed must carry one of its values. */
  tags?: Record<string, string[]>;
  risk?: RunbookRisk[];
  /** Runbook ids or globs (`failover-*`). */
  runbooks?: string[];
}

export interface ApprovalRule {
  id: string;
  when: ApprovalRuleWhen;
  minApprovals: number;
}

/** Who belongs to a group: API key names, OIDC subjects, and values of the OIDC group claim. */
export interface PolicyGroup {
  keys: string[];
  subjects: string[];
  oidcGroups: string[];
}

/** One grant: `who` may do `may` on `runbooks` in `accounts`/`regions`/`environments` (globs; `*` is anything). */
export interface PolicyGrant {
  who: { group: string } | { key: string } | { subject: string };
  may: PolicyAction[];
  runbooks: string[];
  accounts: string[];
  regions: string[];
  environments: string[];
}

export interface Policy {
  /** Where the policy came from: a file path, or `built-in defaults`. */
  source: string;
  productionAccounts: string[];
  approvalRules: ApprovalRule[];
  groups: Record<string, PolicyGroup>;
  grants: PolicyGrant[];
  /** SSO sign-ins: the group for a user whose subject and group claim match no group; unset, they are refused. */
  sso: { defaultGroup: string | undefined };
}
