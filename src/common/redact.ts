/**
 * Secrets must never reach logs, audit records or reports. Redaction works on two signals:
 * a key name that says "secret" (password, token, ...) and, for run parameters, the runbook's
 * own schema marking a property `writeOnly: true`.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(pass(word|phrase)?|secret|token|credential|authori[sz]ation|api[-_]?key|private[-_]?key|session[-_]?key|cookie)/i;

/** Keys that look secret by name but carry no secret; listed so redaction stays strict elsewhere. */
const NOT_SECRET = new Set(['ClientToken', 'NextToken', 'nextToken', 'Marker', 'tokenUrl', 'ManageMasterUserPassword']);

export function isSecretKey(key: string): boolean {
  return !NOT_SECRET.has(key) && SECRET_KEY.test(key);
}

export function redact<T>(value: T, extraSecretKeys: ReadonlySet<string> = new Set()): T {
  return walk(value, extraSecretKeys) as T;
}

function walk(value: unknown, extra: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(v, extra));
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = v !== undefined && v !== null && (isSecretKey(k) || extra.has(k)) ? REDACTED : walk(v, extra);
    }
    return out;
  }
  return value;
}

/** Shorter secret values are hidden only where they are a whole string, so they cannot blank out ordinary text. */
const MIN_EMBEDDED_SECRET_LENGTH = 6;

/**
 * Hides secret values wherever they occur in strings, whatever the key: a runbook may hand a
 * `writeOnly` parameter on to a step (`with: { url: "https://hooks/${{ params.token }}" }`), and
 * the step's input and output then hold it under keys that look harmless.
 */
export function redactValues<T>(value: T, secrets: readonly string[]): T {
  const list = secrets.filter((s) => s !== '');
  return list.length === 0 ? value : (walkValues(value, list) as T);
}

function walkValues(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const s of secrets) {
      if (out === s) return REDACTED;
      if (s.length >= MIN_EMBEDDED_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => walkValues(v, secrets));
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walkValues(v, secrets)]));
  }
  return value;
}
