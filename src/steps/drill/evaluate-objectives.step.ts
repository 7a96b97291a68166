import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { RunReader } from '../../engine/run-reader.port';
import { done, type StepContext, type StepType } from '../step.contract';
import { type DrillTargets, evaluateObjectives, readDrillEvidence, trendEntry } from '../../reports/drill-evidence';
import type { DrillEvidence } from '../../reports/report.types';
import type { RunReport } from '../../reports/report.types';

interface Input extends DrillTargets {
  /** Drills in the trend, this one included. */
  trendSize: number;
}

/**
 * The drill's evidence: reads the recorded reports of the child runs this run started and holds
 * each DR objective to its target, then lines this drill up with the previous ones from their
 * stored reports. Nothing is re-read from AWS. Meant for `cleanup:`, so a drill whose child
 * failed still reports which objectives were measured and which were not.
 */
@Injectable()
export class EvaluateDrillObjectivesStep implements StepType<Input, { drill: DrillEvidence; figures: unknown[] }> {
  readonly uses = 'drill.evaluate-objectives';
  readonly description = "Holds the child runs' recorded findings to the DR objectives and adds the trend over previous drills";
  readonly mutates = false;
  readonly iamActions = [];
  readonly input = {
    type: 'object',
    additionalProperties: false,
    properties: {
      rpoTargetMinutes: { type: 'number', exclusiveMinimum: 0, default: 60 },
      rtoTargetMinutes: { type: 'number', exclusiveMinimum: 0, default: 240 },
      maxSwitchSeconds: { type: 'number', exclusiveMinimum: 0, default: 60 },
      retentionDays: { type: 'number', minimum: 0, default: 30 },
      trendSize: { type: 'integer', minimum: 1, maximum: 100, default: 12 },
    },
  };
  readonly outputs = ['drill', 'figures'];

  constructor(
    private readonly runs: RunReader,
    private readonly clock: Clock,
  ) {}

  async run(input: Input, ctx: StepContext) {
    const children = await this.runs.children(ctx.runId);
    const objectives = evaluateObjectives(
      children.map((c) => ({ runId: c.id, runbookId: c.runbookId, state: c.state, report: c.report as unknown as RunReport | null })),
      input,
    );
    const me = await this.runs.get(ctx.runId);
    const previous = (await this.runs.endedWithReports(ctx.runbookId, input.trendSize))
      .filter((r) => r.id !== ctx.runId)
      .slice(0, input.trendSize - 1)
      .reverse()
      .flatMap((r) => {
        const d = readDrillEvidence((r.report as unknown as RunReport | null)?.drill);
        return d ? [trendEntry(r.id, (r.startedAt ?? r.createdAt).toISOString(), r.state, d.objectives)] : [];
      });
    const mine = trendEntry(ctx.runId, (me?.startedAt ?? this.clock.now()).toISOString(), me?.outcome ?? 'running', objectives);
    const met = objectives.filter((o) => o.status === 'pass').length;
    return done({
      drill: { objectives, trend: [...previous, mine] },
      figures: [{ id: 'objectives-met', label: 'DR objectives met', value: `${met} of ${objectives.length}` }],
    });
  }

  summarize(o: { drill: DrillEvidence }): string {
    const d = o.drill;
    return `${d.objectives.filter((x) => x.status === 'pass').length}/${d.objectives.length} objectives met; trend over ${d.trend.length} drill(s)`;
  }
}
