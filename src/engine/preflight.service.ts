import { Injectable, Logger } from '@nestjs/common';
import { AwsStepError } from '../aws/aws.error';
import { CodedError } from '../common/coded-error';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import type { TargetFacts } from '../aws/target-facts';
import { PolicyService } from '../policy/policy.service';
import type { ApprovalRequirement } from '../policy/approval-rules';
import { runbookRisk, withRequiredApproval } from '../runbooks/approval-gate';
import { isTruthy, referencedSteps, resolveValue, UnresolvedExpression } from '../runbooks/expressions';
import type { RunbookDefinition, StepDefinition } from '../model/runbook.types';
import { EngineError } from './engine.error';
import { RunRedactor } from './run-redactor';
import type { RunRecord, StepResultRecord } from '../model/run.types';
import type { Finding, StepContext, StepType } from '../steps/step.contract';
import { StepRegistry } from '../steps/step-registry';

export interface PreflightRequest {
  definition: RunbookDefinition;
  /** Validated, with defaults filled in. */
  parameters: Record<string, unknown>;
  /** The id the run will get if preflight lets it through (names derived from it stay stable). */
  runId: string;
  actor: string;
  dryRun: boolean;
  expiresAt: Date;
}

/**
 * Runs a runbook's `preflight:` steps while a request is being answered, before the run is
 * recorded: a check that can refuse a request with a 400 (a restore point outside the
 * restorable window) instead of starting a run that can only fail. Preflight steps are read-only
 * (the loader refuses others), so they run the same way in a dry run. Their results are returned
 * for the caller to record with the run, so later steps read them as `steps.<id>.<output>`.
 */
@Injectable()
export class PreflightService {
  private readonly logger = new Logger('Preflight');

  constructor(
    private readonly registry: StepRegistry,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly policy: PolicyService,
  ) {}

  /**
   * Whether the run needs an approval, and how many, from the policy's rules matched against
   * what AWS says about the targets (their account and tags), read here through the steps'
   * `targets()`: after the parameters and preflight outputs have named the targets, before the
   * run is recorded. Returns the definition to record the run with: the catalog's when no rule
   * holds, otherwise one whose gate waits for the rules' count whatever the request said.
   */
  async approval(
    req: PreflightRequest,
    preflight: StepResultRecord[],
    /** The requester's grant is scoped to accounts, regions or environments: the facts are read whatever the rules ask. */
    factsNeeded = false,
  ): Promise<{ definition: RunbookDefinition; requirement: ApprovalRequirement; targets: TargetFacts[] }> {
    const risk = runbookRisk(req.definition, this.registry);
    const rules = this.policy.policy.approvalRules.filter((r) => !r.when.risk || r.when.risk.includes(risk));
    // No rule that looks at targets can hold: no AWS call is spent on facts nobody asks about.
    const targets = factsNeeded || rules.some((r) => r.when.account !== undefined || r.when.tags !== undefined) ? await this.targetFacts(req, preflight) : [];
    const requirement = this.policy.approvalFor({ runbookId: req.definition.id, risk, targets });
    if (requirement.reasons.length > 0) {
      this.logger.log(
        `${req.runId} (${req.definition.id}) needs ${requirement.minApprovals} approval(s): ${requirement.reasons.map((r) => `${r.rule} (${r.because})`).join('; ')}`,
      );
    }
    return { definition: withRequiredApproval(req.definition, this.registry, requirement.reasons), requirement, targets };
  }

  /**
   * The facts of a recorded run's targets, read now from AWS (who may approve or cancel it is
   * decided from where it acts), with the outputs its steps have recorded so far. `run` has its
   * parameters opened.
   */
  async targetFactsOfRun(run: RunRecord, steps: StepResultRecord[]): Promise<TargetFacts[]> {
    const req: PreflightRequest = {
      definition: run.definition,
      parameters: run.parameters,
      runId: run.id,
      actor: run.actor,
      dryRun: run.dryRun,
      expiresAt: run.expiresAt,
    };
    return this.targetFacts(req, steps);
  }

  /** Facts of every target a step names with what is known now (parameters, preflight outputs); steps needing later outputs are not asked. */
  private async targetFacts(req: PreflightRequest, preflight: StepResultRecord[]): Promise<TargetFacts[]> {
    const outputs: Record<string, unknown> = {};
    for (const r of preflight) if (r.state === 'succeeded') outputs[r.stepId] = r.output ?? {};
    const scope = {
      params: req.parameters,
      steps: outputs,
      run: {
        id: req.runId,
        runbookId: req.definition.id,
        dryRun: req.dryRun,
        actor: req.actor,
        expiresAt: req.expiresAt.toISOString(),
        acceptedAt: this.clock.now().toISOString(),
      },
      defaults: { region: this.config.aws.region },
    };
    const secretValues = new RunRedactor(req.definition, req.parameters).values;
    const facts: TargetFacts[] = [];
    const seen = new Set<string>();
    for (const def of [...req.definition.steps, ...req.definition.cleanup]) {
      const type = this.registry.forStep(def);
      if (!type?.targets) continue;
      if ([...referencedSteps([def.with, def.if])].some((id) => !(id in outputs))) continue;
      let input: Record<string, unknown>;
      try {
        // A step that would be skipped still counts: facts decide who must agree, and asking one person more is the safe side.
        input = resolveValue(def.with, scope) as Record<string, unknown>;
      } catch (err) {
        if (err instanceof UnresolvedExpression) continue;
        throw err;
      }
      if (this.registry.checkInput(type.uses, input).length > 0) continue;
      const startedAt = this.clock.now();
      const ctx: StepContext = {
        runId: req.runId,
        runbookId: req.definition.id,
        stepId: def.id,
        attempt: 1,
        startedAt,
        memory: {},
        checkpoint: async () => undefined,
        dryRun: true,
        expiresAt: req.expiresAt,
        aws: { runId: req.runId, runbookId: req.definition.id, stepId: def.id, actor: req.actor, dryRun: true, expiresAt: req.expiresAt, secretValues },
        log: new Logger(`${req.runId}/${def.id}`),
      };
      let found: TargetFacts[];
      try {
        found = await type.targets(input, ctx);
      } catch (err) {
        if (err instanceof AwsStepError && err.retryable) throw err;
        // Facts that cannot be read cannot clear a run: refuse it rather than guess.
        if (err instanceof CodedError)
          throw refused(def, `the policy needs the facts of its target, and they could not be read: ${err.message}`, {
            cause: { code: err.code, message: err.message },
          });
        throw err;
      }
      for (const f of found) {
        const key = f.arn ?? `${f.type}/${f.region}/${f.identifier}`;
        if (!seen.has(key)) facts.push(f);
        seen.add(key);
      }
    }
    return facts;
  }

