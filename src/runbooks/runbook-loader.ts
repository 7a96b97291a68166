import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import Ajv, { ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { AWS_SERVICES } from '../aws/aws-services';
import { cronProblem } from './cron-ticks';
import { withApprovalGates } from './approval-gate';
import { parseDuration } from './duration';
import { ALARM_EXPRESSION_FIELDS, ExpressionSyntaxError, expressionsDeep, isSingleExpression, ParsedExpression } from './expressions';
import { onFailureProblems } from './on-failure';
import type { StepTypeCatalog } from './step-type-catalog';
import { DefinitionProblem, definitionError } from './runbook.error';
import type { LoadedRunbook, RunbookDefinition, StepDefinition } from '../model/runbook.types';

/**
 * Reads every `*.yaml` in the runbooks folder and checks it completely: the JSON Schema in
 * `schema.json`, then what a schema cannot say (step types exist, expression paths lead
 * somewhere, parameter schemas compile). All problems in all files are reported together.
 */
/** The schema ships with runbookd (next to the bundled runbooks), whatever folder runbooks load from. */
export const RUNBOOK_SCHEMA_FILE = path.resolve(__dirname, '..', '..', 'runbooks', 'schema.json');

export function loadRunbooks(dir: string, registry: StepTypeCatalog, schemaFile = RUNBOOK_SCHEMA_FILE): LoadedRunbook[] {
  let schema: object;
  try {
    schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
  } catch (err) {
    throw definitionError([{ file: schemaFile, path: '', reason: `cannot read the runbook schema: ${(err as Error).message}` }]);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validateShape = ajv.compile(withShippedServices(schema));
  const problems: DefinitionProblem[] = [];
  const loaded: LoadedRunbook[] = [];
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();

  for (const name of files) {
    const file = path.join(dir, name);
    const text = readFileSync(file, 'utf8');
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const at = e.linePos?.[0];
        problems.push({ file, path: at ? `line ${at.line}, column ${at.col}` : '', reason: e.message.split('\n')[0] });
      }
      continue;
    }
    const value = doc.toJS() as unknown;
    if (!validateShape(value)) {
      // An `if` keyword's own error only repeats the errors of its `then` branch, which are listed.
      for (const e of validateShape.errors ?? [])
        if (e.keyword !== 'if') problems.push({ file, path: pointerToPath(e.instancePath), reason: describeAjvError(e) });
      continue;
    }
    const checked = normalise(value as RunbookDefinition);
    const before = problems.length;
    checkSemantics(checked, file, registry, problems);
    // After the checks, so problems name steps by their place in the file, not after the gate.
    const def = withApprovalGates(checked, registry);
    if (path.basename(name).replace(/\.ya?ml$/, '') !== def.id) {
      problems.push({ file, path: 'id', reason: `id "${def.id}" must match the file name (${def.id}.yaml)` });
    }
    const dup = loaded.find((l) => l.definition.id === def.id);
    if (dup) problems.push({ file, path: 'id', reason: `id "${def.id}" is also used by ${dup.file}` });
    if (problems.length === before) {
      loaded.push({ definition: def, file, digest: createHash('sha256').update(text).digest('hex') });
    }
  }
  // A composite step naming a runbook that is not loaded would fail every run: say so at boot.
  const ids = new Set(loaded.map((l) => l.definition.id));
  // Child names are static (an expression lets a caller pick any runbook, itself
  // included) and the composite graph has no cycle (a runbook starting itself never ends).
  const children = new Map<string, string[]>();
  for (const l of loaded) {
    const list: string[] = [];
    children.set(l.definition.id, list);
    [...(l.definition.preflight ?? []), ...l.definition.steps, ...l.definition.cleanup].forEach((s) => {
      if (s.uses !== 'runbook.run') return;
      const child = s.with?.runbook;
      if (typeof child !== 'string' || child.includes('${{')) {
        problems.push({ file: l.file, path: `steps.${s.id}.with.runbook`, reason: 'a child runbook must be named literally, not by an expression' });
      } else if (!ids.has(child)) {
        problems.push({ file: l.file, path: `steps.${s.id}.with.runbook`, reason: `no runbook "${child}" is loaded (loaded: ${[...ids].join(', ')})` });
      } else {
        list.push(child);
      }
    });
  }
  for (const cycle of compositeCycles(children)) {
    const l = loaded.find((x) => x.definition.id === cycle[0])!;
    problems.push({ file: l.file, path: 'steps', reason: `runbooks start each other without end: ${cycle.join(' → ')}` });
  }
  if (problems.length > 0) throw definitionError(problems);
  return loaded;
}

