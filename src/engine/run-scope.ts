import type { AwsCallContext } from '../aws/aws-call.types';
import type { AppConfig } from '../config/app.config';
import type { Scope } from '../runbooks/expressions';
import { redactorFor } from './run-redactor';
import type { RunRecord, StepResultRecord } from '../model/run.types';

/** What `${{ }}` expressions of a run's steps can see: parameters, succeeded steps' outputs, the run, defaults. */
export function runScope(run: RunRecord, steps: Map<string, StepResultRecord>, config: AppConfig): Scope {
  const outputs: Record<string, unknown> = {};
  for (const [id, s] of steps) if (s.state === 'succeeded') outputs[id] = s.output ?? {};
  return {
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
    defaults: { region: config.aws.region },
  };
}

/** The AWS call context of one step of a run; `fence` binds its mutating calls to the executor's lease. */
export function awsContextOf(run: RunRecord, stepId: string, fence?: AwsCallContext['fence']): AwsCallContext {
  return {
    runId: run.id,
    runbookId: run.runbookId,
    stepId,
    actor: run.actor,
    dryRun: run.dryRun,
    expiresAt: run.expiresAt,
    secretValues: redactorFor(run).values,
    ...(fence ? { fence } : {}),
  };
}
