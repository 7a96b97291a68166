import { Injectable, Logger, Optional } from '@nestjs/common';
import { TracingService } from '../tracing/tracing.service';
import { redactorFor } from './run-redactor';
import { AuditService } from '../audit/audit.service';
import { CodedError } from '../common/coded-error';
import { redactText } from '../common/redact';
import { Clock } from '../common/clock';
import { FaultInjector, InjectedFault } from '../faults/fault-injector';
import { AppConfig } from '../config/app.config';
import { toDatabaseError } from '../persistence/database.error';
import { RunsRepository } from '../persistence/runs.repository';
import { parseDuration } from '../runbooks/duration';
import { isTruthy, referencedSteps, resolveValue, UnresolvedExpression } from '../runbooks/expressions';
import { EngineError } from './engine.error';
import type { RunExecution } from './run-execution';
import { awsContextOf, runScope } from './run-scope';
import type { RunError, StepResultRecord } from '../model/run.types';
import { StepAttempt, StepAttemptDeps, StepPlace, StepRun } from './step-attempt';
import type { EngineCalls, StepContext, StepType } from '../steps/step.contract';
import { ApprovalsService } from './approvals.service';
import { RunAcceptanceService } from './run-acceptance.service';
import { RunsService } from './runs.service';
import { StepRegistry } from '../steps/step-registry';

/** Default limit on one step's total time (all its waits and retries) when the runbook sets none. */
const DEFAULT_STEP_TIMEOUT_S = 30 * 60;
const MAX_RETRY_BACKOFF_S = 300;
/** Reserved memory key: how many times this step failed with a retryable error. */
const FAILURES = '$failures';

/**
 * Runs one step of a run once: resolves and checks its input, records its start (before a
 * mutating step runs), calls it, and records how it ended. Every record goes through the
 * execution's lease (StepAttempt).
 */
@Injectable()
export class StepRunnerService {
  private readonly logger = new Logger('Executor');
  private readonly deps: StepAttemptDeps;

  constructor(
    runs: RunsRepository,
    private readonly registry: StepRegistry,
    audit: AuditService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly faults: FaultInjector,
    // What steps call back into (child runs, approval gates), handed to them in their context.
    private readonly acceptance: RunAcceptanceService,
    private readonly runsService: RunsService,
    private readonly approvals: ApprovalsService,
    // Optional so tests can build the runner without tracing.
    @Optional() private readonly tracing?: TracingService,
  ) {
    this.deps = { runs, audit, clock, faults };
  }

  /**
   * One look at the step, in a span of the run's trace (its trigger's, `trigger.traceparent`)
   * when tracing is on. A step that waits ends its look's span with a `wait` event: an hour's
   * wait is a few short looks in the trace, not one hour-long span.
   */
  async runStep(x: RunExecution, place: StepPlace): Promise<StepRun> {
    const tracing = this.tracing;
    if (!tracing?.enabled) return this.look(x, place);
    const { run } = x;
    const { def } = place;
    const parent = typeof run.trigger.traceparent === 'string' ? run.trigger.traceparent : undefined;
    return tracing.inSpan(
      `step ${def.id}`,
      {
        parent,
        attributes: {
          'runbookd.runbook': run.runbookId,
          'runbookd.run_id': run.id,
          'runbookd.step_id': def.id,
          'runbookd.step.uses': def.uses,
          'runbookd.step.phase': place.phase,
          'runbookd.step.mutating': !!this.registry.forStep(def)?.mutates,
          'runbookd.dry_run': run.dryRun,
        },
      },
      async (span) => {
        const result = await this.look(x, place);
        const row = x.steps.get(def.id);
        span?.setAttributes({ 'runbookd.step.attempt': row?.attempts, 'runbookd.step.outcome': result.kind === 'wait' ? 'waiting' : row?.state });
        if (result.kind === 'wait') {
          const note = row?.note ? redactText(row.note, redactorFor(run).values) : undefined;
          span?.addEvent('wait', { 'runbookd.wait.next_look_ms': result.afterMs, 'runbookd.wait.note': note });
        }
        // The code only: a message can quote an input, and the span leaves runbookd.
        if (result.kind === 'failed') span?.fail(result.error.code);
        return result;
      },
    );
  }