/** Each cycle once, as the path from its first runbook back to it. */
function compositeCycles(children: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (id: string, stack: string[]) => {
    const at = stack.indexOf(id);
    if (at >= 0) {
      cycles.push([...stack.slice(at), id]);
      return;
    }
    if (done.has(id)) return;
    stack.push(id);
    for (const c of children.get(id) ?? []) visit(c, stack);
    stack.pop();
    done.add(id);
  };
  for (const id of children.keys()) visit(id, []);
  return cycles;
}

function normalise(def: RunbookDefinition): RunbookDefinition {
  const params = (def.parameters ?? { type: 'object', properties: {} }) as Record<string, unknown>;
  // A misspelt parameter should be refused, not silently ignored, unless the author says otherwise.
  if (!('additionalProperties' in params)) params.additionalProperties = false;
  if (!('type' in params)) params.type = 'object';
  const step = (s: StepDefinition): StepDefinition => ({ ...s, with: s.with ?? {} });
  return {
    ...def,
    parameters: params,
    guards: def.guards ?? {},
    preflight: (def.preflight ?? []).map(step),
    steps: def.steps.map(step),
    cleanup: (def.cleanup ?? []).map(step),
    triggers: def.triggers ?? [{ manual: {} }],
  };
}

/** What `${{ defaults.* }}` offers (the executor and preflight fill them from the configuration). */
const DEFAULTS_FIELDS = ['region'];

