import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app.config';
import { RunsRepository } from '../persistence/runs.repository';
import { parseDuration } from '../runbooks/duration';
import { resolveValue } from '../runbooks/expressions';
import { decideOnFailure, jumpedOver } from '../runbooks/on-failure';
import type { StepDefinition } from '../model/runbook.types';
import { isRejection } from './approval.error';
import { EngineError } from './engine.error';
import { RunFinisherService } from './run-finisher.service';
import type { RunExecution } from './run-execution';
import { RunLeaseService } from './run-lease.service';
import { awsContextOf, runScope } from './run-scope';
import { RunSecretsService } from './run-secrets.service';
import type { RunError, RunOutcome, RunRecord, StepResultRecord } from '../model/run.types';
import { StepRegistry } from '../steps/step-registry';
import { StepRunnerService } from './step-runner.service';
import { StopConditionsService } from './stop-conditions.service';

export type AdvanceResult = { kind: 'finished' } | { kind: 'wait'; afterMs: number };

/**
 * The run's state machine. It takes the run (a lease with a fencing epoch), walks its steps from
 * the first unfinished one, and gives the run back when it ends or a step asks to be looked at
 * later. Each step's outcome is recorded before the next starts, so whoever calls `advance` next
 * (this worker after a wait, another after a crash or a stall) continues where the record says,
 * and an executor that lost the run to a newer one records nothing more.
 */
@Injectable()
export class ExecutorService {
  private readonly logger = new Logger('Executor');

  constructor(
    private readonly runs: RunsRepository,
    private readonly registry: StepRegistry,
    private readonly audit: AuditService,
    private readonly stopConditions: StopConditionsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly leases: RunLeaseService,
    private readonly stepRunner: StepRunnerService,
    private readonly finisher: RunFinisherService,
    private readonly secrets: RunSecretsService,
  ) {}

  async advance(runId: string): Promise<AdvanceResult> {
    const taken = await this.leases.take(runId);
    if (taken.kind === 'ended') return { kind: 'finished' };
    // Another executor's lease still runs (it may be slow, not dead): look again when it ends.
    if (taken.kind === 'held') return { kind: 'wait', afterMs: taken.retryAfterMs };
    const x = taken.execution;
    try {
      return await this.advanceHeld(x);
    } catch (err) {
      this.logger.warn(`run ${runId}: this execution stopped (${err instanceof EngineError ? err.code : (err as Error).name}): ${(err as Error).message}`);
      // Give the run back at once so the next try need not wait the lease out; its state stays
      // 'running', so that try counts this execution as failed (the dead letter's count).
      if (!(err instanceof EngineError && err.code === 'LEASE_LOST')) await x.release();
      throw err;
    } finally {
      x.stop();
    }
  }

  async cancelRequested(runId: string): Promise<boolean> {
    return (await this.runs.cancelRequest(runId)) !== null;
  }

  private async advanceHeld(x: RunExecution): Promise<AdvanceResult> {
    const taken = x.run;
    if ((taken.failedExecutions ?? 0) >= this.config.runs.maxFailedExecutions) {
      const dead = await this.deadLetter(x);
      if (dead === 'ended') return { kind: 'finished' };
      x.run = (await this.runs.get(taken.id))!;
    }
    x.run = await this.markRunning(x);
    // The stored run holds its writeOnly parameters sealed; steps resolve against them opened,
    // in memory only. A run whose key is gone ends failed, naming the key id.
    const opened = this.secrets.tryOpen(x.run);
    if ('error' in opened) {
      // Cleanup steps cannot run either (they resolve the same parameters): the run ends now.
      if (x.run.phase === 'main') await x.endMain('failed', opened.error);
      await this.finisher.finishForced(x, opened.error);
      return { kind: 'finished' };
    }
    x.run = opened.run;

    if (x.run.phase === 'main' && taken.cancelRequestedAt) {
      // Once per pick-up as well: a run cancelled while queued stops before its first step. The
      // take read the row under its new epoch; a cancel after it is seen before the next
      // mutating step or wait, as one during a step would be.
      await x.endMain('cancelled', cancelError({ by: taken.cancelRequestedBy, code: taken.cancelCode ?? null, reason: taken.cancelReason ?? null }));
    }
    if (x.run.phase === 'main') {
      const mainResult = await this.runPhase(x, 'main');
      if (mainResult.kind === 'wait') return mainResult;
    }
    const cleanupResult = await this.runPhase(x, 'cleanup');
    if (cleanupResult.kind === 'wait') return cleanupResult;
    // What this execution recorded is what the run is: the finisher need not read it back.
    await this.finisher.finish(x);
    return { kind: 'finished' };
  }

