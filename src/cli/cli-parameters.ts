import { readFile } from 'node:fs/promises';
import { CliError } from './cli.error';

type Schema = Record<string, any>;

/**
 * Turns `-p key=value` pairs (and an optional JSON file under them) into run parameters. Each
 * value is converted to what the runbook's own parameter schema declares for its key, so
 * `-p failback=true` is a boolean, `-p maxSwitchSeconds=30` a number, `-p stopAlarms=a,b` a list,
 * `-p 'scope={"services":["x"]}'` an object, and a `const`/`enum` value the member it spells; a
 * string parameter keeps "0123" as it was typed. A value that cannot be converted is refused
 * here (exit 64) naming the parameter, before anything is sent: the API would only say "must be
 * boolean" about a string the person never meant as one.
 */
export async function buildParameters(pairs: string[], paramsFile: string | undefined, schema: Schema | undefined): Promise<Record<string, unknown>> {
  let params: Record<string, unknown> = {};
  if (paramsFile) {
    let text: string;
    try {
      text = await readFile(paramsFile, 'utf8');
    } catch (err) {
      throw new CliError('USAGE', `--params-file ${paramsFile}: ${(err as Error).message}`);
    }
    try {
      params = JSON.parse(text);
    } catch (err) {
      throw new CliError('USAGE', `--params-file ${paramsFile} is not JSON: ${(err as Error).message}`);
    }
    if (!params || typeof params !== 'object' || Array.isArray(params)) throw new CliError('USAGE', `--params-file ${paramsFile} must hold a JSON object`);
  }
  const properties = (schema?.properties ?? {}) as Record<string, Schema>;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError('USAGE', `-p ${pair}: write it as key=value`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    const result = convert(raw, Object.hasOwn(properties, key) ? properties[key] : undefined);
    if ('problem' in result) throw new CliError('USAGE', `-p ${key}=${raw}: ${key} ${result.problem}`, { field: key });
    params[key] = result.value;
  }
  return params;
}

type Conversion = { value: unknown } | { problem: string };

/** One value typed by one property schema; an unknown key or a schema with no type keeps the text (the API says what is wrong with it). */
export function convert(raw: string, schema: Schema | undefined): Conversion {
  if (!schema || typeof schema !== 'object') return { value: raw };
  if (Object.hasOwn(schema, 'const')) return member(raw, [schema.const], (c) => `must be ${show(c[0])}`);
  if (Array.isArray(schema.enum)) return member(raw, schema.enum, (e) => `must be one of ${e.map(show).join(', ')}`);
  const types: string[] = Array.isArray(schema.type) ? schema.type : typeof schema.type === 'string' ? [schema.type] : [];
  // A string parameter keeps the text exactly as typed, even where another type is allowed too.
  if (types.length === 0 || types.includes('string')) return { value: raw };
  for (const type of types) {
    const value = asType(raw, type, schema);
    if (value !== NO) return { value };
  }
  return { problem: `must be ${types.map(describe).join(' or ')}` };
}

const NO = Symbol('not this type');

function asType(raw: string, type: string, schema: Schema): unknown {
  const text = raw.trim();
  switch (type) {
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : NO;
    case 'integer':
      return /^[-+]?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : NO;
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : NO;
    case 'null':
      return text === 'null' ? null : NO;
    case 'object': {
      const v = json(text);
      return v !== NO && v !== null && typeof v === 'object' && !Array.isArray(v) ? v : NO;
    }
    case 'array': {
      if (text.startsWith('[')) {
        const v = json(text);
        return Array.isArray(v) ? v : NO;
      }
      // `a,b,c`: each item typed by `items`, so a list of numbers can be written `1,2,3`.
      const parts = text === '' ? [] : raw.split(',').map((s) => s.trim());
      const items: unknown[] = [];
      for (const part of parts) {
        const c = convert(part, schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items) ? schema.items : undefined);
        if ('problem' in c) return NO;
        items.push(c.value);
      }
      return items;
    }
    default:
      return NO;
  }
}

/** The allowed value whose spelling is the text: `true` for a boolean const, 300 for a numeric enum. */
function member(raw: string, allowed: unknown[], problem: (allowed: unknown[]) => string): Conversion {
  for (const a of allowed) {
    if (typeof a === 'string' ? a === raw : JSON.stringify(a) === canonical(raw)) return { value: a };
  }
  return { problem: problem(allowed) };
}

function canonical(raw: string): string | undefined {
  const v = json(raw.trim());
  return v === NO ? undefined : JSON.stringify(v);
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NO;
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function describe(type: string): string {
  switch (type) {
    case 'boolean':
      return 'true or false';
    case 'integer':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'object':
      return 'a JSON object ({…})';
    case 'array':
      return 'a list (a,b or a JSON array)';
    default:
      return type;
  }
}
