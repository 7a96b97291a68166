/**
 * Secrets must never reach logs, audit records or reports. Redaction works on two signals:
 * a key name that says "secret" (password, token, ...) and, for run parameters, the runbook's
 * own schema marking a property `writeOnly: true`.
 */
export const REDACTED = '[REDACTED]';

/**
 * Judged by whole words of the key (camelCase, snake_case, kebab-case and dotted keys are split),
 * never by substring: `passed`, `bypass` or `tokenizer` are not secrets, `MasterUserPassword`,
 * `x-api-key` and `SessionToken` are.
 */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'pass',
  'secret',
  'secrets',
  'token',
  'tokens',
  'credential',
  'credentials',
  'authorization',
  'authorisation',
  'cookie',
  'cookies',
  'apikey',
  'privatekey',
]);
const SECRET_PAIRS = new Set(['api key', 'private key', 'session key', 'signing key']);

/** Keys that look secret by name but carry no secret; listed so redaction stays strict elsewhere. */
const NOT_SECRET = new Set(['ClientToken', 'NextToken', 'nextToken', 'Marker', 'tokenUrl', 'ManageMasterUserPassword']);

export function keyWords(key: string): string[] {
  return key
    .split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

export function isSecretKey(key: string): boolean {
  if (NOT_SECRET.has(key)) return false;
  const words = keyWords(key);
  return words.some((w, i) => SECRET_WORDS.has(w) || (i > 0 && SECRET_PAIRS.has(`${words[i - 1]} ${w}`)));
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

/**
 * For free text that is logged (stack traces, driver errors): credentials inside URLs
 * (`postgres://user:pw@host`), `password=...`-style pairs whose key names a secret, and Bearer
 * tokens, plus any known secret values. Structured data goes through redact()/redactValues().
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  const out = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi, `$1$2:${REDACTED}@`)
    .replace(/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`)
    .replace(/([A-Za-z][\w.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"']+)/g, (m, key: string, sep: string) =>
      isSecretKey(key) ? `${key}${sep}${REDACTED}` : m,
    );
  return redactValues(out, secrets);
}
