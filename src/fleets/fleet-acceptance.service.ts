import { Injectable } from '@nestjs/common';
import { TargetPolicyService } from '../auth/target-policy.service';
import type { AwsCallContext } from '../aws/aws-call.types';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { AcceptedRun, RunAcceptanceService } from '../engine/run-acceptance.service';
import type { RunTrigger, StepResultRecord } from '../model/run.types';
import { parseDuration } from '../runbooks/duration';
import { RunbookCatalog } from '../runbooks/runbook-catalog.service';
import { RunbookError } from '../runbooks/runbook.error';
import { FleetError } from './fleet.error';
import { FLEET_TARGETS_STEP, fleetDefinition } from './fleet-definition';
import { bindTarget, checkCommonParameters, fleetLimits, parseFleetRequest, type FleetRequestBody } from './fleet-request';
import { FleetApprovalService } from './fleet-approval.service';
import { FleetTargetsService } from './fleet-targets.service';
import type { FleetPlan } from '../model/fleet.types';

export interface AcceptFleetCommand extends FleetRequestBody {
  runbookId: string;
  /** Parameters every target's child shares; the runbook's `fleet.bind` adds each target's own. */
  parameters: Record<string, unknown>;
  dryRun: boolean;
  reason: string | null;
  trigger: RunTrigger;
  dedupeKey: string | null;
}

/** Longest a fleet's parent may run (the engine's largest run timeout). */
const MAX_FLEET_SECONDS = 7 * 86400;

/**
 * Accepts a fleet run: checks the request, resolves its targets once, checks every target's
 * child parameters and allow-list, and records the parent run with the list (a step result,
 * `targets`, and the `fleet.targets-resolved` audit record) in the acceptance's one commit. The
 * parent starts nothing until a worker runs it, and acts on exactly this list: a resource
 * tagged later is not touched. Refusals leave nothing recorded.
 */
