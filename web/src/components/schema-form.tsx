import { useEffect, useState } from 'react';
import { useApi } from '../api/api-context';
import type { FieldError, JsonSchema, ResourceNames } from '../api/types';
import { inline } from './markdown';

export type FormValues = Record<string, string | boolean>;

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'const' | 'enum' | 'array' | 'json';

function kindOf(s: JsonSchema): Kind {
  // `const: true` is a switch that can only be on: a checkbox, sent as true when ticked, left out when not.
  if (s.const === true || s.const === false) return 'boolean';
  if (s.const !== undefined) return 'const';
  if (Array.isArray(s.enum)) return s.enum.every((e) => typeof e === 'boolean') ? 'boolean' : 'enum';
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'boolean') return 'boolean';
  if (t === 'number') return 'number';
  if (t === 'integer') return 'integer';
  if (t === 'array') return 'array';
  if (t === 'object') return 'json';
  return 'string';
}

/** The form's starting values: the schema's defaults, or what a re-run brings along. */
export function initialValues(schema: JsonSchema | undefined, from: Record<string, unknown> = {}): FormValues {
  const values: FormValues = {};
  for (const [name, s] of Object.entries(schema?.properties ?? {})) {
    const v = name in from ? from[name] : s.default;
    const kind = kindOf(s);
    // A secret is never brought along: the run view shows it redacted, and it must be typed again.
    if (s.writeOnly) values[name] = '';
    else if (kind === 'boolean') values[name] = v === true;
    else if (kind === 'array') values[name] = Array.isArray(v) ? v.map(String).join('\n') : '';
    else if (kind === 'json') values[name] = v === undefined ? '' : JSON.stringify(v, null, 2);
    else values[name] = v === undefined || v === null ? '' : String(v);
  }
  return values;
}

/**
 * Form values to the parameters object the API validates. Values are converted by the schema's
 * type; the API's answer (field errors) stays the one truth about validity.
 */
export function toParameters(schema: JsonSchema | undefined, values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema?.properties ?? {})) {
    const v = values[name];
    const kind = kindOf(s);
    if (kind === 'boolean') {
      // A switch that must be true when given (`const: true`) is left out when off.
      if (s.const === true) {
        if (v === true) out[name] = true;
      } else out[name] = v === true;
      continue;
    }
    if (kind === 'const') {
      if (v === true || v === String(s.const)) out[name] = s.const;
      continue;
    }
    const text = typeof v === 'string' ? v : '';
    if (text.trim() === '') continue;
    if (kind === 'number' || kind === 'integer') {
      const n = Number(text);
      out[name] = Number.isFinite(n) ? n : text;
    } else if (kind === 'array') {
      const itemKind = s.items ? kindOf(s.items) : 'string';
      out[name] = text
        .split('\n')
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => ((itemKind === 'number' || itemKind === 'integer') && Number.isFinite(Number(x)) ? Number(x) : x));
    } else if (kind === 'json') {
      try {
        out[name] = JSON.parse(text);
      } catch {
        out[name] = text;
      }
    } else if (kind === 'enum') {
      const match = (s.enum ?? []).find((e) => String(e) === text);
      out[name] = match ?? text;
    } else out[name] = text;
  }
  return out;
}

/** "Give one of a or b" rules: a oneOf/anyOf (at the top or in allOf) whose branches only name required properties. */
export interface ChoiceRule {
  options: string[];
  exactlyOne: boolean;
}

export function choiceRules(schema: JsonSchema | undefined): ChoiceRule[] {
  if (!schema) return [];
  const rules: ChoiceRule[] = [];
  const visit = (s: JsonSchema) => {
    for (const [key, exactlyOne] of [
      ['oneOf', true],
      ['anyOf', false],
    ] as const) {
      const branches = s[key];
      if (Array.isArray(branches) && branches.length > 1 && branches.every((b) => Array.isArray(b.required) && Object.keys(b).every((k) => k === 'required'))) {
        rules.push({ options: branches.flatMap((b) => b.required ?? []), exactlyOne });
      }
    }
    for (const sub of s.allOf ?? []) visit(sub);
  };
  visit(schema);
  return rules;
}

