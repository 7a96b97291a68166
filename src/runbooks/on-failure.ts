import type { StepDefinition } from '../model/runbook.types';

/**
 * What a failed step does to its phase: `fail` ends it (the default, and the only behaviour
 * before per-step settings), `continue` goes on with the next step, `step:<id>` goes on with a
 * later step of the same phase, skipping the ones between. Only forward jumps are allowed, so a
 * run can never loop.
 */
export type FailureDecision = { kind: 'fail' } | { kind: 'continue' } | { kind: 'jump'; to: string; index: number };

const STEP_TARGET = /^step:([a-z][a-z0-9-]{0,62})$/;

/** The decision for a step that has failed, at `index` in its phase's `list`. Pure: the executor records it. */
export function decideOnFailure(
  def: Pick<StepDefinition, 'onFailure' | 'continueOnFailure'>,
  list: ReadonlyArray<Pick<StepDefinition, 'id'>>,
  index: number,
): FailureDecision {
  const setting = def.onFailure ?? (def.continueOnFailure ? 'continue' : 'fail');
  if (setting === 'continue') return { kind: 'continue' };
  const m = STEP_TARGET.exec(setting);
  if (m) {
    const to = list.findIndex((s) => s.id === m[1]);
    // The loader refuses anything else; a definition changed under a running run fails safe.
    if (to > index) return { kind: 'jump', to: m[1], index: to };
  }
  return { kind: 'fail' };
}

/**
 * Steps a recorded jump passed over: for each failed step whose decision is a jump, those
 * strictly between it and its target. The executor records them `skipped` (on resume too, since
 * this is computed from the records alone).
 */
export function jumpedOver(
  list: ReadonlyArray<Pick<StepDefinition, 'id' | 'onFailure' | 'continueOnFailure'>>,
  failed: (stepId: string) => boolean,
): Map<string, string> {
  const out = new Map<string, string>();
  list.forEach((def, i) => {
    if (!failed(def.id)) return;
    const d = decideOnFailure(def, list, i);
    if (d.kind === 'jump') for (const s of list.slice(i + 1, d.index)) if (!out.has(s.id)) out.set(s.id, def.id);
  });
  return out;
}

/** Load-time problems with a step's onFailure / continueOnFailure, paths relative to the step. */
export function onFailureProblems(
  def: Pick<StepDefinition, 'id' | 'onFailure' | 'continueOnFailure'>,
  list: ReadonlyArray<Pick<StepDefinition, 'id'>>,
  index: number,
  phase: 'preflight' | 'steps' | 'cleanup',
): Array<{ path: string; reason: string }> {
  const problems: Array<{ path: string; reason: string }> = [];
  if (phase === 'preflight') {
    problems.push({ path: def.onFailure !== undefined ? 'onFailure' : 'continueOnFailure', reason: 'a failed preflight step always refuses the request' });
    return problems;
  }
  if (phase === 'cleanup') {
    problems.push({
      path: def.onFailure !== undefined ? 'onFailure' : 'continueOnFailure',
      reason: 'every cleanup step runs whatever the others did; a failed one fails the run',
    });
    return problems;
  }
  if (def.onFailure !== undefined && def.continueOnFailure !== undefined && (def.onFailure === 'continue') !== def.continueOnFailure) {
    problems.push({ path: 'continueOnFailure', reason: `contradicts onFailure: ${def.onFailure}` });
  }
  if (def.onFailure === undefined) return problems;
  if (def.onFailure === 'fail' || def.onFailure === 'continue') return problems;
  const m = STEP_TARGET.exec(def.onFailure);
  if (!m) {
    problems.push({ path: 'onFailure', reason: `must be fail, continue or step:<id>, not "${def.onFailure}"` });
    return problems;
  }
  const to = list.findIndex((s) => s.id === m[1]);
  if (to < 0) problems.push({ path: 'onFailure', reason: `no step "${m[1]}" in ${phase} (steps: ${list.map((s) => s.id).join(', ')})` });
  else if (to <= index) problems.push({ path: 'onFailure', reason: `step "${m[1]}" is not after this one: a failure may only jump forward` });
  return problems;
}
