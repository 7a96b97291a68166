/**
 * `${{ path }}` expressions: lookups, never evaluated code. A path is dot-separated names
 * (`params.cluster`, `steps.precheck.writer`, `run.id`); `a || b` takes the first that is set,
 * and a quoted string may close the chain as a literal fallback (`params.region || "eu-west-1"`).
 */
const EXPRESSION = /\$\{\{\s*(.*?)\s*\}\}/g;
const WHOLE = /^\$\{\{\s*(.*?)\s*\}\}$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const LITERAL = /^"([^"\\]*)"$/;

export type Term = { kind: 'path'; path: string[] } | { kind: 'literal'; value: string };

export interface ParsedExpression {
  source: string;
  terms: Term[];
}

export class ExpressionSyntaxError extends Error {}

export function parseExpression(source: string): ParsedExpression {
  const parts = source.split('||').map((p) => p.trim());
  const terms: Term[] = parts.map((part, i) => {
    const lit = LITERAL.exec(part);
    if (lit) {
      if (i !== parts.length - 1) throw new ExpressionSyntaxError(`a literal may only close the chain: "${source}"`);
      return { kind: 'literal', value: lit[1] };
    }
    if (!PATH.test(part)) {
      throw new ExpressionSyntaxError(`"${part}" is not a path (names joined by dots; expressions are lookups, not code)`);
    }
    return { kind: 'path', path: part.split('.') };
  });
  return { source, terms };
}

/** Every expression inside a string, parsed; throws ExpressionSyntaxError on the first bad one. */
export function expressionsIn(text: string): ParsedExpression[] {
  return [...text.matchAll(EXPRESSION)].map((m) => parseExpression(m[1]));
}

/** Walks any value (the `with:` block) and yields [where, expression] for every expression. */
export function* expressionsDeep(value: unknown, where = ''): Generator<[string, ParsedExpression]> {
  if (typeof value === 'string') {
    for (const e of expressionsIn(value)) yield [where, e];
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* expressionsDeep(value[i], `${where}[${i}]`);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* expressionsDeep(v, where ? `${where}.${k}` : k);
  }
}

export type Scope = Record<string, unknown>;

/**
 * Fields of the `alarm` root, known only while an alarm trigger maps a CloudWatch alarm to run
 * parameters (`${{ alarm.dimensions.ServiceName }}`); the webhook builds that scope.
 */
export const ALARM_EXPRESSION_FIELDS = [
  'name', 'arn', 'state', 'previousState', 'stateChangeTime', 'reason', 'description', 'region', 'accountId',
  'dimensions', 'topicArn', 'messageId', 'receivedAt',
] as const;

/** Raised when a path leads nowhere where a value is required. */
export class UnresolvedExpression extends Error {
  constructor(readonly expression: string, readonly path: string[]) {
    super(`\${{ ${expression} }} has no value`);
  }
}

function lookup(scope: Scope, path: string[]): unknown {
  let cur: unknown = scope;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function evaluate(e: ParsedExpression, scope: Scope): unknown {
  for (const t of e.terms) {
    const v = t.kind === 'literal' ? t.value : lookup(scope, t.path);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

/**
 * Resolves a value. A string that is exactly one expression keeps the looked-up value's type
 * (a boolean stays a boolean) and, when unset, makes its key disappear; an expression inside
 * longer text must resolve, or UnresolvedExpression is thrown.
 */
export function resolveValue(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole && !whole[1].includes('}}')) return evaluate(parseExpression(whole[1]), scope);
    return value.replace(EXPRESSION, (_m, src: string) => {
      const e = parseExpression(src);
      const v = evaluate(e, scope);
      if (v === undefined) throw new UnresolvedExpression(src, (e.terms[0] as { path?: string[] }).path ?? []);
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, scope)).filter((v) => v !== undefined);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = resolveValue(v, scope);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}

/** Names of steps a value refers to (`steps.<id>....`), for dependency checks. */
export function referencedSteps(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const [, e] of expressionsDeep(value)) {
    for (const t of e.terms) if (t.kind === 'path' && t.path[0] === 'steps' && t.path[1]) out.add(t.path[1]);
  }
  return out;
}

export function isTruthy(v: unknown): boolean {
  return !(v === undefined || v === null || v === false || v === '' || v === 0 || v === 'false');
}
