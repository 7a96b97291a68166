import { Injectable } from '@nestjs/common';
import { EngineError } from '../../engine/engine.error';
import { inheritedPersonFields } from '../../engine/run-access.service';
import { RunReader } from '../../engine/run-reader.port';
import { isTerminal, type RunRecord } from '../../model/run.types';
import { done, engineOf, type Finding, type StepContext, type StepType, wait } from '../step.contract';
import type { RunReport } from '../../reports/report.types';

interface Input {
  runbook: string;
  parameters?: Record<string, unknown>;
  /** A child that does not succeed becomes a failed finding and the parent goes on. */
  continueOnFailure?: boolean;
  /** Fallback look interval; a child that ends wakes its parent at once. */
  pollSeconds?: number;
}

export interface RunRunbookOutput extends Record<string, unknown> {
  childRunId: string;
  runbookId: string;
  state: string;
  durationSeconds: number | null;
  error: { code: string; message: string } | null;
  findings: Finding[];
  figures: Array<{ id: string; label: string; value: unknown; unit?: string }>;
}

/**
 * A composite runbook's step: starts a child run of another runbook and waits for it without
 * holding a worker. The child is accepted with the dedupe key `child:<parent>:<step>`, so a
 * parent resumed after a crash finds its child instead of starting a second one. The child's
 * findings and figures are copied into this step's output, so the parent's report carries them.
 */
@Injectable()
export class RunRunbookStep implements StepType<Input, RunRunbookOutput> {
  readonly uses = 'runbook.run';
  readonly description = 'Starts a child run of another runbook and waits for it to end';
  // It changes nothing itself; the child's own steps are planned or run under the child's rules
  // (a dry-run parent starts a dry-run child).
  readonly mutates = false;
  readonly iamActions = [];
  readonly startsRuns = true;
  readonly input = {
    type: 'object',
    additionalProperties: false,
    required: ['runbook'],
    properties: {
      runbook: { type: 'string', pattern: '^[a-z][a-z0-9-]{1,62}$' },
      parameters: { type: 'object' },
      continueOnFailure: { type: 'boolean', default: false },
      pollSeconds: { type: 'number', minimum: 1, maximum: 600, default: 15 },
    },
  };
  readonly outputs = ['childRunId', 'runbookId', 'state', 'durationSeconds', 'error', 'findings', 'figures'];

  // The child is started through the context's engine calls (see EngineCalls for why not injected).
  constructor(private readonly runs: RunReader) {}

  async run(input: Input, ctx: StepContext) {
    const poll = input.pollSeconds ?? 15;
    let childId = ctx.memory.childRunId as string | undefined;
    if (!childId) {
      // The person who started the root run is who starts the child: the child's manual-trigger
      // roles apply to them (a schedule or alarm root carries no role; those are configured by admins).
      const person = inheritedPersonFields((await this.runs.get(ctx.runId))?.trigger);
      const { run } = await engineOf(ctx).startRun({
        runbookId: input.runbook,
        parameters: input.parameters ?? {},
        dryRun: ctx.dryRun,
        reason: `step ${ctx.stepId} of ${ctx.runbookId} run ${ctx.runId}`,
        trigger: {
          kind: 'parent',
          actor: ctx.aws.actor,
          parentRunId: ctx.runId,
          parentStepId: ctx.stepId,
          parentRunbookId: ctx.runbookId,
          ...person,
        },
        dedupeKey: `child:${ctx.runId}:${ctx.stepId}`,
      });
      childId = run.id;
      await ctx.checkpoint({ childRunId: childId });
    }
    const child = await this.runs.get(childId);
    if (!child) throw new EngineError('CHILD_RUN_FAILED', `child run ${childId} is not on record`, { childRunId: childId });
    if (!isTerminal(child.state) || child.phase !== 'done') {
      return wait<RunRunbookOutput>(poll, { childRunId: childId }, `waiting for child run ${childId} (${input.runbook}, ${child.state})`);
    }
    const output = childOutput(child);
    if (child.state === 'succeeded') return done(output);
    if (!input.continueOnFailure) {
      throw new EngineError(
        'CHILD_RUN_FAILED',
        `child run ${child.id} (${child.runbookId}) ended ${child.state}${child.error ? `: ${child.error.message}` : ''}`,
        {
          childRunId: child.id,
          runbookId: child.runbookId,
          state: child.state,
          error: child.error,
        },
      );
    }
    ctx.log.warn(`child run ${child.id} ended ${child.state}; continuing (continueOnFailure)`);
    return done(output);
  }

  summarize(o: RunRunbookOutput): string {
    return `child run ${o.childRunId} (${o.runbookId}) ${o.state}`;
  }
}

function childOutput(child: RunRecord): RunRunbookOutput {
  const report = child.report as unknown as RunReport | null;
  const findings: Finding[] = (report?.findings ?? []).map(({ stepId: _s, ...f }) => f);
  findings.push({
    id: `${child.runbookId}-succeeded`,
    title: `Child run ${child.runbookId} succeeded`,
    passed: child.state === 'succeeded',
    measured: child.state,
    target: 'succeeded',
    ...(child.error ? { detail: `${child.error.code}: ${child.error.message}` } : {}),
  });
  return {
    childRunId: child.id,
    runbookId: child.runbookId,
    state: child.state,
    durationSeconds: report?.run.durationSeconds ?? null,
    error: child.error ? { code: child.error.code, message: child.error.message } : null,
    findings,
    figures: (report?.figures ?? []).map(({ stepId: _s, ...f }) => f),
  };
}
