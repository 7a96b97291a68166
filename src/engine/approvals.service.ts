import { createHash } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../auth/principal';
import { roleAllows } from '../auth/principal';
import type { PlannedCall } from '../aws/aws-call.types';
import { canonicalJson } from '../common/canonical-json';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { ApprovalDecision, ApprovalRecord, ApprovalsRepository, ApprovalState } from '../persistence/approvals.repository';
import { Database } from '../persistence/database';
import { NotificationsRepository } from '../persistence/notifications.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { DEFAULT_APPROVAL_TIMEOUT } from '../runbooks/approval-gate';
import { parseDuration } from '../runbooks/duration';
import { isTruthy, referencedSteps, resolveValue } from '../runbooks/expressions';
import type { ApprovalSpec, FleetApprovalTarget, RunbookDefinition, StepDefinition } from '../model/runbook.types';
import { ApprovalError } from './approval.error';
import { EngineError } from './engine.error';
import { RunAccessService } from './run-access.service';
import { RunQueue } from './run-queue.adapter';
import { redactorFor } from './run-redactor';
import { isTerminal, RunRecord, StepResultRecord } from '../model/run.types';
import { done, StepContext, StepOutcome, wait } from '../steps/step.contract';
import { StepRegistry } from '../steps/step-registry';

/** The longest a waiting gate sleeps between looks (a decision wakes it at once anyway). */
const MAX_LOOK_S = 60;

export interface ApprovalPlan {
  parameters: Record<string, unknown>;
  /** The policy rules (and the runbook's own `approval.when`) that asked for this approval, and the facts that made them hold. */
  requiredBy?: NonNullable<ApprovalSpec['requiredBy']>;
  /** The mutating steps still to come, with the exact AWS calls where they can be known now. */
  /** `skipped`: the step's `if:` is already known to be false, so it will not run (the approver is told, not asked). */
  steps: PlannedSteps;
  /** A fleet's approval: every target it will start a child for, and each child's plan hash. */
  fleet?: { targets: FleetApprovalTarget[] };
}

type PlannedSteps = Array<{ stepId: string; uses: string; calls: PlannedCall[] | null; note?: string; skipped?: true }>;

/**
 * What one fleet target's child will do, as far as it can be known before the child exists: the
 * runbook (by digest), the parameters its target binds, and its mutating steps planned from
 * those parameters alone. The same whether the fleet computes it at acceptance or the child at
 * its gate, so the child can tell whether the fleet's approval covers it.
 */
export interface TargetPlan {
  runbookId: string;
  runbookDigest: string;
  parameters: Record<string, unknown>;
  steps: PlannedSteps;
}

/** The run identity a target plan is computed with: a plan that names its run would never match. */
const TARGET_PLAN_RUN = { id: 'fleet-target', dryRun: false, actor: 'fleet', expiresAt: new Date(0).toISOString(), acceptedAt: new Date(0).toISOString() };

export interface ApprovalView {
  id: number;
  runId: string;
  runbookId: string | null;
  gate: string;
  state: ApprovalState;
  requestedBy: string;
  approvers: { roles: string[]; keys: string[] };
  minApprovals: number;
  message: string | null;
  plan: Record<string, unknown>;
  planHash: string;
  approvals: string[];
  decisions: ApprovalDecision[];
  createdAt: string;
  expiresAt: string;
  ageSeconds: number;
  decidedAt: string | null;
  reason: string | null;
  commands: { approve: string; reject: string };
  links: { run: string; console: string };
}

/**
 * Approvals: the gate a run waits at (`core.approve`, also what a runbook's `approval:` becomes)
 * and the decisions people make about it. Safe by default: the requester never approves their
 * own run, `minApprovals` distinct people must, one reject ends the run `rejected`, a timeout
 * never approves, and an approval is bound to the hash of the resolved parameters and plan it
 * was given for: if they differ when the gate looks again, the approval is void and asked anew.
 */
@Injectable()
export class ApprovalsService {
  private readonly logger = new Logger('Approvals');

  constructor(
    private readonly repo: ApprovalsRepository,
    private readonly runs: RunsRepository,
    private readonly audit: AuditService,
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly queue: RunQueue,
    private readonly notifications: NotificationsRepository,
    private readonly registry: StepRegistry,
    private readonly access: RunAccessService,
  ) {}