  private async markRunning(x: RunExecution): Promise<RunRecord> {
    const run = x.run;
    const now = this.clock.now();
    if (!run.startedAt) {
      const timeoutS = parseDuration(run.definition.guards.timeout ?? '') ?? this.config.runs.defaultTimeoutSeconds;
      const timeoutAt = new Date(now.getTime() + timeoutS * 1000);
      // One transaction: a crash between the two would leave a started run whose start is never audited.
      await x.write({
        run: { state: 'running', startedAt: now, timeoutAt },
        events: [{ kind: 'run.started', runId: run.id, actor: run.actor, data: { timeoutAt: timeoutAt.toISOString() } }],
        durable: true,
      });
      return { ...run, state: 'running', startedAt: now, timeoutAt };
    }
    if (run.state === 'running') {
      // Running with no live executor means the previous one died or stalled mid-run: say so in the audit.
      await x.write({
        events: [
          {
            kind: 'run.resumed',
            runId: run.id,
            actor: run.actor,
            data: { phase: run.phase, epoch: x.lease.epoch, failedExecutions: run.failedExecutions ?? 0 },
          },
        ],
        durable: true,
      });
    } else if (run.state === 'waiting') {
      await x.write({ run: { state: 'running' }, durable: true });
    }
    return { ...run, state: 'running' };
  }

  private async runPhase(x: RunExecution, phase: 'main' | 'cleanup'): Promise<{ kind: 'done' } | { kind: 'wait'; afterMs: number }> {
    const { run, steps } = x;
    const list = phase === 'main' ? run.definition.steps : run.definition.cleanup;
    for (let i = 0; i < list.length; i++) {
      const def = list[i];
      const existing = steps.get(def.id);
      // A main step that failed ends the main phase; found here only when that end was not recorded
      // (a run accepted before the two were written together). Never go on past it.
      if (phase === 'main' && existing?.state === 'failed' && decideOnFailure(def, list, i).kind === 'fail') {
        const error = existing.error ?? { code: 'STEP_CRASHED', message: `step ${def.id} failed` };
        await x.endMain(isRejection(error.code) ? 'rejected' : 'failed', error);
        return { kind: 'done' };
      }
      if (existing && ['succeeded', 'skipped', 'planned', 'failed'].includes(existing.state)) continue;
      // A failed step's `onFailure: step:<id>` passes over the steps before its target (computed
      // from the records alone, so a resumed run skips the same ones).
      const jumpedBy = phase === 'main' && !existing ? jumpedOver(list, (id) => steps.get(id)?.state === 'failed').get(def.id) : undefined;
      if (jumpedBy) {
        await this.stepRunner.recordSkipped(x, { def, position: i, phase }, `step "${jumpedBy}" failed and its onFailure went on at a later step`);
        continue;
      }

      if (phase === 'main') {
        const stop = await this.interruption(run, def, existing);
        if (stop) {
          await x.endMain(stop.outcome, stop.error);
          return { kind: 'done' };
        }
      }
      // A rejected or expired approval (core.approve) ends the run `rejected`, not `failed`: nothing broke.
      // Per-step onFailure (src/runbooks/on-failure.ts): `continue` and `step:<id>` go on; `fail` ends the phase.
      const endsMain = decideOnFailure(def, list, i).kind === 'fail';
      const result = await this.stepRunner.runStep(x, { def, position: i, phase, endsMain });
      if (result.kind === 'wait') {
        // The run is given back with its wait: the next look takes it without waiting for a lease.
        await x.write({ run: { state: 'waiting' }, release: true, durable: true });
        // Look again no later than the run's deadline, so the timeout ends the run on time, not at the step's next look.
        if (phase === 'main' && run.timeoutAt) {
          return { kind: 'wait', afterMs: Math.max(0, Math.min(result.afterMs, run.timeoutAt.getTime() - this.clock.nowMs() + 1)) };
        }
        return result;
      }
      // The step's failure ended the main phase in the same transaction, unless its onFailure goes on.
      if (result.kind === 'failed' && phase === 'main' && endsMain) return { kind: 'done' };
    }
    if (phase === 'main') await x.endMain('succeeded', null);
    return { kind: 'done' };
  }

