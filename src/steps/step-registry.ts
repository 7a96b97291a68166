import type { StepDefinitionLike, StepType } from './step.contract';

/**
 * Every step type the engine can run, by `uses`. Built once at boot from `steps/step-catalog.ts`;
 * a mutating step without `plan` is a programming error and stops boot, as does a runbook
 * naming a type that is not here.
 */
export class StepRegistry {
  private readonly byUses = new Map<string, StepType<any, any>>();

  constructor(types: ReadonlyArray<StepType<any, any>>) {
    for (const t of types) {
      if (this.byUses.has(t.uses)) throw new Error(`step type ${t.uses} is registered twice`);
      if (t.mutates && typeof t.plan !== 'function') throw new Error(`step type ${t.uses} mutates but has no plan() for dry-run`);
      this.byUses.set(t.uses, t);
    }
  }

  get(uses: string): StepType<any, any> | undefined {
    return this.byUses.get(uses);
  }

  /**
   * The step type as one definition uses it. Generic steps (`aws.call`) take what a fixed step
   * type declares in code (whether it mutates, its outputs) from the definition instead; every
   * other type is the same for all definitions.
   */
  forStep(def: StepDefinitionLike): StepType<any, any> | undefined {
    const type = this.byUses.get(def.uses);
    return type?.forDefinition ? type.forDefinition(def) : type;
  }

  names(): string[] {
    return [...this.byUses.keys()].sort();
  }
}
