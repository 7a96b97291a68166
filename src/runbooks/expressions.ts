import { compile, TreeInterpreter } from '@jmespath-community/jmespath';

/**
 * `${{ expr }}`: a JMESPath expression over the roots `params`, `steps`, `run`, `defaults` (and
 * `alarm` inside alarm triggers). It is a query language, never code: comparisons, `&&`, `||`,
 * `!`, functions (`contains`, `starts_with`, `length`, ...), nothing that can call out.
 *
 * Two rewrites keep what runbooks wrote before JMESPath working, and are applied before parsing:
 *  - a name with hyphens after a dot is quoted: `steps.last-good.arn` → `steps."last-good".arn`
 *    (JMESPath reads `last-good` as a subtraction). Write `a - b` with spaces to subtract.
 *  - a double-quoted string standing alone is a string, not a quoted field of the scope:
 *    `params.region || "eu-west-1"` means the text eu-west-1 (JMESPath's `'eu-west-1'`).
 */
const EXPRESSION = /\$\{\{\s*(.*?)\s*\}\}/g;
const WHOLE = /^\$\{\{\s*(.*?)\s*\}\}$/;

/** A parsed JMESPath tree; the library's node types are structural, so it is kept loose here. */
export type ExpressionNode = { type: string; [key: string]: unknown };

export interface ParsedExpression {
  /** As written between `${{` and `}}`. */
  source: string;
  /** After the compatibility rewrites: what JMESPath parsed. */
  jmespath: string;
  ast: ExpressionNode;
  /** Every path the expression reads from the scope (`['steps', 'last-good', 'arn']`), for load-time checks. */
  paths: ScopePath[];
}

export interface ScopePath {
  path: string[];
  /** Read as an alternative of `||` (or a branch of `? :`): a missing value there is expected. */
  optional: boolean;
}

export class ExpressionSyntaxError extends Error {}

const cache = new Map<string, ParsedExpression>();
const CACHE_LIMIT = 2000;

export function parseExpression(source: string): ParsedExpression {
  const hit = cache.get(source);
  if (hit) return hit;
  const jmespath = toJmespath(source);
  let ast: ExpressionNode;
  try {
    ast = compile(jmespath) as unknown as ExpressionNode;
  } catch (err) {
    throw new ExpressionSyntaxError(`\${{ ${source} }} is not a valid expression: ${(err as Error).message}`);
  }
  const problem = misleadingNot(ast);
  if (problem) throw new ExpressionSyntaxError(`\${{ ${source} }}: ${problem}`);
  const parsed: ParsedExpression = { source, jmespath, ast, paths: scopePaths(ast) };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(source, parsed);
  return parsed;
}