const orList = (xs: string[]) => (xs.length <= 2 ? xs.join(' or ') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`);

export function ruleText(r: ChoiceRule): string {
  return r.exactlyOne ? `Give one of ${orList(r.options)} (not more than one).` : `Give at least one of ${orList(r.options)}.`;
}

/** The rules the values break, said before the service is asked. */
export function brokenRules(schema: JsonSchema | undefined, parameters: Record<string, unknown>): string[] {
  return choiceRules(schema).flatMap((r) => {
    const given = r.options.filter((o) => parameters[o] !== undefined);
    if (given.length === 0) return [ruleText(r).replace(' (not more than one)', '')];
    if (r.exactlyOne && given.length > 1) return [`Give only one of ${orList(r.options)}: ${given.join(' and ')} are both set.`];
    return [];
  });
}

/** Patterns the shipped runbooks use, in words. */
const PATTERN_WORDS: Array<[RegExp, string]> = [
  [/iam::.*role/, 'an IAM role ARN, like arn:aws:iam::123456789012:role/name'],
  [/elasticloadbalancing/, 'a load balancer target group ARN'],
  [/\^\(?\[a-z\]\{2\}/, 'a region code, like eu-west-1'],
  [/\^sg-/, 'a security group id, like sg-0123abcd'],
  [/\^db\\\./, 'an instance class, like db.r6g.large'],
  [/\[\^\/\]\+\/\[\^\/\]\+/, 'cluster/service, like prod/api'],
  [/\?!\.\*--/, 'a name of letters, digits and single hyphens, starting with a letter (at most 63)'],
  [/\^\[a-zA-Z\]\[a-zA-Z0-9-\]/, 'a name of letters, digits and hyphens, starting with a letter'],
];

/** A field error as a person reads it: no regular expressions, no JSON Schema keywords. */
export function errorInWords(message: string, s: JsonSchema | undefined): string {
  const pattern = /^must match pattern "(.*)"$/.exec(message);
  if (pattern) {
    const words = PATTERN_WORDS.find(([re]) => re.test(pattern[1]))?.[1];
    return words ? `must be ${words}` : 'is not in the form this field takes (see the hint)';
  }
  if (/^must match format "date-time"$/.test(message)) return 'must be a time in ISO 8601, like 2026-05-01T10:00:00Z';
  if (/^must be > 0$/.test(message)) return 'must be more than 0';
  const cmp = /^must be (>=|<=|>|<) (.+)$/.exec(message);
  if (cmp) return `must be ${({ '>=': 'at least', '<=': 'at most', '>': 'more than', '<': 'less than' } as Record<string, string>)[cmp[1]]} ${cmp[2]}`;
  if (/^must NOT have fewer than 1 characters$/.test(message)) return 'must not be empty';
  if (message === 'must be true' && s?.const === true) return 'tick it, or leave it off';
  return message;
}

/** Field errors whose path starts with this parameter (`stopAlarms.0` belongs to `stopAlarms`). */
function errorsFor(name: string, errors: FieldError[]): FieldError[] {
  return errors.filter((e) => {
    const field = e.field.replace(/^parameters\./, '');
    return field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`);
  });
}

/** Errors that name no field of the form (e.g. "give exactly one of: a, b"). */
export function unplacedErrors(schema: JsonSchema | undefined, errors: FieldError[]): FieldError[] {
  const names = Object.keys(schema?.properties ?? {});
  return errors.filter((e) => !names.some((n) => errorsFor(n, [e]).length > 0));
}

/** Parameters that name an RDS resource: the form offers the account's names for them. */
const RESOURCE_PARAMS: Record<string, ResourceNames['type']> = {
  dbInstanceIdentifier: 'rds:db-instance',
  sourceDbInstanceIdentifier: 'rds:db-instance',
  targetInstance: 'rds:db-instance',
  clusterIdentifier: 'rds:db-cluster',
  dbClusterIdentifier: 'rds:db-cluster',
};

function useResourceNames(type: ResourceNames['type'] | undefined, enabled: boolean): string[] {
  const api = useApi();
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!type || !enabled) return;
    let live = true;
    // A picker is a help, not a gate: when the account cannot be listed, the field stays free text.
    api.resourceNames(type).then(
      (r) => live && setNames(r.names),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [type, enabled]);
  return names;
}

/**
 * Primary: what a run needs (required, named by a "give one of" rule) and the choices that change
 * what it does (enums). The rest is Advanced. A schema with neither shows its fields without defaults first.
 */
function isPrimary(name: string, s: JsonSchema, required: Set<string>, ruled: Set<string>): boolean {
  if (required.size === 0 && ruled.size === 0) return s.default === undefined && !/^(roleArn|region|pollSeconds)$/.test(name);
  return required.has(name) || ruled.has(name) || kindOf(s) === 'enum';
}

