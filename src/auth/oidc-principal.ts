import type { PolicyService } from '../policy/policy.service';
import { roleOfGroups, type Principal } from './principal';

/**
 * SSO users are named `sso:<email | preferred_username | sub>`. API key names cannot hold a `:`,
 * so a person at the identity provider can never be taken for a key of the same name (the
 * audit's actor, an approval's "another person").
 */
export function ssoName(label: string): string {
  return `sso:${label}`;
}

/**
 * The principal of an SSO user as the policy sees them now; undefined when the policy gives them
 * nothing at all (no group by subject, group claim or default, and no grant naming the subject).
 */
export function oidcPrincipal(policy: PolicyService, subject: string, name: string, claimGroups: readonly string[]): Principal | undefined {
  const groups = policy.groupsOfOidc(subject, claimGroups);
  const namedDirectly = policy.policy.grants.some((g) => 'subject' in g.who && g.who.subject === subject);
  if (groups.length === 0 && !namedDirectly) return undefined;
  return { name, via: 'oidc', subject, groups, role: roleOfGroups(groups) };
}
