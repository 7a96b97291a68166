import { Injectable, Logger } from '@nestjs/common';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AuditService } from '../audit/audit.service';
import type { AuditEventInput } from '../audit/audit.types';
import { CodedError } from '../common/coded-error';
import { redactText, redactValues } from '../common/redact';
import { Clock } from '../common/clock';
import { FaultInjector, InjectedFault } from '../common/fault-injector';
import { AppConfig } from '../config/app.config';
import { Queryable } from '../persistence/database';
import { toDatabaseError } from '../persistence/database.error';
import { RunsRepository } from '../persistence/runs.repository';
import { parseDuration } from '../runbooks/duration';
import { isTruthy, referencedSteps, resolveValue, UnresolvedExpression } from '../runbooks/expressions';
import type { StepDefinition } from '../runbooks/runbook.types';
import { EngineError } from './engine.error';
import { Lease, RunLeaseService } from './run-lease.service';
import { redactorFor, storedStep } from './run-redactor';
import { awsContextOf, runScope } from './run-scope';
import type { RunError, RunRecord, StepResultRecord } from './run.types';
import type { StepContext, StepType } from './step.contract';
import { StepRegistry } from './step-registry';

export type StepRun = { kind: 'done' } | { kind: 'wait'; afterMs: number } | { kind: 'failed'; error: RunError };

/** Written in the transaction that ends a failed main step, so the failure and the phase change commit together. */
export type OnMainFailure = (tx: Queryable, error: RunError) => Promise<void>;

/** Default limit on one step's total time (all its waits and retries) when the runbook sets none. */
const DEFAULT_STEP_TIMEOUT_S = 30 * 60;
const MAX_RETRY_BACKOFF_S = 300;
/** Reserved memory key: how many times this step failed with a retryable error. */
const FAILURES = '$failures';

/**
 * Runs one step of a run once: resolves and checks its input, records its start (before a
 * mutating step runs), calls it, and records how it ended. Every record goes through the lease.
 */
