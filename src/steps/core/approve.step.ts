import { Injectable } from '@nestjs/common';
import { done, engineOf, StepContext, StepOutcome, StepType } from '../step.contract';
import { approvalNeeded } from '../../runbooks/approval-gate';
import type { ApprovalSpec } from '../../model/runbook.types';

interface Output extends Record<string, unknown> {
  required: boolean;
  why?: string;
  approvalId?: number;
  approvedBy?: string[];
  planHash?: string;
  requiredBy?: ApprovalSpec['requiredBy'];
  /** Covered by the fleet's approval instead of asking: the fleet run and its approval. */
  inheritedFrom?: { runId: string; approvalId: number };
}

/**
 * A gate: the run waits here, holding no worker, until enough people other than the requester
 * approve the plan (the resolved parameters and the exact AWS calls still to come). A reject or
 * no decision before the timeout ends the run `rejected`; cleanup still runs. The runbook-level
 * `approval:` is this step, placed by the loader before the first mutating step.
 */
@Injectable()
export class ApproveStep implements StepType<ApprovalSpec, Output> {
  readonly uses = 'core.approve';
  readonly description = 'Waits for approval by people other than the requester (dry runs pass at once)';
  // It changes nothing outside runbookd; and a dry run must reach it to pass it, not plan it.
  readonly mutates = false;
  // The gate calls no AWS API itself; its requests go out through the runbook's notify targets (SNS, counted with the engine's calls).
  readonly iamActions = [];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: {
      when: {},
      approvers: {
        type: 'object',
        additionalProperties: false,
        properties: { roles: { type: 'array', items: { enum: ['operator', 'admin'] } }, keys: { type: 'array', items: { type: 'string' } } },
      },
      minApprovals: { type: 'integer', minimum: 1, maximum: 10 },
      timeout: { type: 'string', pattern: '^(\\d+h)?(\\d+m)?(\\d+s)?$', minLength: 2 },
      message: { type: 'string' },
      requiredBy: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['rule', 'minApprovals', 'because'],
          properties: {
            rule: { type: 'string' },
            minApprovals: { type: 'integer', minimum: 1, maximum: 10 },
            because: { type: 'string' },
            target: { type: ['string', 'null'] },
          },
        },
      },
      fleet: {
        type: 'object',
        additionalProperties: false,
        required: ['targets'],
        properties: {
          targets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['index', 'arn', 'planHash'],
              properties: { index: { type: 'integer' }, arn: { type: 'string' }, planHash: { type: 'string' } },
            },
          },
        },
      },
    },
  };
  readonly outputs = ['required', 'why', 'approvalId', 'approvedBy', 'planHash', 'requiredBy', 'inheritedFrom'];

  async run(input: ApprovalSpec, ctx: StepContext) {
    // The policy's reasons (read from the target at acceptance) hold whatever `when` says; `when` can only add one.
    const requiredBy = [...(input.requiredBy ?? [])];
    if (input.when !== undefined && approvalNeeded(input.when)) {
      requiredBy.push({
        rule: 'runbook:approval.when',
        minApprovals: input.minApprovals ?? 1,
        because: "the runbook's approval.when holds for these parameters",
        target: null,
      });
    }
    const needed = input.when === undefined || requiredBy.length > 0;
    if (ctx.dryRun) {
      const would = needed ? `; a real run would wait for approval (${requiredBy.map((r) => r.rule).join(', ') || 'always'})` : '';
      return done<Output>({ required: false, why: `dry run: nothing changes, no approval needed${would}`, ...(requiredBy.length > 0 ? { requiredBy } : {}) });
    }
    if (!needed) return done<Output>({ required: false, why: 'the approval condition does not hold and no policy rule asks for one' });
    const outcome = await engineOf(ctx).approvalGate({ ...input, ...(requiredBy.length > 0 ? { requiredBy } : {}) });
    return (outcome.kind === 'done' && requiredBy.length > 0 ? done({ ...outcome.output, requiredBy }) : outcome) as StepOutcome<Output>;
  }

  summarize(o: Output): string {
    return o.required ? `approved by ${(o.approvedBy ?? []).join(', ')} (plan ${String(o.planHash).slice(0, 12)})` : `no approval needed: ${o.why}`;
  }
}