  /**
   * Run timeout (before every main step), cancel and guard alarms (before a step that changes
   * something and at every look during a wait or a resume). A run of quick read-only steps is not
   * stopped between them: nothing they do needs undoing, and it keeps the per-step cost down.
   */
  private async interruption(
    run: RunRecord,
    def: StepDefinition,
    existing: StepResultRecord | undefined,
  ): Promise<{ outcome: RunOutcome; error: RunError } | null> {
    if (run.timeoutAt && this.clock.nowMs() > run.timeoutAt.getTime()) {
      return {
        outcome: 'failed',
        error: { code: 'RUN_TIMEOUT', message: `run exceeded its timeout (${run.definition.guards.timeout ?? `${this.config.runs.defaultTimeoutSeconds}s`})` },
      };
    }
    // forStep: a generic step's `mutates:` comes from its definition.
    const type = this.registry.forStep(def);
    const waiting = existing?.state === 'waiting' || existing?.state === 'running';
    if (!type?.mutates && !type?.startsRuns && !waiting) return null;
    const cancel = await this.runs.cancelRequest(run.id);
    if (cancel) return { outcome: 'cancelled', error: cancelError(cancel) };
    if (!run.dryRun && run.definition.guards.stopConditions) {
      const { alarms, target } = this.resolveStopConditions(run);
      const err = await this.stopConditions.check(awsContextOf(run, def.id), target, alarms);
      if (err) return { outcome: 'aborted', error: err.toJSON() };
    }
    return null;
  }

  private resolveStopConditions(run: RunRecord): { alarms: string[]; target: { region: string; roleArn?: string } } {
    const sc = run.definition.guards.stopConditions!;
    const scope = runScope(run, new Map(), this.config);
    const alarms = (resolveValue(sc.alarms, scope) as unknown[]).flat().filter((a): a is string => typeof a === 'string' && a !== '');
    const region = (sc.region ? resolveValue(sc.region, scope) : run.parameters.region) as string | undefined;
    const roleArn = (sc.roleArn ? resolveValue(sc.roleArn, scope) : undefined) as string | undefined;
    return { alarms, target: { region: region || this.config.aws.region, ...(roleArn ? { roleArn } : {}) } };
  }

  /**
   * A run whose executions keep failing (a step that kills its worker, a job that keeps vanishing)
   * is not tried forever. In the main phase it ends the phase failed and cleanup gets a fresh
   * budget; in cleanup it ends the run, naming the cleanup steps that never finished.
   */
  private async deadLetter(x: RunExecution): Promise<'cleanup' | 'ended'> {
    const { run, steps } = x;
    const limit = this.config.runs.maxFailedExecutions;
    const error: RunError = {
      code: 'RUN_DEAD_LETTERED',
      message: `the run's executions failed ${run.failedExecutions} times (limit ${limit}, RUNBOOKD_RUN_MAX_FAILED_EXECUTIONS) in its ${run.phase} phase`,
      details: { failedExecutions: run.failedExecutions, phase: run.phase },
    };
    this.logger.error(`run ${run.id}: ${error.message}; dead-lettered`);
    const event = {
      kind: 'run.dead-lettered' as const,
      runId: run.id,
      actor: 'system',
      data: { phase: run.phase, failedExecutions: run.failedExecutions, limit },
    };
    if (run.phase === 'main') {
      await x.record(async (tx) => {
        await this.audit.append(event, tx);
        await x.endMain('failed', error, tx);
        await this.runs.resetFailedExecutions(run.id, tx);
      });
      return 'cleanup';
    }
    const unfinished = run.definition.cleanup
      .map((d) => d.id)
      .filter((id) => !['succeeded', 'skipped', 'planned', 'failed'].includes(steps.get(id)?.state ?? ''));
    await x.record((tx) => this.audit.append(event, tx));
    await this.finisher.finishForced(x, { ...error, details: { ...error.details, cleanupNotFinished: unfinished } });
    return 'ended';
  }
}

/** A person's cancel ends the run CANCELLED; stop-all's ends it STOPPED, naming who and why. */
function cancelError(c: { by: string | null; code: string | null; reason: string | null }): RunError {
  if (c.code === 'STOPPED') {
    return {
      code: 'STOPPED',
      message: `stopped by ${c.by ?? 'unknown'} (stop-all): ${c.reason ?? 'no reason given'}`,
      details: { stoppedBy: c.by, reason: c.reason },
    };
  }
  return { code: 'CANCELLED', message: `cancelled by ${c.by ?? 'unknown'}` };
}
