import { Injectable } from '@nestjs/common';
import { AuthError } from '../auth/auth.error';
import type { PolicyActor } from '../policy/policy-access';
import { PolicyService } from '../policy/policy.service';
import type { PolicyAction } from '../policy/policy.types';
import { RunsRepository } from '../persistence/runs.repository';
import type { RunRecord, RunTrigger } from '../model/run.types';
import { PreflightService } from './preflight.service';
import { RunSecretsService } from './run-secrets.service';

/**
 * Whether a person may approve or cancel a run that exists: decided by the policy on the run's
 * runbook and, when their grant is scoped to accounts, regions or environments, on its targets'
 * facts read from AWS now; never on the run's typed parameters alone.
 */
@Injectable()
export class RunAccessService {
  constructor(
    private readonly policy: PolicyService,
    private readonly preflight: PreflightService,
    private readonly runs: RunsRepository,
    private readonly secrets: RunSecretsService,
  ) {}

  /** Throws AuthError FORBIDDEN saying why. */
  async assertMay(actor: PolicyActor, action: Extract<PolicyAction, 'approve' | 'cancel'>, run: RunRecord): Promise<void> {
    let decision = this.policy.decide(actor, action, run.runbookId);
    if (!decision.allowed && this.policy.needsTargetFacts(actor, action, run.runbookId)) {
      const targets = await this.preflight.targetFactsOfRun(this.secrets.open(run), await this.runs.steps(run.id));
      decision = this.policy.decide(actor, action, run.runbookId, targets);
    }
    if (!decision.allowed)
      throw new AuthError('FORBIDDEN', `${actor.name} may not ${action} run ${run.id}: ${decision.why}`, { action, runId: run.id, runbookId: run.runbookId });
  }
}

/**
 * The person a run was started by, as the policy saw them when it was accepted (recorded in the
 * trigger, and carried to the runs it starts); null for alarms, schedules and other machines,
 * whose runbooks an admin configured. A trigger from before groups were recorded counts as its role.
 */
export function personOfTrigger(trigger: RunTrigger): PolicyActor | null {
  const byPerson = trigger.kind === 'rest' || trigger.kind === 'cli' || (trigger.kind === 'parent' && typeof trigger.role === 'string');
  if (!byPerson) return null;
  const groups = Array.isArray(trigger.groups)
    ? trigger.groups.filter((g): g is string => typeof g === 'string')
    : typeof trigger.role === 'string'
      ? [trigger.role]
      : [];
  const via = trigger.via === 'oidc' ? 'oidc' : 'key';
  return { name: trigger.actor, via, groups, ...(typeof trigger.subject === 'string' ? { subject: trigger.subject } : {}) };
}

/** The trigger fields that say who a person is, to record with their run (and copy to its children). */
export function personFields(p: { role: string; groups: readonly string[]; via: 'key' | 'oidc'; subject?: string }): Record<string, unknown> {
  return { role: p.role, groups: [...p.groups], via: p.via, ...(p.subject !== undefined ? { subject: p.subject } : {}) };
}

/** A child run is started by whoever started its parent: the parent trigger's person fields, for the child's. */
export function inheritedPersonFields(parent: RunTrigger | undefined): Record<string, unknown> {
  if (parent === undefined || typeof parent.role !== 'string') return {};
  return Object.fromEntries(['role', 'groups', 'via', 'subject'].filter((k) => parent[k] !== undefined).map((k) => [k, parent[k]]));
}
