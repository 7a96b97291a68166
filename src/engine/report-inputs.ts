import type { ReportRunInput, ReportStepInput } from '../reports/report.types';
import { redactorFor } from './run-redactor';
import type { RunRecord, StepResultRecord } from '../model/run.types';
import type { StepRegistry } from '../steps/step-registry';

/** What the report builder sees of a run: recorded facts only, secrets already redacted. */
export function toReportInputs(run: RunRecord, steps: StepResultRecord[], registry: StepRegistry): [ReportRunInput, ReportStepInput[]] {
  const names = new Map([...(run.definition.preflight ?? []), ...run.definition.steps, ...run.definition.cleanup].map((s) => [s.id, s.name]));
  return redactorFor(run).apply<[ReportRunInput, ReportStepInput[]]>([
    {
      id: run.id,
      runbookId: run.runbookId,
      runbookTitle: run.definition.title,
      state: run.state,
      outcome: run.outcome,
      dryRun: run.dryRun,
      reason: run.reason,
      trigger: run.trigger,
      parameters: run.parameters,
      error: run.error,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
    },
    steps.map((s) => {
      const type = registry.get(s.uses);
      let summary: string | null = null;
      if (s.state === 'succeeded' && s.output && type?.summarize) {
        try {
          summary = type.summarize(s.output);
        } catch {
          summary = null;
        }
      }
      return {
        stepId: s.stepId,
        name: names.get(s.stepId),
        uses: s.uses,
        phase: s.phase,
        position: s.position,
        mutates: s.mutates,
        state: s.state,
        attempts: s.attempts,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
        output: s.output,
        error: s.error,
        note: s.note,
        summary,
      };
    }),
  ]);
}