  private async look(x: RunExecution, place: StepPlace): Promise<StepRun> {
    const { def } = place;
    // forStep: a generic step's `mutates:` and `outputs:` come from its definition.
    const type = this.registry.forStep(def);
    const now = this.clock.now();
    const attempt = new StepAttempt(x, place, x.steps.get(def.id), !!type?.mutates, now, this.deps);
    if (!type) {
      // Cannot happen for a definition checked at boot, unless a deploy removed a step type mid-run.
      return attempt.fail({ code: 'STEP_INPUT_INVALID', message: `step type ${def.uses} is not known to this worker` });
    }
    const prepared = await this.inputOf(x, place, type, attempt, now);
    if ('ended' in prepared) return prepared.ended;
    const { input } = prepared;
    const n = await attempt.begin(input);
    this.faults.at(`step:${def.id}:before`);
    return this.call(x, place, type, attempt, input, this.contextFor(x, place, attempt, n));
  }

  /** A step passed over by an onFailure jump: recorded skipped, with its audit record, under the lease. */
  async recordSkipped(x: RunExecution, place: StepPlace, note: string): Promise<void> {
    const { def, phase, position } = place;
    const { run } = x;
    const now = this.clock.now();
    const row: StepResultRecord = {
      runId: run.id,
      stepId: def.id,
      phase,
      position,
      uses: def.uses,
      mutates: !!this.registry.forStep(def)?.mutates,
      state: 'skipped',
      attempts: 0,
      startedAt: now,
      endedAt: now,
      input: null,
      output: null,
      error: null,
      memory: {},
      note,
    };
    await x.write({
      steps: [row],
      events: [
        {
          kind: 'step.ended',
          runId: run.id,
          actor: run.actor,
          data: { stepId: def.id, uses: def.uses, phase, state: 'skipped', attempts: 0, durationMs: 0, error: null, note },
        },
      ],
      durable: true,
    });
    x.steps.set(def.id, row);
  }

  /**
   * The step's input, resolved against the run and checked against its type's schema; or how the
   * step ended instead: skipped (a step it needs did not succeed, its condition is false), failed
   * (an unresolvable or invalid input, its timeout passed).
   */
  private async inputOf(
    x: RunExecution,
    place: StepPlace,
    type: StepType<any, any>,
    attempt: StepAttempt,
    now: Date,
  ): Promise<{ input: Record<string, unknown> } | { ended: StepRun }> {
    const { def } = place;
    const scope = runScope(x.run, x.steps, this.config);
    // A step that needs an output of a step that did not succeed (skipped, only planned in a dry
    // run, failed before cleanup) is skipped, saying which.
    for (const dep of referencedSteps([def.with, def.if])) {
      const d = x.steps.get(dep);
      if (d?.state !== 'succeeded') {
        const why = d?.state === 'planned' ? 'was only planned (dry run)' : d ? `ended ${d.state}` : 'did not run';
        await attempt.end({ state: 'skipped', note: `needs step "${dep}", which ${why}` });
        return { ended: { kind: 'done' } };
      }
    }
    let input: Record<string, unknown>;
    try {
      if (def.if !== undefined && !isTruthy(resolveValue(def.if, scope))) {
        await attempt.end({ state: 'skipped', note: `condition ${def.if} is false` });
        return { ended: { kind: 'done' } };
      }
      input = resolveValue(def.with, scope) as Record<string, unknown>;
    } catch (err) {
      if (!(err instanceof UnresolvedExpression)) throw err;
      return { ended: await attempt.fail({ code: 'STEP_INPUT_INVALID', message: err.message }) };
    }
    const problems = this.registry.checkInput(type.uses, input);
    if (problems.length > 0) {
      return { ended: await attempt.fail({ code: 'STEP_INPUT_INVALID', message: `input for ${def.uses}: ${problems.join('; ')}` }, { input }) };
    }
    const timeoutS = parseDuration(def.timeout ?? '') ?? DEFAULT_STEP_TIMEOUT_S;
    const { existing } = attempt;
    if (existing && now.getTime() - existing.startedAt.getTime() > timeoutS * 1000) {
      return { ended: await attempt.fail({ code: 'STEP_TIMEOUT', message: `step ${def.id} did not finish within ${def.timeout ?? `${timeoutS}s`}` }) };
    }
    return { input };
  }

