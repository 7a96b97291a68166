import { Injectable, Logger } from '@nestjs/common';
import pLimit from 'p-limit';
import type { AwsCallContext } from '../aws/aws-call.types';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { ApprovalsService } from '../engine/approvals.service';
import { PreflightService } from '../engine/preflight.service';
import type { ApprovalReason } from '../policy/approval-rules';
import { APPROVE_STEP, approvalNeeded, DEFAULT_APPROVAL_TIMEOUT } from '../runbooks/approval-gate';
import { parseDuration } from '../runbooks/duration';
import { resolveValue, UnresolvedExpression } from '../runbooks/expressions';
import type { ApprovalSpec, FleetApprovalTarget, RunbookDefinition } from '../model/runbook.types';
import type { StepContext } from '../steps/step.contract';
import type { FleetTarget } from '../model/fleet.types';

/** Targets looked at once (their facts may be read from AWS). */
const PARALLELISM = 8;

export interface FleetApproval {
  /** The gate the fleet's parent waits at before its first child: every reason any target's child would have asked for. */
  spec: Omit<ApprovalSpec, 'fleet'>;
  /** Every target with its plan hash, recorded with the list (the gate reads it from there, so it is what is approved). */
  targets: FleetApprovalTarget[];
  /** Seconds the gate may wait, added to the parent's timeout. */
  timeoutSeconds: number;
}

/**
 * Whether a fleet needs one approval, and what it shows: each target's child is judged as its own
 * acceptance would judge it (the policy's rules on the target's facts, the runbook's own
 * `approval.when` on the parameters the target binds). When any would ask, the fleet asks once,
 * before its first child, for the most demanding count, listing every target with the hash of its
 * child's plan; a child whose plan still hashes the same is covered (ApprovalsService.fleetCover).
 */
@Injectable()
export class FleetApprovalService {
  private readonly logger = new Logger('FleetApproval');

  constructor(
    private readonly preflight: PreflightService,
    private readonly approvals: ApprovalsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async judge(
    def: RunbookDefinition,
    digest: string,
    targets: Array<{ target: FleetTarget; parameters: Record<string, unknown> }>,
    aws: AwsCallContext,
  ): Promise<FleetApproval | null> {
    const expiresAt = aws.expiresAt;
    const gates = def.steps.filter((s) => s.uses === APPROVE_STEP);
    const limit = pLimit(PARALLELISM);
    const judged = await Promise.all(
      targets.map(({ target, parameters }) =>
        limit(async () => {
          const req = { definition: def, parameters, runId: 'fleet-target', actor: aws.actor, dryRun: aws.dryRun, expiresAt };
          const reasons: ApprovalReason[] = [...(await this.preflight.approval(req, [])).requirement.reasons];
          for (const g of gates) {
            const spec = (g.with ?? {}) as ApprovalSpec;
            if (spec.when === undefined || this.whenHolds(spec.when, parameters)) {
              reasons.push({
                rule: 'runbook:approval.when',
                minApprovals: spec.minApprovals ?? 1,
                because: `${target.id}: runbook ${def.id}'s approval holds for its parameters`,
                target: target.arn,
              });
            }
          }
          return { target, parameters, reasons };
        }),
      ),
    );
    const reasons = judged.flatMap((j) => j.reasons);
    if (reasons.length === 0) return null;

    const planned = await Promise.all(
      judged.map(({ target, parameters, reasons: own }) =>
        limit(async () => {
          const { hash } = await this.approvals.targetPlan(
            { runbookId: def.id, runbookDigest: digest, definition: def, parameters },
            this.planContext(def, aws, target),
          );
          const row: FleetApprovalTarget = {
            index: target.index,
            arn: target.arn,
            id: target.id,
            account: target.account,
            region: target.region,
            planHash: hash,
            asks: own.length > 0,
          };
          return row;
        }),
      ),
    );
    const own = gates.map((g) => (g.with ?? {}) as ApprovalSpec);
    const timeoutSeconds = Math.max(...[DEFAULT_APPROVAL_TIMEOUT, ...own.map((s) => s.timeout ?? DEFAULT_APPROVAL_TIMEOUT)].map((t) => parseDuration(t) ?? 0));
    const asking = planned.filter((t) => t.asks).length;
    this.logger.log(`fleet of ${def.id}: ${asking}/${targets.length} target(s) would ask for approval; the fleet asks once`);
    return {
      spec: {
        requiredBy: reasons,
        minApprovals: Math.min(
          10,
          reasons.reduce((n, r) => Math.max(n, r.minApprovals), 1),
        ),
        timeout: `${timeoutSeconds}s`,
        message: `One approval for a fleet of ${targets.length} ${def.id} run(s): ${asking} of its targets need one on their own.${own[0]?.message ? ` ${own[0].message}` : ''}`,
        ...(own[0]?.approvers ? { approvers: own[0].approvers } : {}),
      },
      targets: planned,
      timeoutSeconds,
    };
  }

  /** `when` on the target's parameters; one that needs more than the parameters (step outputs) counts as holding: asking one person more is the safe side. */
  private whenHolds(when: NonNullable<ApprovalSpec['when']>, parameters: Record<string, unknown>): boolean {
    try {
      return approvalNeeded(resolveValue(when, { params: parameters, defaults: { region: this.config.aws.region } }) as ApprovalSpec['when']);
    } catch (err) {
      if (err instanceof UnresolvedExpression) return true;
      throw err;
    }
  }

  private planContext(def: RunbookDefinition, aws: AwsCallContext, target: FleetTarget): StepContext {
    return {
      runId: aws.runId,
      runbookId: def.id,
      stepId: 'approval',
      attempt: 1,
      startedAt: this.clock.now(),
      memory: {},
      checkpoint: async () => undefined,
      dryRun: true,
      expiresAt: aws.expiresAt,
      aws: { ...aws, dryRun: true },
      log: new Logger(`fleet/${target.arn}`),
    };
  }
}