  async run(req: PreflightRequest): Promise<StepResultRecord[]> {
    const list = req.definition.preflight ?? [];
    const results: StepResultRecord[] = [];
    const outputs: Record<string, unknown> = {};
    const acceptedAt = this.clock.now();
    const secretValues = new RunRedactor(req.definition, req.parameters).values;
    for (let i = 0; i < list.length; i++) {
      const def = list[i];
      const startedAt = this.clock.now();
      const scope = {
        params: req.parameters,
        steps: outputs,
        run: {
          id: req.runId,
          runbookId: req.definition.id,
          dryRun: req.dryRun,
          actor: req.actor,
          expiresAt: req.expiresAt.toISOString(),
          acceptedAt: acceptedAt.toISOString(),
        },
        defaults: { region: this.config.aws.region },
      };
      const base: StepResultRecord = {
        runId: req.runId,
        stepId: def.id,
        phase: 'main',
        position: i - list.length,
        uses: def.uses,
        mutates: false,
        state: 'succeeded',
        attempts: 1,
        startedAt,
        endedAt: null,
        input: null,
        output: null,
        error: null,
        memory: {},
        note: null,
      };
      const type = this.registry.forStep(def);
      if (!type) throw refused(def, `step type ${def.uses} is not known to this process`);
      let input: Record<string, unknown>;
      try {
        if (def.if !== undefined && !isTruthy(resolveValue(def.if, scope))) {
          results.push({ ...base, state: 'skipped', endedAt: this.clock.now(), note: `condition ${def.if} is false` });
          continue;
        }
        input = resolveValue(def.with, scope) as Record<string, unknown>;
      } catch (err) {
        if (err instanceof UnresolvedExpression) throw refused(def, err.message);
        throw err;
      }
      const problems = this.registry.checkInput(type.uses, input);
      if (problems.length > 0) throw refused(def, `input for ${def.uses}: ${problems.join('; ')}`);
      const ctx: StepContext = {
        runId: req.runId,
        runbookId: req.definition.id,
        stepId: def.id,
        attempt: 1,
        startedAt,
        memory: {},
        // Nothing to save: a preflight step is read-only and simply runs again on a retried request.
        checkpoint: async () => undefined,
        dryRun: req.dryRun,
        expiresAt: req.expiresAt,
        aws: { runId: req.runId, runbookId: req.definition.id, stepId: def.id, actor: req.actor, dryRun: req.dryRun, expiresAt: req.expiresAt, secretValues },
        log: new Logger(`${req.runId}/${def.id}`),
      };
      let output: Record<string, unknown>;
      try {
        const outcome = await type.run(input, ctx);
        if (outcome.kind === 'wait') throw refused(def, `${def.uses} asked to wait; a preflight step must answer at once`);
        output = outcome.output as Record<string, unknown>;
      } catch (err) {
        // AWS being slow or away is not the caller's mistake: it keeps its own status (429, 502).
        if (err instanceof AwsStepError && err.retryable) throw err;
        if (err instanceof EngineError && err.code === 'PREFLIGHT_FAILED') throw err;
        if (err instanceof CodedError) throw refused(def, err.message, { cause: { code: err.code, message: err.message } });
        throw err;
      }
      const failed = ((output.findings as Finding[] | undefined) ?? []).filter((f) => f && f.passed === false);
      if (failed.length > 0) {
        throw refused(def, failed.map(describeFinding).join('; '), { findings: failed });
      }
      outputs[def.id] = output;
      results.push({ ...base, endedAt: this.clock.now(), input, output, note: safeSummary(type, output) });
    }
    if (results.length > 0) this.logger.debug(`preflight of ${req.definition.id} passed: ${results.map((r) => r.stepId).join(', ')}`);
    return results;
  }
}

function refused(def: StepDefinition, why: string, details: Record<string, unknown> = {}): EngineError {
  return new EngineError('PREFLIGHT_FAILED', `preflight "${def.id}" refused the run: ${why}`, { stepId: def.id, uses: def.uses, ...details });
}

function describeFinding(f: Finding): string {
  if (f.detail) return f.detail;
  const unit = f.unit ? ` ${f.unit}` : '';
  return `${f.title} (measured ${String(f.measured ?? '—')}${unit}, target ${String(f.target ?? '—')}${unit})`;
}

function safeSummary(type: StepType<any, any>, output: Record<string, unknown>): string | null {
  try {
    return type.summarize?.(output) ?? null;
  } catch {
    return null;
  }
}
