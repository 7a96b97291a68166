import { redact, redactValues } from '../common/redact';
import { secretKeysOf, secretValuesOf } from '../runbooks/runbook-catalog.service';
import type { RunbookDefinition } from '../runbooks/runbook.types';

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
