import type { TargetFacts } from '../aws/target-facts';
import { anyGlobMatches } from './glob';
import type { Policy, PolicyAction, PolicyGrant } from './policy.types';

/**
 * Who asks, as the policy sees them: the name a grant's `key` matches (API keys only), the OIDC
 * subject a grant's `subject` matches (SSO sign-ins only), and the groups the policy placed them in.
 */
export interface PolicyActor {
  name: string;
  via: 'key' | 'oidc';
  subject?: string;
  groups: readonly string[];
}

export type AccessDecision = { allowed: true } | { allowed: false; why: string };

/** The environment a target is in: its own `environment` tag (any case), or none. */
export function environmentOf(t: TargetFacts): string {
  const found = Object.entries(t.tags).find(([k]) => k.toLowerCase() === 'environment');
  return found ? found[1] : '';
}

function names(grant: PolicyGrant, actor: PolicyActor): boolean {
  const who = grant.who;
  if ('group' in who) return actor.groups.includes(who.group);
  if ('key' in who) return actor.via === 'key' && actor.name === who.key;
  return actor.via === 'oidc' && actor.subject === who.subject;
}

/** The grants that give `actor` the action, on any runbook anywhere. */
export function grantsFor(policy: Policy, actor: PolicyActor, action: PolicyAction): PolicyGrant[] {
  return policy.grants.filter((g) => g.may.includes(action) && names(g, actor));
}

const unscoped = (g: PolicyGrant) => [g.accounts, g.regions, g.environments].every((l) => l.includes('*'));

/** Whether deciding `action` on `runbookId` needs the targets' facts: no grant covering it holds everywhere. */
export function needsTargetFacts(policy: Policy, actor: PolicyActor, action: PolicyAction, runbookId: string): boolean {
  const grants = grantsFor(policy, actor, action).filter((g) => anyGlobMatches(g.runbooks, runbookId));
  return grants.length > 0 && !grants.some(unscoped);
}

/**
 * The one decision: may `actor` do `action`, on `runbookId` (omitted: on anything at all, which is
 * what a route decides before it knows the runbook), where `targets` are (omitted: not yet known).
 * Every target must lie inside one grant's accounts, regions and environments; a scoped grant
 * cannot clear a run whose targets were not read.
 */
export function decideAccess(policy: Policy, actor: PolicyActor, action: PolicyAction, runbookId?: string, targets?: readonly TargetFacts[]): AccessDecision {
  const who = `${actor.name} (groups: ${actor.groups.join(', ') || 'none'})`;
  const grants = grantsFor(policy, actor, action);
  if (grants.length === 0) return { allowed: false, why: `${who} has no grant of "${action}" in the policy (${policy.source})` };
  if (runbookId === undefined) return { allowed: true };
  const onRunbook = grants.filter((g) => anyGlobMatches(g.runbooks, runbookId));
  if (onRunbook.length === 0) {
    return { allowed: false, why: `${who} may "${action}" only on runbooks ${[...new Set(grants.flatMap((g) => g.runbooks))].join(', ')}, not ${runbookId}` };
  }
  if (onRunbook.some(unscoped)) return { allowed: true };
  if (targets === undefined)
    return { allowed: false, why: `${who} may "${action}" on ${runbookId} only in some accounts, regions or environments, and its targets are not known` };
  if (targets.length === 0) {
    return {
      allowed: false,
      why: `${who} may "${action}" on ${runbookId} only in some accounts, regions or environments, and this run names no target whose facts runbookd can read`,
    };
  }
  for (const t of targets) {
    const env = environmentOf(t);
    const covered = onRunbook.some(
      (g) => anyGlobMatches(g.accounts, t.account ?? '') && anyGlobMatches(g.regions, t.region) && anyGlobMatches(g.environments, env),
    );
    if (!covered) {
      const place = `account ${t.account ?? 'unknown'}, region ${t.region}, environment ${env || '(no environment tag)'}`;
      return { allowed: false, why: `${who} may not "${action}" on ${t.type.split(':').pop()} ${t.identifier} (${place}): no grant covers it` };
    }
  }
  return { allowed: true };
}