export function SchemaFields({
  schema,
  values,
  onChange,
  errors,
  disabled,
  pickNames = true,
}: {
  schema: JsonSchema | undefined;
  values: FormValues;
  onChange: (v: FormValues) => void;
  errors: FieldError[];
  disabled?: boolean;
  pickNames?: boolean;
}) {
  const required = new Set(schema?.required ?? []);
  const rules = choiceRules(schema);
  const ruled = new Set(rules.flatMap((r) => r.options));
  const props = Object.entries(schema?.properties ?? {});
  const instances = useResourceNames('rds:db-instance', pickNames && props.some(([n]) => RESOURCE_PARAMS[n] === 'rds:db-instance'));
  const clusters = useResourceNames('rds:db-cluster', pickNames && props.some(([n]) => RESOURCE_PARAMS[n] === 'rds:db-cluster'));
  if (props.length === 0) return <p className="muted">This runbook takes no parameters.</p>;
  const primary = props.filter(([n, s]) => isPrimary(n, s, required, ruled));
  const advanced = props.filter(([n, s]) => !isPrimary(n, s, required, ruled));

  const field = ([name, s]: [string, JsonSchema]) => {
    const id = `param-${name}`;
    const kind = kindOf(s);
    const mine = errorsFor(name, errors);
    const helpId = s.description || s.default !== undefined ? `${id}-help` : undefined;
    const errId = mine.length ? `${id}-error` : undefined;
    const describedBy = [helpId, errId].filter(Boolean).join(' ') || undefined;
    const set = (v: string | boolean) => onChange({ ...values, [name]: v });
    const common = { id, name, disabled, 'aria-describedby': describedBy, 'aria-invalid': mine.length > 0 || undefined } as const;
    const resource = RESOURCE_PARAMS[name];
    const names = resource === 'rds:db-instance' ? instances : resource === 'rds:db-cluster' ? clusters : [];
    let control;
    if (kind === 'boolean') {
      control = <input type="checkbox" {...common} checked={values[name] === true} onChange={(e) => set(e.target.checked)} />;
    } else if (kind === 'const') {
      control = <input type="checkbox" {...common} checked={values[name] === true} onChange={(e) => set(e.target.checked)} />;
    } else if (kind === 'enum') {
      control = (
        <select {...common} value={String(values[name] ?? '')} onChange={(e) => set(e.target.value)}>
          {!required.has(name) || values[name] === '' ? <option value="">(not set)</option> : null}
          {(s.enum ?? []).map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o)}
            </option>
          ))}
        </select>
      );
    } else if (kind === 'array' || kind === 'json') {
      control = <textarea {...common} rows={3} value={String(values[name] ?? '')} onChange={(e) => set(e.target.value)} />;
    } else if (kind === 'number' || kind === 'integer') {
      const min = s.minimum ?? s.exclusiveMinimum;
      control = (
        <input
          {...common}
          type="number"
          step={kind === 'integer' ? 1 : 'any'}
          min={min}
          max={s.maximum ?? s.exclusiveMaximum}
          inputMode={kind === 'integer' ? 'numeric' : 'decimal'}
          required={required.has(name)}
          value={String(values[name] ?? '')}
          onChange={(e) => set(e.target.value)}
        />
      );
    } else {
      control = (
        <input
          {...common}
          type={s.writeOnly ? 'password' : 'text'}
          autoComplete={s.writeOnly ? 'new-password' : 'off'}
          required={required.has(name)}
          placeholder={s.format === 'date-time' ? '2026-05-01T10:00:00Z' : undefined}
          list={names.length > 0 ? `${id}-names` : undefined}
          value={String(values[name] ?? '')}
          onChange={(e) => set(e.target.value)}
        />
      );
    }
    const checkbox = kind === 'boolean' || kind === 'const';
    const range = [
      s.minimum !== undefined ? `at least ${s.minimum}` : s.exclusiveMinimum !== undefined ? `more than ${s.exclusiveMinimum}` : '',
      s.maximum !== undefined ? `at most ${s.maximum}` : s.exclusiveMaximum !== undefined ? `less than ${s.exclusiveMaximum}` : '',
    ].filter(Boolean);
    return (
      <div className={`field ${checkbox ? 'field-check' : ''}`} key={name}>
        <label htmlFor={id}>
          {s.title ?? name}
          {required.has(name) && <span aria-hidden="true"> *</span>}
          {kind === 'array' && <span className="muted"> (one per line)</span>}
          {kind === 'json' && <span className="muted"> (JSON)</span>}
        </label>
        {control}
        {names.length > 0 && (
          <datalist id={`${id}-names`}>
            {names.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        )}
        {helpId && (
          <div className="help" id={helpId}>
            {s.description && inline(s.description)}
            {range.length > 0 && ` (${range.join(', ')})`}
            {s.default !== undefined && !s.writeOnly ? ` (default: ${JSON.stringify(s.default)})` : ''}
            {s.format === 'date-time' && '. ISO 8601 with its zone, e.g. 2026-05-01T10:00:00Z'}
            {names.length > 0 && `. Suggestions: ${names.length} from the account`}
          </div>
        )}
        {mine.length > 0 && (
          <div className="field-error" id={errId} role="alert">
            {mine.map((e) => `${e.field.replace(/^parameters\./, '')} ${errorInWords(e.message, s)}`).join('; ')}
          </div>
        )}
      </div>
    );
  };

  return (
    <>
      {rules.length > 0 && (
        <ul className="rules" aria-label="Rules">
          {rules.map((r) => (
            <li key={r.options.join('|')}>{ruleText(r)}</li>
          ))}
        </ul>
      )}
      {primary.map(field)}
      {advanced.length > 0 && (
        <fieldset className="advanced">
          <legend>Advanced (optional)</legend>
          {advanced.map(field)}
        </fieldset>
      )}
    </>
  );
}