  /** One look of a gate: done when approved, wait while pending, a coded error when rejected or expired. */
  async gate(ctx: StepContext, spec: ApprovalSpec): Promise<StepOutcome<Record<string, unknown>>> {
    const run = await this.runs.get(ctx.runId);
    if (!run) throw new EngineError('RUN_NOT_FOUND', `no run "${ctx.runId}"`);
    const covered = await this.fleetCover(run, ctx, spec);
    if (covered) return covered;
    const { plan, hash } = await this.planOf(run, await this.runs.steps(run.id), ctx, spec.requiredBy, spec.fleet);
    let current = await this.repo.latest(run.id, ctx.stepId);

    if (current?.state === 'rejected') {
      const by = current.decisions.find((d) => d.decision === 'reject');
      throw new ApprovalError('APPROVAL_REJECTED', `rejected by ${by?.actor ?? 'unknown'}${by?.comment ? `: ${by.comment}` : ''}`, {
        approvalId: current.id,
        reason: 'rejected',
        rejectedBy: by?.actor ?? null,
        comment: by?.comment ?? null,
      });
    }
    if (current?.state === 'expired') throw this.expiredError(current);
    if (current && (current.state === 'pending' || current.state === 'approved') && current.planHash !== hash) {
      // What was agreed to is not what would happen now: the agreement does not carry over.
      await this.db.transaction(async (tx) => {
        await this.repo.update(current!.id, { state: 'void', decidedAt: this.clock.now(), reason: 'plan-changed' }, tx);
        await this.audit.append(
          {
            kind: 'approval.voided',
            runId: run.id,
            actor: 'system',
            data: {
              approvalId: current!.id,
              gate: ctx.stepId,
              reason: 'plan-changed',
              previousPlanHash: current!.planHash,
              planHash: hash,
              approvedBy: current!.decisions.filter((d) => d.decision === 'approve').map((d) => d.actor),
            },
          },
          tx,
        );
      });
      current = null;
    }
    if (!current || current.state === 'void') current = await this.request(run, ctx.stepId, spec, plan, hash);

    if (current.state === 'approved') {
      return done({ required: true, approvalId: current.id, approvedBy: approversOf(current), planHash: current.planHash });
    }
    const leftMs = current.expiresAt.getTime() - this.clock.nowMs();
    if (leftMs <= 0) {
      await this.db.transaction(async (tx) => {
        await this.repo.update(current.id, { state: 'expired', decidedAt: this.clock.now(), reason: 'expired' }, tx);
        await this.audit.append(
          {
            kind: 'approval.expired',
            runId: run.id,
            actor: 'system',
            data: { approvalId: current.id, gate: ctx.stepId, expiresAt: current.expiresAt.toISOString(), approvals: approversOf(current) },
          },
          tx,
        );
      });
      throw this.expiredError(current);
    }
    const have = approversOf(current).length;
    return wait(
      Math.min(MAX_LOOK_S, Math.ceil(leftMs / 1000)),
      { approvalId: current.id },
      `waiting for approval (${have}/${current.minApprovals}) until ${current.expiresAt.toISOString()}: runbookd approve ${run.id} -m "…"`,
    );
  }

  private expiredError(a: ApprovalRecord): ApprovalError {
    return new ApprovalError(
      'APPROVAL_EXPIRED',
      `no decision before the approval expired at ${a.expiresAt.toISOString()} (${approversOf(a).length}/${a.minApprovals} approvals)`,
      {
        approvalId: a.id,
        reason: 'expired',
        expiresAt: a.expiresAt.toISOString(),
      },
    );
  }

  private async request(run: RunRecord, gate: string, spec: ApprovalSpec, plan: ApprovalPlan, hash: string): Promise<ApprovalRecord> {
    const timeoutS = parseDuration(spec.timeout ?? DEFAULT_APPROVAL_TIMEOUT) ?? 4 * 3600;
    const approvers = { roles: spec.approvers?.roles ?? (spec.approvers?.keys?.length ? [] : ['operator']), keys: spec.approvers?.keys ?? [] };
    const shown = redactorFor(run).apply(plan) as unknown as Record<string, unknown>;
    try {
      return await this.db.transaction(async (tx) => {
        const a = await this.repo.insert(
          {
            runId: run.id,
            gate,
            requestedBy: run.actor,
            approvers,
            minApprovals: spec.minApprovals ?? 1,
            message: spec.message ?? null,
            plan: shown,
            planHash: hash,
            expiresAt: new Date(this.clock.nowMs() + timeoutS * 1000),
          },
          tx,
        );
        await this.audit.append(
          {
            kind: 'approval.requested',
            runId: run.id,
            actor: run.actor,
            data: {
              approvalId: a.id,
              gate,
              planHash: hash,
              minApprovals: a.minApprovals,
              approvers,
              message: a.message,
              expiresAt: a.expiresAt.toISOString(),
              plan: shown,
            },
          },
          tx,
        );
        // Asked through the runbook's notify targets whatever outcomes they listen for: a request nobody sees only expires.
        const notify = run.definition.notify;
        if (notify?.sns) await this.notifications.enqueue(run.id, 'sns', notify.sns, tx, a.id);
        if (notify?.webhook) await this.notifications.enqueue(run.id, 'webhook', notify.webhook, tx, a.id);
        return a;
      });
    } catch (err) {
      // Another worker made the request a moment ago (one live request per gate): use it.
      const existing = await this.repo.latest(run.id, gate);
      if (existing && (existing.state === 'pending' || existing.state === 'approved')) return existing;
      throw err;
    }
  }

