import type { StepTypeCatalog } from './step-type-catalog';
import { isTruthy } from './expressions';
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
export function withApprovalGates(def: RunbookDefinition, registry: StepTypeCatalog): RunbookDefinition {
  const gateTimeout = (spec: ApprovalSpec | Record<string, unknown>) =>
    `${(parseDuration(String((spec as ApprovalSpec).timeout ?? DEFAULT_APPROVAL_TIMEOUT)) ?? 0) + GATE_STEP_MARGIN_S}s`;
  let steps: StepDefinition[] = def.steps.map((s) => (s.uses === APPROVE_STEP && s.timeout === undefined ? { ...s, timeout: gateTimeout(s.with) } : s));
  if (def.approval) {
    const first = steps.findIndex((s) => registry.get(s.uses)?.mutates);
    if (first >= 0) {
      const gate: StepDefinition = {
        id: steps.some((s) => s.id === RUNBOOK_GATE_ID) ? `${RUNBOOK_GATE_ID}-gate` : RUNBOOK_GATE_ID,
        name: 'Approval before the first change',
        uses: APPROVE_STEP,
        with: { ...def.approval },
        timeout: gateTimeout(def.approval),
      };
      steps = [...steps.slice(0, first), gate, ...steps.slice(first)];
    }
  }
  return { ...def, steps };
}

/** A runbook's risk as the approval rules see it: its own `risk:`, else medium when a step changes anything, else low. */
export function runbookRisk(def: RunbookDefinition, registry: StepTypeCatalog): 'low' | 'medium' | 'high' {
  if (def.risk) return def.risk;
  return [...def.steps, ...def.cleanup].some((s) => registry.forStep(s)?.mutates || registry.forStep(s)?.startsRuns) ? 'medium' : 'low';
}

/**
 * The definition one run is recorded with when the policy's rules ask for approval: the
 * runbook's own gate (`approval:`) waits whatever its `when` says, for at least the rules'
 * count; a runbook without one gets a gate before its first mutating step. Nothing changes
 * when no rule held, so the definition stays the catalog's.
 */
export function withRequiredApproval(def: RunbookDefinition, registry: StepTypeCatalog, reasons: NonNullable<ApprovalSpec['requiredBy']>): RunbookDefinition {
  if (reasons.length === 0) return def;
  const min = reasons.reduce((n, r) => Math.max(n, r.minApprovals), 1);
  const raise = (spec: Record<string, unknown>) => ({ ...spec, requiredBy: reasons, minApprovals: Math.max(Number(spec.minApprovals ?? 1), min) });
  // Children of a parent run are accepted (and asked about) on their own, so only steps that change AWS count here.
  const first = def.steps.findIndex((s) => registry.forStep(s)?.mutates);
  if (first < 0) return def;
  // The gate that guards the first change: the runbook's own when it stands right before it.
  const before = def.steps[first - 1];
  if (before?.uses === APPROVE_STEP) {
    return { ...def, steps: def.steps.map((s, i) => (i === first - 1 ? { ...s, with: raise(s.with ?? {}) } : s)) };
  }
  const gate: StepDefinition = {
    id: def.steps.some((s) => s.id === RUNBOOK_GATE_ID) ? `${RUNBOOK_GATE_ID}-policy` : RUNBOOK_GATE_ID,
    name: 'Approval the policy asks for',
    uses: APPROVE_STEP,
    with: raise({ timeout: DEFAULT_APPROVAL_TIMEOUT }),
    timeout: `${(parseDuration(DEFAULT_APPROVAL_TIMEOUT) ?? 0) + GATE_STEP_MARGIN_S}s`,
  };
  return { ...def, steps: [...def.steps.slice(0, first), gate, ...def.steps.slice(first)] };
}

/** `when` as resolved: absent → needed; `{ value, in }` → value is one of them; anything else → truthy. */
export function approvalNeeded(when: ApprovalSpec['when']): boolean {
  if (when === undefined) return true;
  if (when !== null && typeof when === 'object' && Array.isArray((when as { in?: unknown }).in)) {
    const w = when;
    return w.value !== undefined && w.in.includes(w.value);
  }
  return isTruthy(when);
}
