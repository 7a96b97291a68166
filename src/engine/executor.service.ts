import { Injectable, Logger } from '@nestjs/common';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AuditService } from '../audit/audit.service';
import type { AuditEventInput } from '../audit/audit.types';
import { CodedError } from '../common/coded-error';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { Database } from '../persistence/database';
import { NotificationsRepository } from '../persistence/notifications.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { buildRunReport } from '../reports/run-report.builder';
import { parseDuration } from '../runbooks/duration';
import { isTruthy, referencedSteps, resolveValue, Scope, UnresolvedExpression } from '../runbooks/expressions';
import type { StepDefinition } from '../runbooks/runbook.types';
import { toReportInputs } from './report-inputs';
import { RunQueue } from './run-queue.adapter';
import { RunsService } from './runs.service';
import { redactText } from '../common/redact';
import { redactorFor } from './run-redactor';
import type { RunError, RunOutcome, RunRecord, StepResultRecord } from './run.types';
import type { AwsCallContext, Finding, StepContext, StepType } from './step.contract';
import { StepRegistry } from './step-registry';
import { StopConditionsService } from './stop-conditions.service';

export type AdvanceResult = { kind: 'finished' } | { kind: 'wait'; afterMs: number };

type StepRun = { kind: 'done' } | { kind: 'wait'; afterMs: number } | { kind: 'failed'; error: RunError };

/** Default limit on one step's total time (all its waits and retries) when the runbook sets none. */
const DEFAULT_STEP_TIMEOUT_S = 30 * 60;
const MAX_RETRY_BACKOFF_S = 300;
/** Reserved memory key: how many times this step failed with a retryable error. */
const FAILURES = '$failures';

/**
 * Walks a run's steps from the first unfinished one. Each step's outcome is written before the
 * next starts, so whoever calls `advance` next (this worker after a wait, another after a crash)
 * continues where the record says. Returns when the run ends or a step asks to be looked at later.
 */