  /**
   * The resolved parameters and the AWS calls the mutating steps after the gate would make, as a
   * dry run would record them. A step whose input needs outputs not known yet is listed without
   * calls (it is planned when they exist). Hashed over the unredacted values, shown redacted.
   */
  async planOf(
    run: RunRecord,
    steps: StepResultRecord[],
    ctx: StepContext,
    requiredBy?: ApprovalSpec['requiredBy'],
    fleet?: ApprovalSpec['fleet'],
  ): Promise<{ plan: ApprovalPlan; hash: string }> {
    const defs = run.definition.steps;
    const outputs: Record<string, unknown> = {};
    for (const s of steps) if (s.state === 'succeeded') outputs[s.stepId] = s.output ?? {};
    const scope = {
      params: run.parameters,
      steps: outputs,
      run: {
        id: run.id,
        runbookId: run.runbookId,
        dryRun: run.dryRun,
        actor: run.actor,
        expiresAt: run.expiresAt.toISOString(),
        acceptedAt: run.createdAt.toISOString(),
      },
      defaults: { region: this.config.aws.region },
    };
    const planned = await this.planSteps(defs.slice(defs.findIndex((d) => d.id === ctx.stepId) + 1), outputs, scope, ctx);
    // Without reasons the plan (and its hash) is what it always was, so approvals given before stay bound.
    const plan: ApprovalPlan = {
      parameters: run.parameters,
      steps: planned,
      ...(requiredBy && requiredBy.length > 0 ? { requiredBy } : {}),
      ...(fleet ? { fleet } : {}),
    };
    return { plan, hash: createHash('sha256').update(canonicalJson(plan)).digest('hex') };
  }

  /**
   * A fleet target's plan and its hash (see TargetPlan), from the runbook's definition and the
   * parameters the target binds. writeOnly parameters are left out: the child holds them sealed.
   */
  async targetPlan(
    t: { runbookId: string; runbookDigest: string; definition: RunbookDefinition; parameters: Record<string, unknown> },
    ctx: StepContext,
  ): Promise<{ plan: TargetPlan; hash: string }> {
    const props = (t.definition.parameters as { properties?: Record<string, { writeOnly?: boolean }> }).properties ?? {};
    const parameters = Object.fromEntries(Object.entries(t.parameters).filter(([k]) => props[k]?.writeOnly !== true));
    const scope = { params: parameters, steps: {}, run: { ...TARGET_PLAN_RUN, runbookId: t.runbookId }, defaults: { region: this.config.aws.region } };
    const steps = await this.planSteps(t.definition.steps, {}, scope, ctx);
    const plan: TargetPlan = { runbookId: t.runbookId, runbookDigest: t.runbookDigest, parameters, steps };
    return { plan, hash: createHash('sha256').update(canonicalJson(plan)).digest('hex') };
  }

  /**
   * A child of a fleet whose approval was granted is covered by it, when the fleet's approval
   * listed this target with the plan the child would carry out now and had enough approvers:
   * the gate passes without asking again (audited `approval.inherited`). Anything else (no
   * approval, another plan, the runbook changed since) and the child asks on its own.
   */
  private async fleetCover(run: RunRecord, ctx: StepContext, spec: ApprovalSpec): Promise<StepOutcome<Record<string, unknown>> | null> {
    const trigger = run.trigger;
    const target = trigger.fleetTarget as { index?: unknown } | undefined;
    if (trigger.kind !== 'parent' || typeof trigger.parentRunId !== 'string' || typeof target?.index !== 'number') return null;
    const a = await this.repo.latestOfRun(trigger.parentRunId);
    if (!a || a.state !== 'approved') return null;
    const entry = (a.plan as { fleet?: { targets?: FleetApprovalTarget[] } }).fleet?.targets?.find((x) => x.index === target.index);
    const approvedBy = approversOf(a);
    if (!entry || approvedBy.length < (spec.minApprovals ?? 1)) return null;
    const { hash } = await this.targetPlan(run, ctx);
    if (hash !== entry.planHash) {
      ctx.log.warn(
        `${run.id}: its plan (${hash.slice(0, 12)}) is not the one fleet ${trigger.parentRunId} was approved for (${entry.planHash.slice(0, 12)}): asking on its own`,
      );
      return null;
    }
    await this.audit.append({
      kind: 'approval.inherited',
      runId: run.id,
      actor: 'system',
      data: { gate: ctx.stepId, fleetRunId: trigger.parentRunId, approvalId: a.id, targetIndex: target.index, planHash: hash, approvedBy },
    });
    return done({ required: true, approvalId: a.id, approvedBy, planHash: hash, inheritedFrom: { runId: trigger.parentRunId, approvalId: a.id } });
  }