function checkSemantics(def: RunbookDefinition, file: string, registry: StepTypeCatalog, problems: DefinitionProblem[]): void {
  const add = (p: string, reason: string) => problems.push({ file, path: p, reason });
  const paramNames = new Set(Object.keys(((def.parameters as { properties?: object }).properties ?? {})));
  try {
    // Formats are checked when parameters are validated (the catalog adds them); here only the schema itself.
    new Ajv({ strict: false, validateFormats: false }).compile(def.parameters);
  } catch (err) {
    add('parameters', `not a valid JSON Schema: ${(err as Error).message}`);
  }

  const checkExpr = (where: string, e: ParsedExpression, visibleSteps: Map<string, StepDefinition> | null, inAlarmTrigger = false) => {
    for (const { path: [root, a, b] } of e.paths) {
      if (inAlarmTrigger && root !== 'alarm') {
        add(where, `\${{ ${e.source} }}: an alarm trigger's parameters can use alarm.* only (the run does not exist yet)`);
      } else if (root === 'alarm') {
        const fields = ALARM_EXPRESSION_FIELDS as readonly string[];
        if (!inAlarmTrigger) add(where, `\${{ ${e.source} }}: alarm.* is known only inside an alarm trigger's parameters`);
        else if (!a || !fields.includes(a)) add(where, `\${{ ${e.source} }}: alarm has ${fields.join(', ')}`);
        else if (a === 'dimensions' && !b) add(where, `\${{ ${e.source} }}: name a dimension, e.g. alarm.dimensions.ServiceName`);
      } else if (root === 'params') {
        if (!a) add(where, `\${{ ${e.source} }}: name a parameter, e.g. params.${[...paramNames][0] ?? 'name'}`);
        else if (!paramNames.has(a)) add(where, `\${{ ${e.source} }}: no parameter "${a}" (declared: ${[...paramNames].join(', ') || 'none'})`);
      } else if (root === 'steps') {
        if (!visibleSteps) {
          add(where, `\${{ ${e.source} }}: step outputs are not known here`);
          continue;
        }
        const target = a ? visibleSteps.get(a) : undefined;
        if (!target) {
          add(where, `\${{ ${e.source} }}: no earlier step "${a ?? ''}" (visible: ${[...visibleSteps.keys()].join(', ') || 'none'})`);
          continue;
        }
        const outputs = registry.forStep(target)?.outputs ?? [];
        if (!b) add(where, `\${{ ${e.source} }}: name an output of step "${a}" (${outputs.join(', ')})`);
        else if (!outputs.includes(b) && !outputs.includes('*')) {
          add(where, `\${{ ${e.source} }}: step "${a}" (${target.uses}) has no output "${b}" (it has: ${outputs.join(', ')})`);
        }
      } else if (root === 'run') {
        if (!['id', 'runbookId', 'dryRun', 'actor', 'expiresAt', 'acceptedAt'].includes(a ?? ''))
          add(where, `\${{ ${e.source} }}: run has id, runbookId, dryRun, actor, expiresAt, acceptedAt`);
      } else if (root === 'defaults') {
        if (!DEFAULTS_FIELDS.includes(a ?? '')) add(where, `\${{ ${e.source} }}: defaults has ${DEFAULTS_FIELDS.join(', ')}`);
      } else {
        add(where, `\${{ ${e.source} }}: unknown root "${root}" (use params, steps, run or defaults; alarm inside alarm triggers)`);
      }
    }
  };
  const scan = (where: string, value: unknown, visible: Map<string, StepDefinition> | null, inAlarmTrigger = false) => {
    try {
      for (const [at, e] of expressionsDeep(value)) checkExpr(at ? `${where}.${at}` : where, e, visible, inAlarmTrigger);
    } catch (err) {
      if (err instanceof ExpressionSyntaxError) add(where, err.message);
      else throw err;
    }
  };

  if (def.guards.concurrency) scan('guards.concurrency', def.guards.concurrency, null);
  if (def.fleet) checkFleet(def, add);
  const closedParams = (def.parameters as { additionalProperties?: unknown }).additionalProperties === false;
  def.triggers.forEach((t, i) => {
    if (!('alarm' in t)) return;
    const alarm = t.alarm ?? {};
    const where = `triggers[${i}].alarm`;
    const patterns: Array<[string, string]> = [
      ...(alarm.alarmName ? [[`${where}.alarmName`, alarm.alarmName] as [string, string]] : []),
      ...Object.entries(alarm.dimensions ?? {}).map(([k, p]) => [`${where}.dimensions.${k}`, p] as [string, string]),
    ];
    for (const [at, pattern] of patterns) {
      try {
        new RegExp(pattern);
      } catch (err) {
        add(at, `not a regular expression: ${(err as Error).message}`);
      }
    }
    for (const key of Object.keys(alarm.parameters ?? {})) {
      if (closedParams && !paramNames.has(key)) add(`${where}.parameters.${key}`, `no parameter "${key}" (declared: ${[...paramNames].join(', ') || 'none'})`);
    }
    scan(`${where}.parameters`, alarm.parameters ?? {}, null, true);
  });
  if (def.guards.stopConditions) scan('guards.stopConditions', def.guards.stopConditions, null);
  // The runbook's gate is placed before the first mutating step; its `when` sees parameters and the run only.
  if (def.approval) scan('approval', def.approval, null);
  if (def.guards.timeout && !parseDuration(def.guards.timeout)) add('guards.timeout', 'must be longer than zero');

  const scheduleIds = new Set<string>();
  def.triggers.forEach((t, i) => {
    if (!('schedule' in t)) return;
    const where = `triggers[${i}].schedule`;
    const problem = cronProblem(t.schedule.cron, t.schedule.timezone ?? 'UTC');
    if (problem) add(where, problem);
    if (t.schedule.catchUp !== undefined && parseDuration(t.schedule.catchUp) === undefined) add(`${where}.catchUp`, 'must be a duration such as 30m or 1h');
    const id = t.schedule.id ?? `schedule-${i}`;
    if (scheduleIds.has(id)) add(`${where}.id`, `schedule id "${id}" is used twice in this runbook`);
    scheduleIds.add(id);
  });

  const seen = new Map<string, StepDefinition>();
  const walk = (list: StepDefinition[], key: 'preflight' | 'steps' | 'cleanup') => {
    list.forEach((s, i) => {
      const where = `${key}[${i}]`;
      if (seen.has(s.id)) add(`${where}.id`, `step id "${s.id}" is used twice`);
      if (!registry.get(s.uses)) add(`${where}.uses`, `unknown step type "${s.uses}" (known: ${registry.names().join(', ')})`);
      // Preflight runs while a request is being answered, before any run exists to audit a change.
      else if (key === 'preflight' && registry.forStep(s)!.mutates) add(`${where}.uses`, `preflight steps must be read-only; ${s.uses} changes state`);
      scan(`${where}.with`, s.with, seen);
      if (s.if !== undefined) {
        // Text around or between expressions would make the condition a non-empty string: always true.
        if (!isSingleExpression(s.if)) add(`${where}.if`, 'must be exactly one ${{ }} expression (combine conditions inside it with &&, ||, !)');
        scan(`${where}.if`, s.if, seen);
      }
      const type = registry.forStep(s);
      if (type && !registry.isGeneric(s.uses)) {
        // Fixed step types declare these in code; a value here would be silently ignored.
        if (s.mutates !== undefined)
          add(`${where}.mutates`, `only generic steps (aws.*) take mutates:; ${s.uses} ${type.mutates ? 'changes state' : 'is read-only'} by its type`);
        if (s.outputs !== undefined) add(`${where}.outputs`, `only generic steps (aws.*) take outputs:; ${s.uses} has ${type.outputs.join(', ')}`);
      }
      if (type?.checkDefinition) {
        for (const p of type.checkDefinition(s)) add(p.path ? `${where}.${p.path}` : where, p.reason);
      }
      if (type) for (const p of literalInputProblems(registry, s)) add(p.path ? `${where}.with.${p.path}` : `${where}.with`, p.reason);
      if (s.onFailure !== undefined || s.continueOnFailure !== undefined) {
        for (const p of onFailureProblems(s, list, i, key)) add(`${where}.${p.path}`, p.reason);
      }
      if (s.timeout !== undefined && !parseDuration(s.timeout)) add(`${where}.timeout`, 'must be longer than zero');
      seen.set(s.id, s);
    });
  };
  walk(def.preflight ?? [], 'preflight');
  walk(def.steps, 'steps');
  walk(def.cleanup, 'cleanup');
}