@Injectable()
export class ExecutorService {
  private readonly logger = new Logger('Executor');
  private readonly ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true }));
  private readonly inputValidators = new Map<string, ValidateFunction>();

  constructor(
    private readonly db: Database,
    private readonly runs: RunsRepository,
    private readonly registry: StepRegistry,
    private readonly audit: AuditService,
    private readonly stopConditions: StopConditionsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly notifications: NotificationsRepository,
    private readonly queue: RunQueue,
    private readonly runsService: RunsService,
  ) {}

  async advance(runId: string): Promise<AdvanceResult> {
    let run = await this.runs.get(runId);
    if (!run) {
      this.logger.warn(`job for unknown run ${runId} ignored`);
      return { kind: 'finished' };
    }
    if (run.phase === 'done') return { kind: 'finished' };
    run = await this.markRunning(run);
    const steps = new Map((await this.runs.steps(runId)).map((s) => [s.stepId, s]));

    if (run.phase === 'main') {
      // Once per pick-up as well: a run cancelled while queued stops before its first step.
      const cancel = await this.runs.cancelRequest(runId);
      if (cancel) await this.endMain(run, 'cancelled', { code: 'CANCELLED', message: `cancelled by ${cancel.by ?? 'unknown'}` }, steps);
    }
    if (run.phase === 'main') {
      const mainResult = await this.runPhase(run, 'main', steps);
      if (mainResult.kind === 'wait') return mainResult;
      run = (await this.runs.get(runId))!;
    }
    const cleanupResult = await this.runPhase(run, 'cleanup', steps);
    if (cleanupResult.kind === 'wait') return cleanupResult;
    await this.finish(runId);
    return { kind: 'finished' };
  }

  async cancelRequested(runId: string): Promise<boolean> {
    return (await this.runs.cancelRequest(runId)) !== null;
  }

  private async markRunning(run: RunRecord): Promise<RunRecord> {
    const now = this.clock.now();
    if (!run.startedAt) {
      const timeoutS = parseDuration(run.definition.guards.timeout ?? '') ?? this.config.defaultRunTimeoutSeconds;
      const timeoutAt = new Date(now.getTime() + timeoutS * 1000);
      // One transaction: a crash between the two would leave a started run whose start is never audited.
      await this.db.transaction(async (tx) => {
        await this.runs.update(run.id, { state: 'running', startedAt: now, timeoutAt }, tx);
        await this.audit.append({ kind: 'run.started', runId: run.id, actor: run.actor, data: { timeoutAt: timeoutAt.toISOString() } }, tx);
      });
      return { ...run, state: 'running', startedAt: now, timeoutAt };
    }
    if (run.state === 'running') {
      // Running with no live worker means the previous one died mid-run: say so in the audit.
      await this.audit.append({ kind: 'run.resumed', runId: run.id, actor: run.actor, data: { phase: run.phase } });
    } else if (run.state === 'waiting') {
      await this.runs.update(run.id, { state: 'running' });
    }
    return { ...run, state: 'running' };
  }

  private async runPhase(run: RunRecord, phase: 'main' | 'cleanup', steps: Map<string, StepResultRecord>): Promise<{ kind: 'done' } | { kind: 'wait'; afterMs: number }> {
    const list = phase === 'main' ? run.definition.steps : run.definition.cleanup;
    for (let i = 0; i < list.length; i++) {
      const def = list[i];
      const existing = steps.get(def.id);
      if (existing && ['succeeded', 'skipped', 'planned', 'failed'].includes(existing.state)) continue;

      if (phase === 'main') {
        const stop = await this.interruption(run, def, existing);
        if (stop) {
          await this.endMain(run, stop.outcome, stop.error, steps);
          return { kind: 'done' };
        }
      }
      const result = await this.runStep(run, def, i, phase, existing, steps);
      if (result.kind === 'wait') {
        await this.runs.update(run.id, { state: 'waiting' });
        // Look again no later than the run's deadline, so the timeout ends the run on time, not at the step's next look.
        if (phase === 'main' && run.timeoutAt) {
          return { kind: 'wait', afterMs: Math.max(0, Math.min(result.afterMs, run.timeoutAt.getTime() - this.clock.nowMs() + 1)) };
        }
        return result;
      }
      if (result.kind === 'failed' && phase === 'main') {
        await this.endMain(run, 'failed', result.error, steps);
        return { kind: 'done' };
      }
    }
    if (phase === 'main') await this.endMain(run, 'succeeded', null, steps);
    return { kind: 'done' };
  }

  /**
   * Run timeout (before every main step), cancel and guard alarms (before a step that changes
   * something and at every look during a wait or a resume). A run of quick read-only steps is not
   * stopped between them: nothing they do needs undoing, and it keeps the per-step cost down.
   */
  private async interruption(run: RunRecord, def: StepDefinition, existing: StepResultRecord | undefined): Promise<{ outcome: RunOutcome; error: RunError } | null> {
    if (run.timeoutAt && this.clock.nowMs() > run.timeoutAt.getTime()) {
      return { outcome: 'failed', error: { code: 'RUN_TIMEOUT', message: `run exceeded its timeout (${run.definition.guards.timeout ?? `${this.config.defaultRunTimeoutSeconds}s`})` } };
    }
    const type = this.registry.get(def.uses);
    const waiting = existing?.state === 'waiting' || existing?.state === 'running';
    if (!type?.mutates && !waiting) return null;
    const cancel = await this.runs.cancelRequest(run.id);
    if (cancel) {
      return { outcome: 'cancelled', error: { code: 'CANCELLED', message: `cancelled by ${cancel.by ?? 'unknown'}` } };
    }
    if (!run.dryRun && run.definition.guards.stopConditions) {
      const { alarms, target } = this.resolveStopConditions(run);
      const err = await this.stopConditions.check(this.awsContext(run, def.id), target, alarms);
      if (err) return { outcome: 'aborted', error: err.toJSON() };
    }
    return null;
  }

  private resolveStopConditions(run: RunRecord): { alarms: string[]; target: { region: string; roleArn?: string } } {
    const sc = run.definition.guards.stopConditions!;
    const scope = this.scope(run, new Map());
    const alarms = (resolveValue(sc.alarms, scope) as unknown[]).flat().filter((a): a is string => typeof a === 'string' && a !== '');
    const region = (sc.region ? resolveValue(sc.region, scope) : run.parameters.region) as string | undefined;
    const roleArn = (sc.roleArn ? resolveValue(sc.roleArn, scope) : undefined) as string | undefined;
    return { alarms, target: { region: region || this.config.awsRegion, ...(roleArn ? { roleArn } : {}) } };
  }

  private async runStep(
    run: RunRecord,
    def: StepDefinition,
    position: number,
    phase: 'main' | 'cleanup',
    existing: StepResultRecord | undefined,
    steps: Map<string, StepResultRecord>,
  ): Promise<StepRun> {
    const type = this.registry.get(def.uses);
    const now = this.clock.now();
    const base: StepResultRecord = existing ?? {
      runId: run.id, stepId: def.id, phase, position, uses: def.uses, mutates: !!type?.mutates, state: 'running',
      attempts: 0, startedAt: now, endedAt: null, input: null, output: null, error: null, memory: {}, note: null,
    };
    let current = base;
    // The 'step.started' audit record not yet written (null once written, or for a step never started).
    let pendingStart: AuditEventInput | null = null;
    /** Writes the step's record, with the pending start record in the same transaction. */
    const record = async (patch: Partial<StepResultRecord>, endEvent?: AuditEventInput) => {
      current = { ...current, ...patch };
      const events = [...(pendingStart ? [pendingStart] : []), ...(endEvent ? [endEvent] : [])];
      if (events.length === 0) {
        await this.runs.upsertStep(current);
      } else {
        const row = current;
        await this.db.transaction(async (tx) => {
          // A read-only step's records need not wait for the WAL flush: if PostgreSQL itself crashed
          // before flushing, the step would just run again, and the next durable commit (a mutating
          // step, the run's end) flushes them first anyway, so the audit chain keeps no gap.
          if (!type?.mutates) await tx.query('SET LOCAL synchronous_commit = off');
          await this.runs.upsertStep(row, tx);
          await this.audit.appendMany(events, tx);
        });
      }
      pendingStart = null;
      steps.set(def.id, current);
    };
    // The step's final record and its audit record commit together: neither exists without the other.
    const end = async (patch: Partial<StepResultRecord>): Promise<void> => {
      const ended = this.clock.now();
      const next = { ...current, ...patch, endedAt: ended };
      await record({ ...patch, endedAt: ended }, {
        kind: 'step.ended', runId: run.id, actor: run.actor,
        data: redactorFor(run).apply({ stepId: def.id, uses: def.uses, phase, state: next.state, attempts: next.attempts,
          durationMs: ended.getTime() - next.startedAt.getTime(), error: next.error, note: next.note }),
      });
    };
    if (!type) {
      // Cannot happen for a definition checked at boot, unless a deploy removed a step type mid-run.
      const error = { code: 'STEP_INPUT_INVALID', message: `step type ${def.uses} is not known to this worker` };
      await end({ state: 'failed', error });
      return { kind: 'failed', error };
    }

    const scope = this.scope(run, steps);
    // A step that needs an output of a step that did not succeed (skipped, only planned in a dry
    // run, failed before cleanup) is skipped, saying which.
    for (const dep of referencedSteps([def.with, def.if])) {
      const d = steps.get(dep);
      if (d?.state !== 'succeeded') {
        const why = d?.state === 'planned' ? 'was only planned (dry run)' : d ? `ended ${d.state}` : 'did not run';
        await end({ state: 'skipped', note: `needs step "${dep}", which ${why}` });
        return { kind: 'done' };
      }
    }
    let input: Record<string, unknown>;
    try {
      if (def.if !== undefined && !isTruthy(resolveValue(def.if, scope))) {
        await end({ state: 'skipped', note: `condition ${def.if} is false` });
        return { kind: 'done' };
      }
      input = resolveValue(def.with, scope) as Record<string, unknown>;
    } catch (err) {
      if (!(err instanceof UnresolvedExpression)) throw err;
      const error = { code: 'STEP_INPUT_INVALID', message: err.message };
      await end({ state: 'failed', error });
      return { kind: 'failed', error };
    }
    const validate = this.validatorFor(type);
    if (!validate(input)) {
      const error = {
        code: 'STEP_INPUT_INVALID',
        message: `input for ${def.uses}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(input)'} ${e.message}`).join('; ')}`,
      };
      await end({ state: 'failed', input, error });
      return { kind: 'failed', error };
    }

    const timeoutS = parseDuration(def.timeout ?? '') ?? DEFAULT_STEP_TIMEOUT_S;
    if (existing && now.getTime() - existing.startedAt.getTime() > timeoutS * 1000) {
      const error = { code: 'STEP_TIMEOUT', message: `step ${def.id} did not finish within ${def.timeout ?? `${timeoutS}s`}` };
      await end({ state: 'failed', error });
      return { kind: 'failed', error };
    }

    const attempt = base.attempts + 1;
    let memory = base.memory ?? {};
    if (!existing) {
      pendingStart = {
        kind: 'step.started', runId: run.id, actor: run.actor,
        data: redactorFor(run).apply({ stepId: def.id, uses: def.uses, phase, mutates: type.mutates, startedAt: base.startedAt.toISOString(), input }),
      };
    }
    const running: Partial<StepResultRecord> = { state: 'running', attempts: attempt, input, note: null };
    if (type.mutates || existing) {
      // Recorded before the step runs: a mutating step's start (and attempt count) must survive a crash mid-call.
      await record(running);
    } else {
      // A read-only step that dies mid-run is simply run again, so its start is written with its
      // outcome, in one transaction: the engine's per-step cost is one commit.
      current = { ...current, ...running };
    }
    const ctx: StepContext = {
      runId: run.id, runbookId: run.runbookId, stepId: def.id, attempt, startedAt: base.startedAt,
      memory: Object.fromEntries(Object.entries(memory).filter(([k]) => !k.startsWith('$'))),
      checkpoint: async (m) => {
        memory = { ...memory, ...m };
        await record({ memory });
      },
      dryRun: run.dryRun, expiresAt: run.expiresAt, aws: this.awsContext(run, def.id),
      log: new Logger(`${run.id}/${def.id}`),
    };

    try {
      if (run.dryRun && type.mutates) {
        const plannedCalls = await type.plan!(input, ctx);
        await end({ state: 'planned', output: { dryRun: true, plannedCalls } });
        return { kind: 'done' };
      }
      const outcome = await type.run(input, ctx);
      if (outcome.kind === 'wait') {
        const afterS = Math.max(0, outcome.afterSeconds);
        await record({ state: 'waiting', memory: { ...pick$(memory), ...(outcome.memory ?? {}) }, note: outcome.note ?? null });
        return { kind: 'wait', afterMs: afterS * 1000 };
      }
      const output = outcome.output as Record<string, unknown>;
      await end({ state: 'succeeded', output, error: null, note: type.summarize?.(output) ?? null });
      return { kind: 'done' };
    } catch (err) {
      const error = toRunError(err);
      const retryable = err instanceof CodedError && err.retryable;
      const failures = Number(memory[FAILURES] ?? 0) + 1;
      const allowed = def.retry?.attempts ?? (retryable ? 3 : 1);
      if (retryable && failures < allowed) {
        const backoffS = Math.min(MAX_RETRY_BACKOFF_S, (def.retry?.backoffSeconds ?? 2) * 2 ** (failures - 1));
        await record({ state: 'waiting', memory: { ...memory, [FAILURES]: failures }, error, note: `retry ${failures + 1}/${allowed} in ${backoffS}s after ${error.code}` });
        return { kind: 'wait', afterMs: backoffS * 1000 };
      }
      // Issue 11 hook: a crash's text may quote a secret parameter (or a credential in a URL); it passes the redactor.
      if (!(err instanceof CodedError)) this.logger.error(`step ${run.id}/${def.id} crashed: ${redactText(String((err as Error).stack ?? err), redactorFor(run).values)}`);
      await end({ state: 'failed', error });
      return { kind: 'failed', error };
    }
  }

  private validatorFor(type: StepType<any, any>): ValidateFunction {
    let v = this.inputValidators.get(type.uses);
    if (!v) {
      v = this.ajv.compile(type.input);
      this.inputValidators.set(type.uses, v);
    }
    return v;
  }

  /** Ends the main phase: the outcome is fixed now, and cleanup runs next whatever it is. */
  private async endMain(run: RunRecord, outcome: RunOutcome, error: RunError | null, steps: Map<string, StepResultRecord>): Promise<void> {
    if (error) {
      // A step caught mid-wait by a cancel, timeout or guard alarm ends with the reason it stopped.
      for (const s of steps.values()) {
        if (s.phase === 'main' && (s.state === 'waiting' || s.state === 'running')) {
          const ended = { ...s, state: 'failed' as const, endedAt: this.clock.now(), error, note: `interrupted: ${error.code}` };
          await this.runs.upsertStep(ended);
          steps.set(s.stepId, ended);
        }
      }
    }
    await this.runs.update(run.id, { phase: 'cleanup', outcome, error: error ?? undefined });
    run.phase = 'cleanup';
    run.outcome = outcome;
  }

  private async finish(runId: string): Promise<void> {
    const run = (await this.runs.get(runId))!;
    const steps = await this.runs.steps(runId);
    let state: RunOutcome = run.outcome ?? 'failed';
    let error = run.error;
    const cleanupFailed = steps.filter((s) => s.phase === 'cleanup' && s.state === 'failed').map((s) => s.stepId);
    const failedFindings = steps.flatMap((s) => ((s.output?.findings as Finding[] | undefined) ?? []).filter((f) => !f.passed).map((f) => f.id));
    if (state === 'succeeded' && cleanupFailed.length > 0) {
      state = 'failed';
      error = { code: 'CLEANUP_FAILED', message: `cleanup step(s) failed: ${cleanupFailed.join(', ')}`, details: { steps: cleanupFailed } };
    } else if (state === 'succeeded' && failedFindings.length > 0) {
      state = 'failed';
      error = { code: 'FINDINGS_FAILED', message: `check(s) failed: ${failedFindings.join(', ')}`, details: { findings: failedFindings } };
    } else if (error && cleanupFailed.length > 0) {
      error = { ...error, details: { ...(error.details ?? {}), cleanupFailed } };
    }
    const endedAt = this.clock.now();
    const finished: RunRecord = { ...run, state, error, endedAt, phase: 'done' };
    const report = buildRunReport(...toReportInputs(finished, steps, this.registry), endedAt);
    // One transaction: an ended run always has its 'run.ended' record, and the record its run.
    await this.db.transaction(async (tx) => {
      await this.runs.update(runId, { state, phase: 'done', error: error ?? undefined, endedAt, report: report as unknown as Record<string, unknown> }, tx);
      await this.audit.append(
        {
          kind: 'run.ended', runId, actor: run.actor,
          data: redactorFor(run).apply({ state, error, durationMs: run.startedAt ? endedAt.getTime() - run.startedAt.getTime() : null, cleanupFailed }),
        },
        tx,
      );
      // In the same transaction as the end: a run that ended is notified even if this process dies now.
      const notify = run.definition.notify;
      if (notify && (notify.on ?? ['failed', 'aborted']).includes(state)) {
        if (notify.sns) await this.notifications.enqueue(runId, 'sns', notify.sns, tx);
        if (notify.webhook) await this.notifications.enqueue(runId, 'webhook', notify.webhook, tx);
      }
    });
    this.logger.log(`run ${runId} (${run.runbookId}) ended ${state}${error ? `: ${error.code}` : ''}`);
    // A composite parent waiting on this child looks again now instead of at its next poll.
    if (run.parentRunId) await this.queue.wake(run.parentRunId).catch(() => undefined);
    // A composite run that ended (cancelled, timed out, failed) no longer waits for its children: stop them.
    if (state !== 'succeeded') await this.runsService.cancelChildren(runId, `run:${runId}`).catch((err) => this.logger.warn(`cancelling children of ${runId}: ${(err as Error).message}`));
  }

  private scope(run: RunRecord, steps: Map<string, StepResultRecord>): Scope {
    const outputs: Record<string, unknown> = {};
    for (const [id, s] of steps) if (s.state === 'succeeded') outputs[id] = s.output ?? {};
    return {
      params: run.parameters,
      steps: outputs,
      run: { id: run.id, runbookId: run.runbookId, dryRun: run.dryRun, actor: run.actor, expiresAt: run.expiresAt.toISOString(), acceptedAt: run.createdAt.toISOString() },
      defaults: { region: this.config.awsRegion },
    };
  }

  private awsContext(run: RunRecord, stepId: string): AwsCallContext {
    return {
      runId: run.id, runbookId: run.runbookId, stepId, actor: run.actor, dryRun: run.dryRun, expiresAt: run.expiresAt,
      secretValues: redactorFor(run).values,
    };
  }
}

function pick$(memory: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(memory).filter(([k]) => k.startsWith('$')));
}

function toRunError(err: unknown): RunError {
  if (err instanceof CodedError) return { code: err.code, message: err.message, details: err.details };
  return { code: 'STEP_CRASHED', message: `unexpected error: ${(err as Error)?.message ?? String(err)}` };
}