  /** The AWS calls the mutating steps among `defs` would make, as a dry run would record them. */
  private async planSteps(defs: StepDefinition[], outputs: Record<string, unknown>, scope: Record<string, unknown>, ctx: StepContext): Promise<PlannedSteps> {
    const planCtx: StepContext = { ...ctx, dryRun: true, aws: { ...ctx.aws, dryRun: true }, memory: {}, checkpoint: async () => undefined };
    const planned: PlannedSteps = [];
    for (const def of defs) {
      const type = this.registry.get(def.uses);
      if (!type?.mutates || !type.plan) continue;
      // A condition known now decides first: a step that will not run is marked so even when its input needs outputs to come.
      const conditionKnown = def.if !== undefined && [...referencedSteps([def.if])].every((id) => id in outputs);
      try {
        if (conditionKnown && !isTruthy(resolveValue(def.if, scope))) {
          planned.push({ stepId: def.id, uses: def.uses, calls: [], note: `skipped: ${def.if} is false`, skipped: true });
          continue;
        }
      } catch {
        // An unresolvable condition is judged below, with the step's input.
      }
      const unknown = [...referencedSteps([def.with, def.if])].filter((id) => !(id in outputs));
      if (unknown.length > 0) {
        planned.push({ stepId: def.id, uses: def.uses, calls: null, note: `needs the output of ${unknown.join(', ')}: its calls are known only then` });
        continue;
      }
      try {
        if (def.if !== undefined && !isTruthy(resolveValue(def.if, scope))) {
          planned.push({ stepId: def.id, uses: def.uses, calls: [], note: `skipped: ${def.if} is false`, skipped: true });
          continue;
        }
        planned.push({ stepId: def.id, uses: def.uses, calls: await type.plan(resolveValue(def.with, scope), planCtx) });
      } catch (err) {
        planned.push({ stepId: def.id, uses: def.uses, calls: null, note: `cannot be planned yet: ${(err as Error).message}` });
      }
    }
    return planned;
  }

