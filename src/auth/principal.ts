import type { PolicyActor } from '../policy/policy-access';

/** The built-in role groups, lowest to highest; today's key roles, and the policy's default groups. */
export type Role = 'viewer' | 'operator' | 'admin';

/**
 * Who made a request: the key's name or the SSO user's name (what the audit records), the
 * policy groups they are in, and the highest built-in role group among those (for display, and
 * for a runbook's `approvers.roles`). What they may do is the policy's to say, never the role's.
 */
export interface Principal extends PolicyActor {
  readonly name: string;
  readonly role: Role;
  readonly groups: readonly string[];
}

/** Lowest to highest; each role holds every permission of the roles before it. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The highest built-in role group among `groups`; `viewer` when none (a custom group only). */
export function roleOfGroups(groups: readonly string[]): Role {
  return [...ROLES].reverse().find((r) => groups.includes(r)) ?? 'viewer';
}
