import type { StepRegistry } from '../steps/step-registry';
import { parseDuration } from './duration';
import type { ApprovalSpec, RunbookDefinition, StepDefinition } from '../model/runbook.types';

export const APPROVE_STEP = 'core.approve';
/** Id of the gate step a runbook-level `approval:` becomes. */
export const RUNBOOK_GATE_ID = 'approval';
export const DEFAULT_APPROVAL_TIMEOUT = '4h';
/** The gate step outlives its approval's timeout a little, so expiry (not a step timeout) ends it. */
const GATE_STEP_MARGIN_S = 300;

/**
 * A runbook-level `approval:` becomes a `core.approve` step placed before the first main step
 * that changes anything, so the executor needs no gate of its own: the run's record, the report's
 * timeline and a resumed run all see the gate as the step it is. `core.approve` steps written by
 * hand get a step timeout that outlasts their approval timeout.
 */
export function withApprovalGates(def: RunbookDefinition, registry: StepRegistry): RunbookDefinition {
  const gateTimeout = (spec: ApprovalSpec | Record<string, unknown>) =>
    `${(parseDuration(String((spec as ApprovalSpec).timeout ?? DEFAULT_APPROVAL_TIMEOUT)) ?? 0) + GATE_STEP_MARGIN_S}s`;
  let steps: StepDefinition[] = def.steps.map((s) => (s.uses === APPROVE_STEP && s.timeout === undefined ? { ...s, timeout: gateTimeout(s.with) } : s));
  if (def.approval) {
    const first = steps.findIndex((s) => registry.get(s.uses)?.mutates);
    if (first >= 0) {
      const gate: StepDefinition = {
        id: steps.some((s) => s.id === RUNBOOK_GATE_ID) ? `${RUNBOOK_GATE_ID}-gate` : RUNBOOK_GATE_ID, name: 'Approval before the first change', uses: APPROVE_STEP,
        with: { ...def.approval } as Record<string, unknown>, timeout: gateTimeout(def.approval),
      };
      steps = [...steps.slice(0, first), gate, ...steps.slice(first)];
    }
  }
  return { ...def, steps };
}
