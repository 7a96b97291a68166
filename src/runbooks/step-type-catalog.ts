import type { ErrorObject } from 'ajv';
import type { StepDefinitionLike, StepMetadata } from '../model/step-metadata.types';

/**
 * What loading and checking runbooks needs of the step types: what each says about itself, by
 * `uses`, and its input schema's verdict on literal values. The step registry (steps/, a layer
 * above) implements it, so runbooks/ knows no step type and imports nothing of steps/. An
 * abstract class so Nest can inject it by this token.
 */
export abstract class StepTypeCatalog {
  abstract get(uses: string): StepMetadata | undefined;
  /** The type as one definition uses it (generic steps take `mutates:` and `outputs:` from it). */
  abstract forStep(def: StepDefinitionLike): StepMetadata | undefined;
  /** A generic type (aws.*): each definition says what it mutates and outputs; a fixed type says it in code. */
  abstract isGeneric(uses: string): boolean;
  abstract names(): string[];
  /** The input schema's errors for a value (copied: validating fills in defaults); none when valid. */
  abstract inputErrors(uses: string, input: unknown): ErrorObject[];
}