  /** An approve or reject by `principal`; wakes the run so it acts on the decision now. */
  async decide(runId: string, principal: Principal, decision: 'approve' | 'reject', comment: string | null, planHash?: string): Promise<ApprovalView> {
    const run = await this.runs.get(runId);
    if (!run) throw new EngineError('RUN_NOT_FOUND', `no run "${runId}"`, { runId });
    // The policy first, on the run's runbook and where it acts; the requester calling off their own run needs no grant.
    if (!(decision === 'reject' && principal.name === run.actor)) {
      await this.access.assertMay(principal, 'approve', run);
    }
    await this.db.transaction(async (tx) => {
      const a = await this.repo.latestOfRunForUpdate(runId, tx);
      if (!a) throw new ApprovalError('APPROVAL_NOT_FOUND', `run ${runId} has not asked for an approval`, { runId });
      if (isTerminal(run.state))
        throw new ApprovalError('APPROVAL_ALREADY_DECIDED', `run ${runId} already ended (${run.state})`, { runId, state: 'void', runState: run.state });
      if (a.state !== 'pending')
        throw new ApprovalError('APPROVAL_ALREADY_DECIDED', `the approval of run ${runId} is ${a.state}, not pending`, { runId, state: a.state });
      if (this.clock.nowMs() >= a.expiresAt.getTime()) {
        throw new ApprovalError('APPROVAL_ALREADY_DECIDED', `the approval of run ${runId} expired at ${a.expiresAt.toISOString()}`, {
          runId,
          state: 'expired',
        });
      }
      if (decision === 'approve' && principal.name === a.requestedBy) {
        throw new ApprovalError('APPROVAL_NOT_ALLOWED', `${principal.name} requested run ${runId} and cannot approve it: another person must`, {
          runId,
          reason: 'requester',
        });
      }
      const listed =
        a.approvers.keys.includes(principal.name) ||
        a.approvers.roles.some((r) => principal.groups.includes(r) || roleAllows(principal.role, r as Principal['role']));
      // The requester may always call off their own run; anyone else must be an approver.
      if (!listed && !(decision === 'reject' && principal.name === a.requestedBy)) {
        throw new ApprovalError(
          'APPROVAL_NOT_ALLOWED',
          `${principal.name} (${principal.role}) is not an approver of run ${runId} (roles: ${a.approvers.roles.join(', ') || 'none'}; keys: ${a.approvers.keys.join(', ') || 'none'})`,
          { runId, reason: 'not-an-approver' },
        );
      }
      if (a.decisions.some((d) => d.actor === principal.name)) {
        throw new ApprovalError('APPROVAL_ALREADY_DECIDED', `${principal.name} already decided on run ${runId}; approvals must come from different people`, {
          runId,
          reason: 'same-person',
        });
      }
      if (planHash !== undefined && planHash !== a.planHash) {
        throw new ApprovalError('APPROVAL_PLAN_CHANGED', `the plan changed since you looked (now ${a.planHash.slice(0, 12)}): look at it again`, {
          runId,
          planHash: a.planHash,
          given: planHash,
        });
      }
      const now = this.clock.now();
      const decisions = [...a.decisions, { actor: principal.name, role: principal.role, decision, comment, at: now.toISOString() }];
      await this.audit.append(
        { kind: 'approval.decided', runId, actor: principal.name, data: { approvalId: a.id, gate: a.gate, decision, comment, planHash: a.planHash } },
        tx,
      );
      const approvedBy = decisions.filter((d) => d.decision === 'approve').map((d) => d.actor);
      if (decision === 'reject') {
        await this.repo.update(a.id, { state: 'rejected', decisions, decidedAt: now, reason: 'rejected' }, tx);
      } else if (approvedBy.length >= a.minApprovals) {
        await this.repo.update(a.id, { state: 'approved', decisions, decidedAt: now }, tx);
        await this.audit.append(
          { kind: 'approval.granted', runId, actor: principal.name, data: { approvalId: a.id, gate: a.gate, approvedBy, planHash: a.planHash } },
          tx,
        );
      } else {
        await this.repo.update(a.id, { decisions }, tx);
      }
    });
    await this.queue.wake(runId).catch((err) => this.logger.warn(`waking ${runId} after a decision: ${(err as Error).message}`));
    return this.forRun(runId);
  }

  async forRun(runId: string): Promise<ApprovalView> {
    const a = await this.repo.latestOfRun(runId);
    if (!a) throw new ApprovalError('APPROVAL_NOT_FOUND', `run ${runId} has not asked for an approval`, { runId });
    return this.view(a);
  }

  async list(state: ApprovalState | undefined, limit: number): Promise<ApprovalView[]> {
    return (await this.repo.list(state, limit)).map((a) => this.view(a));
  }

  pendingStats(): Promise<{ pending: number; oldestSeconds: number | null }> {
    return this.repo.pendingStats();
  }

  private view(a: ApprovalRecord): ApprovalView {
    // Still pending on a run that ended another way (cancelled, timed out): nothing waits for it any more.
    const orphaned = a.state === 'pending' && a.runState !== undefined && isTerminal(a.runState as RunRecord['state']);
    return {
      id: a.id,
      runId: a.runId,
      runbookId: a.runbookId ?? null,
      gate: a.gate,
      state: orphaned ? 'void' : a.state,
      requestedBy: a.requestedBy,
      approvers: a.approvers,
      minApprovals: a.minApprovals,
      message: a.message,
      plan: a.plan,
      planHash: a.planHash,
      approvals: approversOf(a),
      decisions: a.decisions,
      createdAt: a.createdAt.toISOString(),
      expiresAt: a.expiresAt.toISOString(),
      ageSeconds: Math.max(0, Math.round((this.clock.nowMs() - a.createdAt.getTime()) / 1000)),
      decidedAt: a.decidedAt ? a.decidedAt.toISOString() : null,
      reason: orphaned ? `run ${a.runState}` : a.reason,
      commands: { approve: `runbookd approve ${a.runId} -m "<comment>"`, reject: `runbookd reject ${a.runId} -m "<why>"` },
      links: { run: `/v1/runs/${a.runId}`, console: `${this.config.http.publicUrl}/#/runs/${a.runId}` },
    };
  }
}

function approversOf(a: ApprovalRecord): string[] {
  return a.decisions.filter((d) => d.decision === 'approve').map((d) => d.actor);
}
