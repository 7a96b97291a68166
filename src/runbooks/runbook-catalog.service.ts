import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { isSecretEnvelope } from '../common/secret-envelope';
import { AppConfig } from '../config/app.config';
import { describeAjvError, loadRunbooks, pointerToPath } from './runbook-loader';
import { DefinitionProblem, definitionError, RunbookError } from './runbook.error';
import { StepTypeCatalog } from './step-type-catalog';
import type { LoadedRunbook, RunbookDefinition } from '../model/runbook.types';

interface Entry {
  loaded: LoadedRunbook;
  validate: ValidateFunction;
}

/** The runbooks this process serves, loaded and fully checked at boot (a bad file stops boot). */
@Injectable()
export class RunbookCatalog implements OnModuleInit {
  private readonly logger = new Logger('Runbooks');
  private entries = new Map<string, Entry>();

  constructor(
    private readonly config: AppConfig,
    private readonly steps: StepTypeCatalog,
  ) {}

  onModuleInit(): void {
    const loaded = loadRunbooks(this.config.runbooks.dir, this.steps);
    // verbose: errors carry the schema they failed, so a oneOf of `required` lists can be said plainly.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
    addFormats(ajv);
    this.entries = new Map(
      loaded.map((l) => [
        l.definition.id,
        { loaded: l, validate: ajv.compile(l.definition.parameters) },
      ]),
    );
    // A schedule whose parameters the runbook refuses would be refused at every tick: stop boot instead.
    const problems = scheduleParameterProblems(loaded, (l) => this.entries.get(l.definition.id)!.validate);
    if (problems.length > 0) throw definitionError(problems);
    this.logger.log(`loaded ${loaded.length} runbook(s) from ${this.config.runbooks.dir}: ${[...this.entries.keys()].join(', ')}`);
  }

  list(): LoadedRunbook[] {
    return [...this.entries.values()].map((e) => e.loaded);
  }

  get(id: string): LoadedRunbook {
    const e = this.entries.get(id);
    if (!e) throw new RunbookError('RUNBOOK_NOT_FOUND', `no runbook "${id}"`, { runbookId: id, known: [...this.entries.keys()] });
    return e.loaded;
  }

  /** Checks parameters against the runbook's schema; returns them with schema defaults filled in. */
  validateParameters(id: string, parameters: unknown): Record<string, unknown> {
    const e = this.entries.get(id);
    if (!e) throw new RunbookError('RUNBOOK_NOT_FOUND', `no runbook "${id}"`, { runbookId: id });
    const copy = structuredClone(parameters ?? {});
    if (!e.validate(copy)) {
      const errors = describeParameterErrors(e.validate.errors ?? []);
      throw new RunbookError(
        'PARAMETERS_INVALID',
        `invalid parameters for ${id}: ${errors.map((x) => `${x.field}: ${x.message}`).join('; ')}`,
        { errors },
      );
    }
    return copy as Record<string, unknown>;
  }

}

/**
 * Schedule triggers whose parameters the runbook's own schema refuses. Shared with the CLI's
 * offline `validate`, so it finds every problem boot would.
 */
export function scheduleParameterProblems(loaded: readonly LoadedRunbook[], validatorFor: (l: LoadedRunbook) => ValidateFunction = parameterValidator): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  for (const l of loaded) {
    const validate = validatorFor(l);
    l.definition.triggers.forEach((t, i) => {
      if (!('schedule' in t)) return;
      const copy = structuredClone(t.schedule.parameters ?? {});
      if (validate(copy)) return;
      for (const e of describeParameterErrors(validate.errors ?? [])) {
        problems.push({ file: l.file, path: `triggers[${i}].schedule.parameters`, reason: `${e.field}: ${e.message}` });
      }
    });
  }
  return problems;
}

/** verbose: errors carry the schema they failed, so a oneOf of `required` lists can be said plainly. */
function parameterValidator(l: LoadedRunbook): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  addFormats(ajv);
  return ajv.compile(l.definition.parameters);
}

/**
 * One entry per bad field, in words a caller can act on. A oneOf/anyOf whose branches only list
 * required properties ("cluster or instance") becomes "give exactly one of: a, b" instead of
 * ajv's branch-by-branch failures.
 */
