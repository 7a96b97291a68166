import type { PlannedCall, StepDefinition, StepView } from '../api/types';
import { Time } from '../clock';
import { duration, Json, StateBadge } from './common';

/** The exact AWS calls a step said it would make (dry run) or the ones it made, as recorded. */
function plannedCallsOf(step: StepView | undefined): PlannedCall[] {
  const calls = step?.output?.plannedCalls;
  return Array.isArray(calls) ? (calls as PlannedCall[]) : [];
}

/**
 * Every step of the runbook, in order, with what the run recorded for it: the ones not reached
 * yet are listed too (state "not reached"), so the whole plan is always visible.
 */
export function StepsTable({
  definition,
  cleanup,
  recorded,
  dryRunPlan,
  definitionOnly,
}: {
  definition: StepDefinition[];
  cleanup?: StepDefinition[];
  recorded: StepView[];
  dryRunPlan?: boolean;
  definitionOnly?: boolean;
}) {
  const rows: Array<{ def: StepDefinition | undefined; phase: 'main' | 'cleanup'; step: StepView | undefined; id: string }> = [];
  const seen = new Set<string>();
  for (const [phase, defs] of [
    ['main', definition],
    ['cleanup', cleanup ?? []],
  ] as const) {
    for (const def of defs) {
      const step = recorded.find((s) => s.id === def.id && s.phase === phase);
      rows.push({ def, phase, step, id: def.id });
      seen.add(`${phase}/${def.id}`);
    }
  }
  // Steps recorded that the definition does not list (e.g. a definition changed since).
  for (const s of recorded) if (!seen.has(`${s.phase}/${s.id}`)) rows.push({ def: undefined, phase: s.phase, step: s, id: s.id });

  return (
    <ol className="steps" aria-label={dryRunPlan ? 'Plan' : definitionOnly ? 'Runbook steps' : 'Steps'}>
      {rows.map(({ def, phase, step, id }) => {
        const calls = plannedCallsOf(step);
        const state = step?.state ?? 'not-reached';
        return (
          <li key={`${phase}/${id}`} className={`step step-${state}`} data-step={id} data-state={state}>
            <div className="step-head">
              {!definitionOnly && <StateBadge state={state === 'not-reached' ? 'not reached' : state} />}
              <strong>{def?.name ?? id}</strong>
              <code className="muted">{def?.uses ?? step?.uses}</code>
              {phase === 'cleanup' && <span className="tag">cleanup</span>}
              {step?.mutates && <span className="tag tag-warn">changes AWS</span>}
              {def?.if && <span className="tag">only if {def.if.replace(/^\$\{\{\s*|\s*\}\}$/g, '')}</span>}
            </div>
            {step && (
              <div className="step-meta muted">
                attempts {step.attempts} · started <Time at={step.startedAt} /> · took {duration(step.durationMs)}
                {step.note && <> · {step.note}</>}
              </div>
            )}
            {calls.length > 0 && (
              <div className="calls">
                <div className="calls-title">{dryRunPlan || step?.state === 'planned' ? 'Would call' : 'Calls'}</div>
                <ul>
                  {calls.map((c, i) => (
                    <li key={i} className="call">
                      <code className="call-op">
                        {c.service}:{c.operation}
                      </code>
                      {c.region && <span className="muted"> in {c.region}</span>}
                      <Json value={c.input} label={`${c.service} ${c.operation} input`} />
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {step?.error && (
              <div className="error" role="note">
                <code className="error-code">{step.error.code}</code> {step.error.message}
              </div>
            )}
            {(step || def?.with) && (
              <details>
                <summary>Inputs and outputs</summary>
                <div className="io">
                  <div>
                    <h3>Input{step ? '' : ' (as written in the runbook)'}</h3>
                    <Json value={step ? step.input : def?.with} label={`${id} input`} />
                  </div>
                  {step && (
                    <div>
                      <h3>Output</h3>
                      <Json value={step.output} label={`${id} output`} />
                    </div>
                  )}
                </div>
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}
