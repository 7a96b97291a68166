import type { ApprovalSpec, RunbookDefinition, StepDefinition } from '../model/runbook.types';
import { APPROVE_STEP } from '../runbooks/approval-gate';

/** The id of a fleet parent's recorded target list (a step result, position -1) and of its one step. */
export const FLEET_TARGETS_STEP = 'targets';
export const FLEET_RUN_STEP = 'fleet';
/** The fleet's one approval gate, before its first child. */
export const FLEET_GATE_STEP = 'approval';
/** The gate outlives its approval's timeout a little, so expiry (not a step timeout) ends it. */
const GATE_MARGIN_S = 300;

/**
 * A fleet's parent run is a run of the runbook with a definition derived from it: one step
 * (`fleet.run`) that starts a child run of the runbook per target. The children carry the
 * runbook's own guards, preflight, approval and cleanup; the parent has only its timeout, and
 * the parameter schema's properties (so writeOnly common parameters stay sealed and redacted),
 * with nothing required: the binding supplies each target's identity.
 */
export function fleetDefinition(
  def: RunbookDefinition,
  timeoutSeconds: number,
  approval?: { spec: Omit<ApprovalSpec, 'fleet'>; timeoutSeconds: number },
): RunbookDefinition {
  const schema = def.parameters as { properties?: Record<string, unknown> };
  // One approval for the fleet: what is approved includes the recorded list with each target's plan hash.
  const gate: StepDefinition[] = approval
    ? [
        {
          id: FLEET_GATE_STEP,
          uses: APPROVE_STEP,
          name: 'One approval for every target',
          timeout: `${approval.timeoutSeconds + GATE_MARGIN_S}s`,
          with: { ...approval.spec, fleet: `\${{ steps.${FLEET_TARGETS_STEP}.approval }}` },
        },
      ]
    : [];
  const total = timeoutSeconds + (approval ? approval.timeoutSeconds + GATE_MARGIN_S : 0);
  return {
    id: def.id,
    title: `${def.title} (fleet)`,
    ...(def.description ? { description: def.description } : {}),
    parameters: { type: 'object', properties: schema.properties ?? {} },
    guards: { timeout: `${total}s` },
    preflight: [],
    steps: [
      ...gate,
      {
        id: FLEET_RUN_STEP,
        uses: 'fleet.run',
        name: 'Run every target under maxConcurrency and maxErrors',
        timeout: `${timeoutSeconds}s`,
        with: { runbook: def.id, parameters: '${{ params }}', fleet: `\${{ steps.${FLEET_TARGETS_STEP} }}` },
      },
    ],
    cleanup: [],
    triggers: def.triggers,
    ...(def.notify ? { notify: def.notify } : {}),
    ...(def.risk ? { risk: def.risk } : {}),
    fleet: def.fleet,
  };
}