/** Applies the two compatibility rewrites (see the top of this file), outside of string literals only. */
export function toJmespath(source: string): string {
  let out = '';
  let i = 0;
  const prevSignificant = () => out.trimEnd().slice(-1);
  while (i < source.length) {
    const c = source[i];
    if (c === "'" || c === '`') {
      const end = closing(source, i, c);
      out += source.slice(i, end + 1);
      i = end + 1;
    } else if (c === '"') {
      const end = closing(source, i, '"');
      const text = source.slice(i, end + 1);
      const after = source.slice(end + 1).trimStart()[0];
      const standalone = prevSignificant() !== '.' && after !== '.' && after !== '[';
      if (standalone) {
        const value = JSON.parse(text) as string;
        out += `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      } else {
        out += text;
      }
      i = end + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+/.exec(source.slice(i));
      if (m && prevSignificant() === '.' && !/[A-Za-z0-9_]/.test(source[i - 1] ?? '')) {
        out += `"${m[0]}"`;
        i += m[0].length;
      } else {
        out += c;
        i++;
      }
    }
  }
  return out;
}

function closing(source: string, start: number, quote: string): number {
  for (let j = start + 1; j < source.length; j++) {
    if (source[j] === '\\') j++;
    else if (source[j] === quote) return j;
  }
  throw new ExpressionSyntaxError(`\${{ ${source} }}: unclosed ${quote}`);
}

/**
 * JMESPath binds `!` tighter than `.`: `!params.dryRun` reads `(!params).dryRun`, always null.
 * Refused at load with the fix, instead of being quietly false.
 */
function misleadingNot(node: ExpressionNode): string | null {
  let found: string | null = null;
  visit(node, (n) => {
    if (
      ['Subexpression', 'IndexExpression', 'Projection', 'FilterProjection', 'ValueProjection'].includes(n.type) &&
      (n.left as ExpressionNode | undefined)?.type === 'NotExpression'
    ) {
      found = '"!" applies to the name right after it only (so "!a.b" means "(!a).b"); write !(a.b)';
    }
  });
  return found;
}

function visit(node: unknown, fn: (n: ExpressionNode) => void): void {
  if (Array.isArray(node)) {
    for (const n of node) visit(n, fn);
  } else if (node !== null && typeof node === 'object' && typeof (node as ExpressionNode).type === 'string') {
    fn(node as ExpressionNode);
    for (const v of Object.values(node)) if (typeof v === 'object') visit(v, fn);
  }
}

/** The leading names of a chain read from the scope's root (`params.a[0].b` → params, a), or null. */
function chainOf(node: ExpressionNode): { path: string[]; open: boolean } | null {
  const left = node.left as ExpressionNode | undefined;
  const right = node.right as ExpressionNode | undefined;
  switch (node.type) {
    case 'Field':
      return { path: [node.name as string], open: true };
    case 'Subexpression': {
      const c = left ? chainOf(left) : null;
      if (!c || !right) return null;
      if (!c.open) return c;
      if (right.type === 'Field') return { path: [...c.path, right.name as string], open: true };
      const inner = right.left as ExpressionNode | undefined;
      if (inner?.type === 'Field') return { path: [...c.path, inner.name as string], open: false };
      return { path: c.path, open: false };
    }
    case 'IndexExpression':
    case 'Projection':
    case 'ValueProjection':
    case 'FilterProjection':
    case 'Flatten': {
      const c = left ? chainOf(left) : null;
      return c ? { path: c.path, open: false } : null;
    }
    default:
      return null;
  }
}

/** Every path read from the scope's root; parts evaluated against a result (after `.`, `|`, `[*]`, `&`) are not. */
function scopePaths(root: ExpressionNode): ScopePath[] {
  const out: ScopePath[] = [];
  const walk = (node: ExpressionNode | undefined, optional: boolean): void => {
    if (!node) return;
    const chain = chainOf(node);
    if (chain) {
      out.push({ path: chain.path, optional });
      return;
    }
    const n = node as Record<string, any>;
    switch (node.type) {
      case 'Subexpression':
      case 'IndexExpression':
      case 'Projection':
      case 'ValueProjection':
      case 'FilterProjection':
      case 'Flatten':
      case 'Pipe':
        walk(n.left, optional);
        return;
      case 'OrExpression':
        walk(n.left, true);
        walk(n.right, true);
        return;
      case 'AndExpression':
      case 'Comparator':
      case 'Arithmetic':
        walk(n.left, optional);
        walk(n.right, optional);
        return;
      case 'NotExpression':
        walk(n.child, optional);
        return;
      case 'Unary':
        walk(n.operand, optional);
        return;
      case 'Ternary':
        walk(n.condition, optional);
        walk(n.trueExpr, true);
        walk(n.falseExpr, true);
        return;
      case 'Function':
      case 'MultiSelectList':
        for (const c of n.children as ExpressionNode[]) if (c.type !== 'ExpressionReference') walk(c, optional);
        return;
      case 'MultiSelectHash':
        for (const c of n.children as Array<{ value: ExpressionNode }>) walk(c.value, optional);
        return;
      default:
        return;
    }
  };
  walk(root, false);
  return out;
}

/** Every expression inside a string, parsed; throws ExpressionSyntaxError on the first bad one. */
export function expressionsIn(text: string): ParsedExpression[] {
  return [...text.matchAll(EXPRESSION)].map((m) => parseExpression(m[1]));
}

/** True when the string is exactly one `${{ }}` and nothing else (what `if:` must be). */
export function isSingleExpression(text: string): boolean {
  const whole = WHOLE.exec(text.trim());
  return !!whole && [...text.matchAll(EXPRESSION)].length === 1;
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

/**
 * The scope as plain data: own enumerable data properties only, on objects without a prototype.
 * JMESPath reads fields with `value[name]`, which on ordinary objects would reach `constructor`,
 * `__proto__` or run a getter; here there is nothing to reach.
 */
export function plainData(value: unknown, depth = 0): unknown {
  if (depth > 64) return null;
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? null : value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => plainData(v, depth + 1));
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
    if (d.enumerable && 'value' in d) out[k] = plainData(d.value, depth + 1);
  }
  return out;
}

const interpreter = TreeInterpreter;

/** Evaluates a parsed JMESPath tree against already-plain data; null (JMESPath's "nothing") becomes undefined. */
export function evaluateParsed(e: { ast: ExpressionNode }, data: unknown): unknown {
  const v = interpreter.search(e.ast as never, data as never) as unknown;
  return v === null || v === undefined ? undefined : v;
}

/** Compiles a bare JMESPath (an `until:`, `that:` or `outputs:` query over an AWS response), no rewrites. */
export function compileQuery(query: string): { ast: ExpressionNode } {
  try {
    return { ast: compile(query) as unknown as ExpressionNode };
  } catch (err) {
    throw new ExpressionSyntaxError(`"${query}" is not a valid JMESPath query: ${(err as Error).message}`);
  }
}

/** Runs a bare JMESPath query over any data (an AWS response); undefined when it finds nothing. */
export function query(q: string | { ast: ExpressionNode }, data: unknown): unknown {
  return evaluateParsed(typeof q === 'string' ? compileQuery(q) : q, plainData(data));
}

function evaluate(e: ParsedExpression, data: unknown): unknown {
  const v = evaluateParsed(e, data);
  // An empty string is "not set", as it always was: `params.region || defaults.region` skips it.
  return v === '' ? undefined : v;
}

/**
 * Resolves a value. A string that is exactly one expression keeps the result's type (a boolean
 * stays a boolean) and, when it finds nothing, makes its key disappear; an expression inside
 * longer text must find something, or UnresolvedExpression is thrown.
 */
export function resolveValue(value: unknown, scope: Scope): unknown {
  return resolveIn(value, { scope, data: undefined });
}

function resolveIn(value: unknown, env: { scope: Scope; data: unknown }): unknown {
  const data = () => (env.data ??= plainData(env.scope));
  if (typeof value === 'string') {
    if (!value.includes('${{')) return value;
    const whole = WHOLE.exec(value);
    if (whole && !whole[1].includes('}}')) return evaluate(parseExpression(whole[1]), data());
    return value.replace(EXPRESSION, (_m, src: string) => {
      const e = parseExpression(src);
      const v = evaluate(e, data());
      if (v === undefined) throw new UnresolvedExpression(src, e.paths[0]?.path ?? []);
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveIn(v, env)).filter((v) => v !== undefined);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = resolveIn(v, env);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}

/**
 * Steps a value cannot do without (`steps.<id>....` read outside any `||` alternative), for the
 * engine's "needs a step that did not succeed → skipped" rule. A step named only as one
 * alternative of `a || b` is not needed: when it was skipped, the expression falls back.
 */
export function referencedSteps(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const [, e] of expressionsDeep(value)) {
    for (const p of e.paths) if (!p.optional && p.path[0] === 'steps' && p.path[1]) out.add(p.path[1]);
  }
  return out;
}

/** Every step a value names, needed or as a fallback alternative. */
export function mentionedSteps(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const [, e] of expressionsDeep(value)) {
    for (const p of e.paths) if (p.path[0] === 'steps' && p.path[1]) out.add(p.path[1]);
  }
  return out;
}

/** JMESPath's truth (empty list and object are false) plus runbookd's: 0 and the text "false" are false too. */
export function isTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return !(v === undefined || v === null || v === false || v === '' || v === 0 || v === 'false');
}