/** Fields of a fleet target that `fleet.bind` may name (FleetTarget, as bound by fleets/fleet-request.ts). */
const TARGET_FIELDS = ['id', 'arn', 'account', 'region', 'roleArn', 'cluster', 'resourceType', 'tags'];

/** `fleet.bind` sets declared parameters from `target.*` only; an ECS cluster is known for ECS services alone. */
function checkFleet(def: RunbookDefinition, add: (path: string, reason: string) => void): void {
  const fleet = def.fleet!;
  const params = ((def.parameters as { properties?: object }).properties ?? {}) as Record<string, unknown>;
  let fromTarget = 0;
  for (const [name, value] of Object.entries(fleet.bind)) {
    const where = `fleet.bind.${name}`;
    if (!(name in params)) add(where, `no parameter "${name}" (declared: ${Object.keys(params).join(', ') || 'none'})`);
    try {
      const found = [...expressionsDeep(value)];
      fromTarget += found.length;
      for (const [, e] of found) {
        for (const { path: [root, a] } of e.paths) {
          if (root !== 'target') add(where, `\${{ ${e.source} }}: a binding sees target.* only (the run does not exist yet)`);
          else if (!a || !TARGET_FIELDS.includes(a)) add(where, `\${{ ${e.source} }}: target has ${TARGET_FIELDS.join(', ')}`);
          else if (a === 'cluster' && fleet.resourceTypes.some((t) => t !== 'ecs:service')) add(where, `\${{ ${e.source} }}: only ECS services have a cluster`);
        }
      }
    } catch (err) {
      if (err instanceof ExpressionSyntaxError) add(where, err.message);
      else throw err;
    }
  }
  if (fromTarget === 0) add('fleet.bind', 'must take something from the target, e.g. dbInstanceIdentifier: ${{ target.id }}');
}

/**
 * What the step's input schema says of the literal values in its `with:` block, so a typo
 * (`maxSwitchSeconds: sixty`, a missing required field, an unknown key) fails at boot rather than
 * at the step, mid-run. A value holding an expression is known only at run time: an error about
 * that value, inside it, or about a whole it is part of (a `oneOf` it may satisfy once resolved)
 * is not judged here; errors about keys (`required`, `additionalProperties`) are, since an
 * expression never adds or removes a key. A `with:` that is one expression is skipped whole.
 */
function literalInputProblems(registry: StepTypeCatalog, s: StepDefinition): Array<{ path: string; reason: string }> {
  const input = s.with as unknown;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  const open: string[] = [];
  const collect = (v: unknown, at: string): void => {
    if (typeof v === 'string' && v.includes('${{')) open.push(at);
    else if (Array.isArray(v)) v.forEach((x, i) => collect(x, `${at}/${i}`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  };
  collect(input, '');
  const touchesOpen = (pointer: string) => open.some((o) => o === pointer || o.startsWith(`${pointer}/`) || pointer.startsWith(`${o}/`));
  return registry
    .inputErrors(s.uses, input)
    .filter((e) => e.keyword === 'required' || e.keyword === 'additionalProperties' || !touchesOpen(e.instancePath))
    .filter((e) => e.keyword !== 'if')
    .map((e) => ({ path: pointerToPath(e.instancePath), reason: describeAjvError(e) }));
}

/** "/steps/2/uses" → "steps[2].uses", the form a person finds in the YAML. */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

export function describeAjvError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown property "${String(p.additionalProperty)}"`;
    case 'required':
      return `missing required property "${String(p.missingProperty)}"`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum':
      return `${e.message}: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return e.message ?? e.keyword;
  }
}

export { pointerToPath };

/**
 * The services generic steps may name are the SDK registry's (`aws-services.ts`), not the
 * schema file's list: that one is for editors' completion, and a client added to the registry
 * must load without it.
 */
function withShippedServices(schema: object): object {
  const defs = (schema as { definitions?: Record<string, unknown> }).definitions;
  if (!defs?.awsService) return schema;
  return { ...schema, definitions: { ...defs, awsService: { ...(defs.awsService), enum: Object.keys(AWS_SERVICES) } } };
}
