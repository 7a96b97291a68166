import { redact, redactValues } from '../common/redact';
import { secretKeysOf, secretValuesOf } from '../runbooks/runbook-catalog.service';
import type { RunbookDefinition } from '../model/runbook.types';
import type { StepResultRecord } from '../model/run.types';

/**
 * Everything a run shows outside the database (API views, reports, audit data, AWS call records)
 * passes through this: keys that name a secret, the runbook's `writeOnly` parameters, and those
 * parameters' values wherever they turn up (a secret handed on to a step sits under other keys).
 */
export class RunRedactor {
  private readonly keys: ReadonlySet<string>;
  readonly values: readonly string[];

  constructor(definition: RunbookDefinition, parameters: Record<string, unknown> | null | undefined) {
    this.keys = secretKeysOf(definition);
    this.values = secretValuesOf(definition, parameters);
  }

  apply<T>(value: T): T {
    return redactValues(redact(value, this.keys), this.values);
  }
}

export function redactorFor(run: { definition: RunbookDefinition; parameters: Record<string, unknown> }): RunRedactor {
  return new RunRedactor(run.definition, run.parameters);
}

/**
 * A step's row as it is stored: never a secret in plain text. The input (never read back to run
 * the step) is redacted like the audit; output, error and note only where a secret value turns
 * up, so a later step resumed from the stored output still sees its other fields.
 */
export function storedStep(row: StepResultRecord, redactor: RunRedactor): StepResultRecord {
  return {
    ...row,
    input: redactor.apply(row.input),
    output: redactValues(row.output, redactor.values),
    error: redactValues(row.error, redactor.values),
    note: redactValues(row.note, redactor.values),
  };
}