export function describeParameterErrors(raw: readonly ErrorObject[]): Array<{ field: string; message: string }> {
  const choices = raw.filter((err) => (err.keyword === 'oneOf' || err.keyword === 'anyOf') && requiredOnlyBranches(err.schema));
  const hidden = (err: ErrorObject) => choices.some((c) => err !== c && err.schemaPath.startsWith(`${c.schemaPath}/`));
  // "must match \"then\" schema" only repeats what the errors inside the `then` already say.
  const echoesThen = (err: ErrorObject) => err.keyword === 'if' && raw.some((o) => o.schemaPath.startsWith(err.schemaPath.replace(/\/if$/, '/then')));
  return raw
    .filter((err) => !hidden(err) && !echoesThen(err))
    .map((err) => {
      const base = pointerToPath(err.instancePath);
      const p = err.params as Record<string, unknown>;
      if (choices.includes(err)) {
        const options = (err.schema as Array<{ required: string[] }>).map((b) => b.required.join(' + ')).join(', ');
        return { field: base || '(parameters)', message: `give ${err.keyword === 'oneOf' ? 'exactly one' : 'at least one'} of: ${options}` };
      }
      const field = err.keyword === 'required' ? [base, p.missingProperty].filter(Boolean).join('.')
        : err.keyword === 'additionalProperties' ? [base, p.additionalProperty].filter(Boolean).join('.')
        : base || '(parameters)';
      return { field, message: describeAjvError(err) };
    });
}

function requiredOnlyBranches(schema: unknown): boolean {
  return Array.isArray(schema) && schema.length > 0 && schema.every((b) => b && typeof b === 'object' && Object.keys(b).length === 1 && Array.isArray((b as { required?: unknown }).required));
}

/** Parameters the runbook marks `writeOnly: true` are secrets. */
export function secretKeysOf(def: RunbookDefinition): Set<string> {
  const keys = new Set<string>();
  walkSchema(def.parameters, undefined, (key) => keys.add(key), () => undefined);
  return keys;
}

/** The values of a run's secret parameters (every string inside them), which redaction hides wherever they turn up. */
export function secretValuesOf(def: RunbookDefinition, parameters: Record<string, unknown> | null | undefined): string[] {
  const out: string[] = [];
  const collect = (v: unknown): void => {
    // A sealed value (an envelope) holds ciphertext, not the secret: nothing of it to hide.
    if (isSecretEnvelope(v)) return;
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'bigint') out.push(String(v));
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(collect);
  };
  walkSchema(def.parameters, parameters ?? undefined, () => undefined, (v) => collect(v));
  return out;
}

/**
 * A copy of `parameters` with every `writeOnly` value (at any depth) replaced by `fn(value)`: how
 * secrets are sealed before a run is stored and opened for its executor. A value reached twice
 * (the same property in two oneOf branches) is passed to `fn` again, so `fn` must leave its own
 * results alone.
 */
export function mapSecretValues(def: RunbookDefinition, parameters: Record<string, unknown>, fn: (v: unknown) => unknown): Record<string, unknown> {
  const copy = structuredClone(parameters ?? {});
  walkSchema(def.parameters, copy, () => undefined, (v, set) => set(fn(v)));
  return copy;
}

interface SchemaNode {
  writeOnly?: boolean;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode | SchemaNode[];
  additionalProperties?: SchemaNode | boolean;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

/**
 * Finds `writeOnly` properties at any depth (inside object parameters, array items and
 * oneOf/anyOf/allOf branches), with the value the parameters hold there: a secret nested in an
 * object parameter is as secret as a top-level one.
 */
function walkSchema(schema: unknown, value: unknown, onKey: (key: string) => void, onValue: (v: unknown, set: (next: unknown) => void) => void): void {
  if (schema === null || typeof schema !== 'object') return;
  const s = schema as SchemaNode;
  for (const branch of [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])]) walkSchema(branch, value, onKey, onValue);
  const obj = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  for (const [k, sub] of Object.entries(s.properties ?? {})) {
    if (sub?.writeOnly === true) {
      onKey(k);
      if (obj && obj[k] !== undefined) onValue(obj[k], (next) => { obj[k] = next; });
    } else {
      walkSchema(sub, obj?.[k], onKey, onValue);
    }
  }
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    const known = new Set(Object.keys(s.properties ?? {}));
    const extra = s.additionalProperties;
    const unknownEntries = Object.entries(obj ?? {}).filter(([k]) => !known.has(k));
    if (extra.writeOnly === true) {
      for (const [k, v] of unknownEntries) onValue(v, (next) => { obj![k] = next; });
    } else {
      for (const [, v] of unknownEntries) walkSchema(extra, v, onKey, onValue);
      if (!obj) walkSchema(extra, undefined, onKey, onValue);
    }
  }
  if (s.items) {
    const itemSchemas = Array.isArray(s.items) ? s.items : null;
    const list = Array.isArray(value) ? value : [undefined];
    list.forEach((v, i) => {
      const item = itemSchemas ? itemSchemas[i] : (s.items as SchemaNode);
      if (!item) return;
      if (item.writeOnly === true) {
        if (v !== undefined) onValue(v, (next) => { (value as unknown[])[i] = next; });
      } else {
        walkSchema(item, v, onKey, onValue);
      }
    });
  }
}
