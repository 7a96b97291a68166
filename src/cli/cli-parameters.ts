import { readFile } from 'node:fs/promises';
import { CliError } from './cli.error';

/**
 * Turns `-p key=value` pairs (and an optional JSON file under them) into run parameters. Values
 * are typed by the runbook's own parameter schema, so `-p failback=true` is a boolean and
 * `-p stopAlarms=a,b` a list, while a string parameter keeps "0123" as it was typed. A value
 * that is not valid for its declared type is left as typed: the API names the field and why.
 */
export async function buildParameters(pairs: string[], paramsFile: string | undefined, schema: Record<string, any> | undefined): Promise<Record<string, unknown>> {
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
  const properties = (schema?.properties ?? {}) as Record<string, { type?: string | string[] }>;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError('USAGE', `-p ${pair}: write it as key=value`);
    const key = pair.slice(0, eq);
    params[key] = typed(pair.slice(eq + 1), properties[key]?.type);
  }
  return params;
}

function typed(raw: string, type: string | string[] | undefined): unknown {
  const types = Array.isArray(type) ? type : type ? [type] : [];
  if (types.includes('string') || types.length === 0) return raw;
  if (types.includes('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if ((types.includes('number') || types.includes('integer')) && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  if (types.includes('array')) {
    if (raw.trim().startsWith('[')) return parseJson(raw);
    return raw === '' ? [] : raw.split(',').map((s) => s.trim());
  }
  if (types.includes('object')) return parseJson(raw);
  return raw;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