  private contextFor(x: RunExecution, place: StepPlace, attempt: StepAttempt, n: number): StepContext {
    const { run } = x;
    const { def } = place;
    const ctx: StepContext = {
      runId: run.id,
      runbookId: run.runbookId,
      stepId: def.id,
      attempt: n,
      startedAt: attempt.current.startedAt,
      memory: Object.fromEntries(Object.entries(attempt.memory).filter(([k]) => !k.startsWith('$'))),
      checkpoint: async (m) => {
        attempt.memory = { ...attempt.memory, ...m };
        await attempt.record({ memory: attempt.memory });
      },
      dryRun: run.dryRun,
      expiresAt: run.expiresAt,
      aws: awsContextOf(run, def.id, x.fence()),
      log: new Logger(`${run.id}/${def.id}`),
    };
    const engine: EngineCalls = {
      startRun: (req) => this.acceptance.accept(req),
      cancelRun: async (runId, actor) => void (await this.runsService.cancel(runId, actor)),
      approvalGate: (spec) => this.approvals.gate(ctx, spec),
    };
    return { ...ctx, engine };
  }

  /** Calls the step (or plans it, in a dry run) and records how it ended, or when to look again. */
  private async call(
    x: RunExecution,
    place: StepPlace,
    type: StepType<any, any>,
    attempt: StepAttempt,
    input: Record<string, unknown>,
    ctx: StepContext,
  ): Promise<StepRun> {
    const { run } = x;
    const { def } = place;
    try {
      if (run.dryRun && type.mutates) {
        const plannedCalls = await type.plan!(input, ctx);
        await attempt.end({ state: 'planned', output: { dryRun: true, plannedCalls } });
        return { kind: 'done' };
      }
      const outcome = await type.run(input, ctx);
      const planned = outcome.kind === 'wait' && run.dryRun && !type.startsRuns ? onlyPlanned(x.steps) : [];
      if (planned.length > 0) {
        // A plan never waits on a change it only planned: what it would wait for never comes (the
        // restored copy was not made, the service not scaled). Its first look is kept as the note.
        await attempt.end({
          state: 'skipped',
          note: `dry run: would wait (${outcome.kind === 'wait' && outcome.note ? outcome.note : 'not there yet'}) after ${planned.join(', ')}, only planned`,
        });
        return { kind: 'done' };
      }
      if (outcome.kind === 'wait') {
        const afterS = Math.max(0, outcome.afterSeconds);
        await attempt.record({ state: 'waiting', memory: { ...pick$(attempt.memory), ...(outcome.memory ?? {}) }, note: outcome.note ?? null });
        return { kind: 'wait', afterMs: afterS * 1000 };
      }
      const output = outcome.output as Record<string, unknown>;
      await attempt.end({ state: 'succeeded', output, error: null, note: type.summarize?.(output) ?? null });
      return { kind: 'done' };
    } catch (err) {
      // The executor's own trouble (lost lease, a database away too long, an injected fault) is
      // not the step's failure: this execution stops, and the run resumes from what was recorded.
      if (isInfrastructureError(err)) throw err;
      const error = toRunError(err);
      const retryable = err instanceof CodedError && err.retryable;
      const failures = Number(attempt.memory[FAILURES] ?? 0) + 1;
      const allowed = def.retry?.attempts ?? (retryable ? 3 : 1);
      if (retryable && failures < allowed) {
        const backoffS = Math.min(MAX_RETRY_BACKOFF_S, (def.retry?.backoffSeconds ?? 2) * 2 ** (failures - 1));
        await attempt.record({
          state: 'waiting',
          memory: { ...attempt.memory, [FAILURES]: failures },
          error,
          note: `retry ${failures + 1}/${allowed} in ${backoffS}s after ${error.code}`,
        });
        return { kind: 'wait', afterMs: backoffS * 1000 };
      }
      // A stack trace can carry a secret (a connection string, a parameter in a message): it passes the redactor too.
      if (!(err instanceof CodedError))
        this.logger.error(`step ${run.id}/${def.id} crashed: ${redactText((err as Error).stack ?? String(err), attempt.redactor.values)}`);
      return attempt.fail(error);
    }
  }
}

/** Errors that are the executor's, not the step's: they end this execution, never the step. */
export function isInfrastructureError(err: unknown): boolean {
  if (err instanceof InjectedFault) return true;
  if (err instanceof EngineError && (err.code === 'LEASE_LOST' || err.code === 'RECORDING_FAILED')) return true;
  return toDatabaseError(err) !== undefined;
}

/** The steps of this run that a dry run planned instead of running. */
function onlyPlanned(steps: Map<string, StepResultRecord>): string[] {
  return [...steps.values()].filter((s) => s.state === 'planned').map((s) => s.stepId);
}

function pick$(memory: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(memory).filter(([k]) => k.startsWith('$')));
}

function toRunError(err: unknown): RunError {
  if (err instanceof CodedError) return { code: err.code, message: err.message, details: err.details };
  return { code: 'STEP_CRASHED', message: `unexpected error: ${(err as Error)?.message ?? String(err)}` };
}
