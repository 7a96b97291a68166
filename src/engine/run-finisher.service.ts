import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { Clock } from '../common/clock';
import { Queryable } from '../persistence/database';
import { NotificationsRepository } from '../persistence/notifications.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { buildRunReport } from '../reports/run-report.builder';
import { decideOnFailure } from '../runbooks/on-failure';
import { toReportInputs } from './report-inputs';
import type { RunExecution } from './run-execution';
import { RunQueue } from './run-queue.adapter';
import { redactorFor, storedStep } from './run-redactor';
import { RunSecretsService } from './run-secrets.service';
import { RunsService } from './runs.service';
import type { RunError, RunOutcome, RunRecord, StepResultRecord } from '../model/run.types';
import type { Finding } from '../steps/step.contract';
import { StepRegistry } from '../steps/step-registry';

/**
 * The end of a run, its outcome outbox: the final state (from the main phase's outcome, failed
 * steps, cleanup and findings), the report built from what was recorded, `run.ended` and the
 * notifications to send, all in one transaction under the lease; then the composite relatives.
 */
@Injectable()
export class RunFinisherService {
  private readonly logger = new Logger('Executor');

  constructor(
    private readonly runs: RunsRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly notifications: NotificationsRepository,
    private readonly queue: RunQueue,
    private readonly runsService: RunsService,
    private readonly registry: StepRegistry,
    private readonly secrets: RunSecretsService,
  ) {}

  /**
   * Ends a run whose phases ran to their end: the run (secrets opened) and steps as the execution
   * holds them after recording them, which saves reading them back.
   */
  async finish(x: RunExecution): Promise<void> {
    // As stored: the report never holds a secret a step's output carried in memory.
    const redactor = redactorFor(x.run);
    await this.end(
      x,
      x.run,
      [...x.steps.values()].map((s) => storedStep(s, redactor)),
    );
  }

  /**
   * Ends a run failed with `error` before its phases ran out (its key is gone, it was
   * dead-lettered): what the execution holds may be incomplete, so the run and steps are read.
   */
  async finishForced(x: RunExecution, error: RunError): Promise<void> {
    const stored = (await this.runs.get(x.runId))!;
    // Opened so redaction knows the secret values (a step's error may quote one); sealed if the key is gone.
    const opened = this.secrets.tryOpen(stored);
    await this.end(x, 'run' in opened ? opened.run : stored, await this.runs.steps(x.runId), error);
  }

  private async end(x: RunExecution, run: RunRecord, steps: StepResultRecord[], forced?: RunError): Promise<void> {
    const runId = run.id;
    const { state, error, cleanupFailed } = finalState(run, steps, forced);
    const endedAt = this.clock.now();
    const finished: RunRecord = { ...run, state, error, endedAt, phase: 'done' };
    const report = buildRunReport(...toReportInputs(finished, steps, this.registry), endedAt);
    const fields = { state, phase: 'done' as const, error: error ?? undefined, endedAt, report: report as unknown as Record<string, unknown> };
    const ended = {
      kind: 'run.ended' as const,
      runId,
      actor: run.actor,
      data: redactorFor(run).apply({ state, error, durationMs: run.startedAt ? endedAt.getTime() - run.startedAt.getTime() : null, cleanupFailed }),
    };
    // One commit: an ended run always has its 'run.ended' record, and the record its run (and the
    // notifications it owes, where the runbook asks for them).
    if (this.notifies(run, state)) {
      await x.record(async (tx) => {
        await this.runs.update(runId, fields, tx);
        await this.runs.releaseLease(runId, x.lease.epoch, tx);
        await this.audit.append(ended, tx);
        await this.enqueueNotifications(run, state, tx);
      });
    } else {
      await x.write({ run: fields, events: [ended], release: true, durable: true });
    }
    x.stop();
    this.logger.log(`run ${runId} (${run.runbookId}) ended ${state}${error ? `: ${error.code}` : ''}`);
    // A composite parent waiting on this child looks again now instead of at its next poll.
    if (run.parentRunId) await this.queue.wake(run.parentRunId).catch(() => undefined);
    // A composite run that ended (cancelled, timed out, failed) no longer waits for its children: stop them.
    if (state !== 'succeeded')
      await this.runsService
        .cancelChildren(runId, `run:${runId}`)
        .catch((err) => this.logger.warn(`cancelling children of ${runId}: ${(err as Error).message}`));
  }

  private notifies(run: RunRecord, state: RunOutcome): boolean {
    const notify = run.definition.notify;
    return !!notify && (notify.on ?? ['failed', 'aborted']).includes(state) && !!(notify.sns || notify.webhook);
  }

  // In the same transaction as the end: a run that ended is notified even if this process dies now.
  private async enqueueNotifications(run: RunRecord, state: RunOutcome, tx: Queryable): Promise<void> {
    const notify = run.definition.notify;
    if (!notify || !this.notifies(run, state)) return;
    if (notify.sns) await this.notifications.enqueue(run.id, 'sns', notify.sns, tx);
    if (notify.webhook) await this.notifications.enqueue(run.id, 'webhook', notify.webhook, tx);
  }
}

/**
 * A run ends succeeded only if its main phase did, no main step failed, cleanup did not fail and
 * no finding failed; otherwise the first reason found is the run's error.
 */
export function finalState(
  run: RunRecord,
  steps: StepResultRecord[],
  forced?: RunError,
): { state: RunOutcome; error: RunError | null; cleanupFailed: string[] } {
  let state: RunOutcome = forced ? 'failed' : (run.outcome ?? 'failed');
  let error = forced ?? run.error;
  const cleanupFailed = steps.filter((s) => s.phase === 'cleanup' && s.state === 'failed').map((s) => s.stepId);
  // A failure its step's onFailure went on from (continue, step:<id>) does not fail the run.
  const mainList = run.definition?.steps ?? [];
  const mainFailed = steps.filter((s) => {
    if (s.phase !== 'main' || s.state !== 'failed') return false;
    const i = mainList.findIndex((d) => d.id === s.stepId);
    return i < 0 || decideOnFailure(mainList[i], mainList, i).kind === 'fail';
  });
  const failedFindings = steps.flatMap((s) => ((s.output?.findings as Finding[] | undefined) ?? []).filter((f) => !f.passed).map((f) => f.id));
  if (state === 'succeeded' && mainFailed.length > 0) {
    // Only reachable if the main phase's outcome was recorded apart from a step's failure: never succeed past it.
    state = 'failed';
    error = mainFailed[0].error ?? {
      code: 'STEP_CRASHED',
      message: `step ${mainFailed[0].stepId} failed`,
      details: { steps: mainFailed.map((s) => s.stepId) },
    };
  } else if (state === 'succeeded' && cleanupFailed.length > 0) {
    state = 'failed';
    error = { code: 'CLEANUP_FAILED', message: `cleanup step(s) failed: ${cleanupFailed.join(', ')}`, details: { steps: cleanupFailed } };
  } else if (state === 'succeeded' && failedFindings.length > 0) {
    state = 'failed';
    error = { code: 'FINDINGS_FAILED', message: `check(s) failed: ${failedFindings.join(', ')}`, details: { findings: failedFindings } };
  } else if (error && cleanupFailed.length > 0) {
    error = { ...error, details: { ...(error.details ?? {}), cleanupFailed } };
  }
  return { state, error, cleanupFailed };
}
