import type { FieldError, JsonSchema } from '../api';

export type FormValues = Record<string, string | boolean>;

type Kind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'array' | 'json';

function kindOf(s: JsonSchema): Kind {
  if (Array.isArray(s.enum)) return 'enum';
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
 * type, but never checked here: the API's answer (field errors) is the one truth about validity.
 */
export function toParameters(schema: JsonSchema | undefined, values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(schema?.properties ?? {})) {
    const v = values[name];
    const kind = kindOf(s);
    if (kind === 'boolean') {
      out[name] = v === true;
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
        .map((x) => (itemKind === 'number' || itemKind === 'integer') && Number.isFinite(Number(x)) ? Number(x) : x);
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

export function SchemaFields({
  schema,
  values,
  onChange,
  errors,
  disabled,
}: {
  schema: JsonSchema | undefined;
  values: FormValues;
  onChange: (v: FormValues) => void;
  errors: FieldError[];
  disabled?: boolean;
}) {
  const required = new Set(schema?.required ?? []);
  const props = Object.entries(schema?.properties ?? {});
  if (props.length === 0) return <p className="muted">This runbook takes no parameters.</p>;
  return (
    <>
      {props.map(([name, s]) => {
        const id = `param-${name}`;
        const kind = kindOf(s);
        const mine = errorsFor(name, errors);
        const helpId = s.description ? `${id}-help` : undefined;
        const errId = mine.length ? `${id}-error` : undefined;
        const describedBy = [helpId, errId].filter(Boolean).join(' ') || undefined;
        const set = (v: string | boolean) => onChange({ ...values, [name]: v });
        const common = { id, name, disabled, 'aria-describedby': describedBy, 'aria-invalid': mine.length > 0 || undefined } as const;
        let control;
        if (kind === 'boolean') {
          control = <input type="checkbox" {...common} checked={values[name] === true} onChange={(e) => set(e.target.checked)} />;
        } else if (kind === 'enum') {
          control = (
            <select {...common} required={required.has(name)} value={String(values[name] ?? '')} onChange={(e) => set(e.target.value)}>
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
        } else {
          control = (
            <input
              {...common}
              type={s.writeOnly ? 'password' : 'text'}
              inputMode={kind === 'number' || kind === 'integer' ? 'decimal' : undefined}
              autoComplete={s.writeOnly ? 'new-password' : 'off'}
              required={required.has(name)}
              value={String(values[name] ?? '')}
              onChange={(e) => set(e.target.value)}
            />
          );
        }
        return (
          <div className={`field ${kind === 'boolean' ? 'field-check' : ''}`} key={name}>
            <label htmlFor={id}>
              {s.title ?? name}
              {required.has(name) && <span aria-hidden="true"> *</span>}
              {kind === 'array' && <span className="muted"> (one per line)</span>}
              {kind === 'json' && <span className="muted"> (JSON)</span>}
            </label>
            {control}
            {s.description && (
              <div className="help" id={helpId}>
                {s.description}
                {s.default !== undefined && !s.writeOnly ? ` (default: ${JSON.stringify(s.default)})` : ''}
              </div>
            )}
            {mine.length > 0 && (
              <div className="field-error" id={errId} role="alert">
                {mine.map((e) => `${e.field}: ${e.message}`).join('; ')}
              </div>
            )}
          </div>
        );
      })}
    </>
  );
}
