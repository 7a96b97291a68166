import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { StepTypeCatalog } from '../runbooks/step-type-catalog';
import type { StepDefinitionLike, StepType } from './step.contract';

/**
 * Every step type the engine can run, by `uses`. Built once at boot from `steps/step-catalog.ts`;
 * a mutating step without `plan`, or an input schema that does not compile, is a programming
 * error and stops boot, as does a runbook naming a type that is not here. Each input schema is
 * compiled here, once: the executor and preflight check inputs with the same validators.
 */
export class StepRegistry implements StepTypeCatalog {
  private readonly byUses = new Map<string, StepType<any, any>>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(types: ReadonlyArray<StepType<any, any>>) {
    // useDefaults: an input's defaults are filled in before the step sees it.
    const ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true }));
    for (const t of types) {
      if (this.byUses.has(t.uses)) throw new Error(`step type ${t.uses} is registered twice`);
      if (t.mutates && typeof t.plan !== 'function') throw new Error(`step type ${t.uses} mutates but has no plan() for dry-run`);
      try {
        this.validators.set(t.uses, ajv.compile(t.input));
      } catch (err) {
        throw new Error(`step type ${t.uses}: its input schema does not compile: ${(err as Error).message}`, { cause: err });
      }
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

  /**
   * Checks a resolved input against its type's schema, filling in its defaults: the problems as
   * `<pointer> <message>`, none when it is valid. A type that is not registered is refused.
   */
  checkInput(uses: string, input: unknown): string[] {
    const validate = this.validators.get(uses);
    if (!validate) return [`(input) step type ${uses} is not registered`];
    if (validate(input)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(input)'} ${e.message}`);
  }

  /**
   * The schema's own errors for an input, for the loader, which checks the literal values of a
   * `with:` block at load and must tell an expression's placeholder from a wrong literal. The
   * input is copied: validating fills in defaults.
   */
  inputErrors(uses: string, input: unknown): ErrorObject[] {
    const validate = this.validators.get(uses);
    if (!validate || validate(structuredClone(input))) return [];
    return [...(validate.errors ?? [])];
  }

  isGeneric(uses: string): boolean {
    return typeof this.byUses.get(uses)?.forDefinition === 'function';
  }

  names(): string[] {
    return [...this.byUses.keys()].sort();
  }
}