@Injectable()
export class FleetAcceptanceService {
  constructor(
    private readonly catalog: RunbookCatalog,
    private readonly targets: FleetTargetsService,
    private readonly policy: TargetPolicyService,
    private readonly acceptance: RunAcceptanceService,
    private readonly approval: FleetApprovalService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async accept(cmd: AcceptFleetCommand): Promise<AcceptedRun> {
    const loaded = this.catalog.get(cmd.runbookId);
    const def = loaded.definition;
    const request = parseFleetRequest(def.id, def.fleet, cmd, this.config.scope.allowedAccounts);
    const fleet = def.fleet!;
    checkCommonParameters(def.id, fleet, cmd.parameters);
    const ctx: AwsCallContext = {
      runId: '',
      runbookId: def.id,
      stepId: FLEET_TARGETS_STEP,
      actor: cmd.trigger.actor,
      dryRun: cmd.dryRun,
      expiresAt: new Date(this.clock.nowMs() + 3_600_000),
    };
    const resolved = await this.targets.resolve(def.id, request.selector, ctx);
    if (resolved.targets.length === 0 && !request.allowEmpty) {
      const where = resolved.searched.map((s) => `${s.account}/${s.region}`).join(', ') || 'the list given';
      throw new FleetError(
        'FLEET_TARGETS_EMPTY',
        `the targets resolved to no ${request.selector.resourceType} (searched ${where}); say allowEmpty: true to record an empty fleet`,
        {
          field: 'targets',
          searched: resolved.searched,
        },
      );
    }
    // Every child's parameters, checked now: a bad common parameter or a target outside the
    // allow-list is refused before anything is recorded, not discovered target by target.
    const bound: Array<{ target: (typeof resolved.targets)[number]; parameters: Record<string, unknown> }> = [];
    for (const t of resolved.targets) {
      let checked: Record<string, unknown>;
      try {
        checked = this.catalog.validateParameters(def.id, bindTarget(fleet, cmd.parameters, t));
      } catch (err) {
        if (err instanceof RunbookError) throw new RunbookError(err.code, `target ${t.arn}: ${err.message}`, { ...err.details, target: t.arn });
        throw err;
      }
      this.policy.check(def.id, checked);
      bound.push({ target: t, parameters: checked });
    }
    if (resolved.targets.length === 0) this.checkCommonNames(def.id, cmd.parameters);

    const limits = fleetLimits(request, resolved.targets.length);
    const childSeconds = parseDuration(def.guards.timeout ?? '') ?? this.config.runs.defaultTimeoutSeconds;
    const waves = Math.max(1, Math.ceil(resolved.targets.length / limits.maxConcurrency));
    const timeoutSeconds = Math.min(MAX_FLEET_SECONDS, childSeconds * waves + 3600);
    // Any target whose own child would ask for approval makes the fleet ask once, before its first child.
    const approval = await this.approval.judge(def, loaded.digest, bound, ctx);
    const plan: FleetPlan = {
      runbookId: def.id,
      bind: fleet.bind,
      targets: resolved.targets,
      limits,
      homeAccount: resolved.homeAccount,
      selector: request.selector,
      searched: resolved.searched,
      ...(approval ? { approval: { targets: approval.targets } } : {}),
    };
    const acceptedAt = this.clock.now();
    return this.acceptance.accept({
      runbookId: def.id,
      parameters: cmd.parameters,
      dryRun: cmd.dryRun,
      reason: cmd.reason,
      trigger: { ...cmd.trigger, fleet: { targets: resolved.targets.length } },
      dedupeKey: cmd.dedupeKey,
      derived: { definition: fleetDefinition(def, timeoutSeconds, approval ?? undefined), parameters: cmd.parameters },
      // The request as asked (not the list it resolved to): a repeat after a resource was tagged is the same request.
      requestScope: {
        targets: request.selector,
        maxConcurrency: request.maxConcurrency,
        maxErrors: request.maxErrors,
        maxConcurrencyPerAccountRegion: request.maxConcurrencyPerAccountRegion,
        allowEmpty: request.allowEmpty,
      },
      also: (runId) => ({
        steps: [targetsRecord(runId, plan, acceptedAt)],
        events: [
          {
            kind: 'fleet.targets-resolved',
            runId,
            actor: cmd.trigger.actor,
            data: {
              runbookId: def.id,
              count: resolved.targets.length,
              limits,
              selector: request.selector,
              searched: resolved.searched,
              calls: resolved.calls,
              targets: resolved.targets.map((t) => ({ index: t.index, arn: t.arn, account: t.account, region: t.region, roleArn: t.roleArn })),
            },
          },
        ],
      }),
    });
  }

  /** With no target to bind, a common parameter can still be misspelt: it must at least be declared. */
  private checkCommonNames(runbookId: string, parameters: Record<string, unknown>): void {
    const declared = ((this.catalog.get(runbookId).definition.parameters as { properties?: object }).properties ?? {}) as Record<string, unknown>;
    const unknown = Object.keys(parameters).find((k) => !(k in declared));
    if (unknown) {
      throw new RunbookError('PARAMETERS_INVALID', `parameter "${unknown}" is not one runbook ${runbookId} declares`, {
        errors: [{ field: unknown, message: 'not declared' }],
      });
    }
  }
}

/** The fleet's list as a step result of its parent, written with the run: later steps read it as `steps.targets`. */
function targetsRecord(runId: string, plan: FleetPlan, at: Date): StepResultRecord {
  return {
    runId,
    stepId: FLEET_TARGETS_STEP,
    phase: 'main',
    position: -1,
    uses: 'fleet.targets',
    mutates: false,
    state: 'succeeded',
    attempts: 1,
    startedAt: at,
    endedAt: at,
    input: { selector: plan.selector },
    output: plan,
    error: null,
    memory: {},
    note: `${plan.targets.length} target(s) resolved; maxConcurrency ${plan.limits.maxConcurrency}, maxErrors ${plan.limits.maxErrors}${plan.approval ? '; one approval for the fleet' : ''}`,
  };
}