@Injectable()
export class StepRunnerService {
  private readonly logger = new Logger('Executor');
  private readonly ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true }));
  private readonly inputValidators = new Map<string, ValidateFunction>();

  constructor(
    private readonly runs: RunsRepository,
    private readonly registry: StepRegistry,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly leases: RunLeaseService,
    private readonly faults: FaultInjector,
  ) {}

  async runStep(
    run: RunRecord,
    lease: Lease,
    def: StepDefinition,
    position: number,
    phase: 'main' | 'cleanup',
    existing: StepResultRecord | undefined,
    steps: Map<string, StepResultRecord>,
    onMainFailure: OnMainFailure,
  ): Promise<StepRun> {
    // forStep: a generic step's `mutates:` and `outputs:` come from its definition.
    const type = this.registry.forStep(def);
    const now = this.clock.now();
    const base: StepResultRecord = existing ?? {
      runId: run.id, stepId: def.id, phase, position, uses: def.uses, mutates: !!type?.mutates, state: 'running',
      attempts: 0, startedAt: now, endedAt: null, input: null, output: null, error: null, memory: {}, note: null,
    };
    let current = base;
    const redactor = redactorFor(run);
    const stored = (row: StepResultRecord): StepResultRecord => storedStep(row, redactor);
    // The 'step.started' audit record not yet written (null once written, or for a step never started).
    let pendingStart: AuditEventInput | null = null;
    /** Writes the step's record under the lease, with the pending start record and `also` in the same transaction. */
    const record = async (patch: Partial<StepResultRecord>, endEvent?: AuditEventInput, also?: (tx: Queryable) => Promise<void>) => {
      const row = { ...current, ...patch };
      const events = [...(pendingStart ? [pendingStart] : []), ...(endEvent ? [endEvent] : [])];
      if (also) {
        await this.leases.record(lease, async (tx) => {
          await this.runs.upsertStep(stored(row), tx);
          if (events.length > 0) await this.audit.appendMany(events, tx);
          await also(tx);
        });
      } else {
        // A read-only step's records need not wait for the WAL flush: if PostgreSQL itself crashed
        // before flushing, the step would just run again, and the next durable commit (a mutating
        // step, the run's end) flushes them first anyway, so the audit chain keeps no gap.
        await this.leases.write(lease, { steps: [stored(row)], events, durable: !!type?.mutates });
      }
      current = row;
      pendingStart = null;
      steps.set(def.id, current);
    };
    // The step's final record and its audit record commit together: neither exists without the other.
    // A failed main step also ends the main phase in that transaction: a run never goes on past it.
    const end = async (patch: Partial<StepResultRecord>): Promise<void> => {
      const ended = this.clock.now();
      const next = { ...current, ...patch, endedAt: ended };
      const failedMain = next.state === 'failed' && phase === 'main' && next.error;
      await record({ ...patch, endedAt: ended }, {
        kind: 'step.ended', runId: run.id, actor: run.actor,
        data: redactorFor(run).apply({ stepId: def.id, uses: def.uses, phase, state: next.state, attempts: next.attempts,
          durationMs: ended.getTime() - next.startedAt.getTime(), error: next.error, note: next.note }),
      }, failedMain ? (tx) => onMainFailure(tx, redactValues(next.error!, redactor.values)) : undefined);
      this.faults.at(`step:${def.id}:after`);
    };
    const fail = async (error: RunError, patch: Partial<StepResultRecord> = {}): Promise<StepRun> => {
      await end({ ...patch, state: 'failed', error });
      return { kind: 'failed', error };
    };
    if (!type) {
      // Cannot happen for a definition checked at boot, unless a deploy removed a step type mid-run.
      return fail({ code: 'STEP_INPUT_INVALID', message: `step type ${def.uses} is not known to this worker` });
    }

    const scope = runScope(run, steps, this.config);
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
      return fail({ code: 'STEP_INPUT_INVALID', message: err.message });
    }
    const validate = this.validatorFor(type);
    if (!validate(input)) {
      return fail(
        { code: 'STEP_INPUT_INVALID', message: `input for ${def.uses}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '(input)'} ${e.message}`).join('; ')}` },
        { input },
      );
    }

    const timeoutS = parseDuration(def.timeout ?? '') ?? DEFAULT_STEP_TIMEOUT_S;
    if (existing && now.getTime() - existing.startedAt.getTime() > timeoutS * 1000) {
      return fail({ code: 'STEP_TIMEOUT', message: `step ${def.id} did not finish within ${def.timeout ?? `${timeoutS}s`}` });
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
    this.faults.at(`step:${def.id}:before`);
    const ctx: StepContext = {
      runId: run.id, runbookId: run.runbookId, stepId: def.id, attempt, startedAt: base.startedAt,
      memory: Object.fromEntries(Object.entries(memory).filter(([k]) => !k.startsWith('$'))),
      checkpoint: async (m) => {
        memory = { ...memory, ...m };
        await record({ memory });
      },
      dryRun: run.dryRun, expiresAt: run.expiresAt, aws: awsContextOf(run, def.id, this.leases.fenceFor(lease)),
      log: new Logger(`${run.id}/${def.id}`),
    };

    try {
      if (run.dryRun && type.mutates) {
        const plannedCalls = await type.plan!(input, ctx);
        await end({ state: 'planned', output: { dryRun: true, plannedCalls } });
        return { kind: 'done' };
      }
      const outcome = await type.run(input, ctx);
      const planned = outcome.kind === 'wait' && run.dryRun && !type.startsRuns ? onlyPlanned(steps) : [];
      if (planned.length > 0) {
        // A plan never waits on a change it only planned: what it would wait for never comes (the
        // restored copy was not made, the service not scaled). Its first look is kept as the note.
        await end({ state: 'skipped', note: `dry run: would wait (${outcome.kind === 'wait' && outcome.note ? outcome.note : 'not there yet'}) after ${planned.join(', ')}, only planned` });
        return { kind: 'done' };
      }
      if (outcome.kind === 'wait') {
        const afterS = Math.max(0, outcome.afterSeconds);
        await record({ state: 'waiting', memory: { ...pick$(memory), ...(outcome.memory ?? {}) }, note: outcome.note ?? null });
        return { kind: 'wait', afterMs: afterS * 1000 };
      }
      const output = outcome.output as Record<string, unknown>;
      await end({ state: 'succeeded', output, error: null, note: type.summarize?.(output) ?? null });
      return { kind: 'done' };
    } catch (err) {
      // The executor's own trouble (lost lease, a database away too long, an injected fault) is
      // not the step's failure: this execution stops, and the run resumes from what was recorded.
      if (isInfrastructureError(err)) throw err;
      const error = toRunError(err);
      const retryable = err instanceof CodedError && err.retryable;
      const failures = Number(memory[FAILURES] ?? 0) + 1;
      const allowed = def.retry?.attempts ?? (retryable ? 3 : 1);
      if (retryable && failures < allowed) {
        const backoffS = Math.min(MAX_RETRY_BACKOFF_S, (def.retry?.backoffSeconds ?? 2) * 2 ** (failures - 1));
        await record({ state: 'waiting', memory: { ...memory, [FAILURES]: failures }, error, note: `retry ${failures + 1}/${allowed} in ${backoffS}s after ${error.code}` });
        return { kind: 'wait', afterMs: backoffS * 1000 };
      }
      // A stack trace can carry a secret (a connection string, a parameter in a message): it passes the redactor too.
      if (!(err instanceof CodedError)) this.logger.error(`step ${run.id}/${def.id} crashed: ${redactText((err as Error).stack ?? String(err), redactorFor(run).values)}`);
      return fail(error);
    }
  }

  /** A step passed over by an onFailure jump: recorded skipped, with its audit record, under the lease. */
  async recordSkipped(run: RunRecord, lease: Lease, def: StepDefinition, position: number, phase: 'main' | 'cleanup', steps: Map<string, StepResultRecord>, note: string): Promise<void> {
    const now = this.clock.now();
    const row: StepResultRecord = {
      runId: run.id, stepId: def.id, phase, position, uses: def.uses, mutates: !!this.registry.forStep(def)?.mutates, state: 'skipped',
      attempts: 0, startedAt: now, endedAt: now, input: null, output: null, error: null, memory: {}, note,
    };
    await this.leases.write(lease, {
      steps: [row],
      events: [{ kind: 'step.ended', runId: run.id, actor: run.actor, data: { stepId: def.id, uses: def.uses, phase, state: 'skipped', attempts: 0, durationMs: 0, error: null, note } }],
      durable: true,
    });
    steps.set(def.id, row);
  }

  private validatorFor(type: StepType<any, any>): ValidateFunction {
    let v = this.inputValidators.get(type.uses);
    if (!v) {
      v = this.ajv.compile(type.input);
      this.inputValidators.set(type.uses, v);
    }
    return v;
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
