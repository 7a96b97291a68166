import { createHash } from 'node:crypto';
import { apiMutates, AWS_SERVICES, awsService } from '../../aws/aws-services';
import type { IamNeed, StepDefinitionLike } from '../step.contract';
import { compileQuery, ExpressionSyntaxError, query } from '../../runbooks/expressions';
import { ROLE_ARN_SCHEMA, type TargetInput } from '../aws-target';

/**
 * What the three generic steps share: the `with:` shape of one API call, the load-time checks
 * of a definition (service and API exist, JMESPath parses, a state-changing API is declared),
 * named outputs as JMESPath over the response, and the IAM actions the call needs.
 */
export interface GenericCallInput extends TargetInput {
  service: string;
  api: string;
  input?: Record<string, unknown>;
}

export const callProperties = {
  service: { enum: Object.keys(AWS_SERVICES), description: 'SDK client, e.g. rds, ecs, cloudwatch, backup, sns, elbv2' },
  api: { type: 'string', pattern: '^[A-Z][A-Za-z0-9]+$', description: 'API operation, e.g. DescribeDBInstances' },
  input: { type: 'object', default: {}, description: 'The API input, as the AWS API reference names its fields' },
  region: { type: 'string', minLength: 1 },
  roleArn: ROLE_ARN_SCHEMA,
} as const;

export type Problem = { path: string; reason: string };

const hasExpression = (v: unknown) => typeof v === 'string' && v.includes('${{');

/** Service and API named literally and shipped; says which exist when not. */
export function checkCall(w: Record<string, unknown>, at = ''): { problems: Problem[]; mutates?: boolean } {
  const p = (k: string) => (at ? `${at}.${k}` : k);
  const problems: Problem[] = [];
  const service = w.service;
  const api = w.api;
  if (typeof service !== 'string' || hasExpression(service))
    return { problems: [{ path: p('service'), reason: 'must be named literally (it decides what the step may do)' }] };
  const entry = awsService(service);
  if (!entry) return { problems: [{ path: p('service'), reason: `unknown service "${service}" (runbookd ships: ${Object.keys(AWS_SERVICES).join(', ')})` }] };
  if (typeof api !== 'string' || hasExpression(api))
    return { problems: [{ path: p('api'), reason: 'must be named literally (it decides what the step may do)' }] };
  if (!entry.apis.has(api)) {
    const common = (a: string) => {
      let n = 0;
      while (n < a.length && n < api.length && a[n].toLowerCase() === api[n].toLowerCase()) n++;
      return n;
    };
    const near = [...entry.apis.keys()].sort((x, y) => common(y) - common(x) || x.length - y.length).slice(0, 3);
    problems.push({ path: p('api'), reason: `${service} has no API "${api}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}` });
    return { problems };
  }
  return { problems, mutates: apiMutates(entry, api) };
}

/** A JMESPath query (not a `${{ }}` expression): parses, or says why not. */
export function checkQuery(q: unknown, path: string): Problem[] {
  if (q === undefined) return [];
  if (typeof q !== 'string' || q.trim() === '') return [{ path, reason: 'must be a JMESPath query' }];
  if (hasExpression(q)) return [];
  try {
    compileQuery(q);
    return [];
  } catch (err) {
    return [{ path, reason: err instanceof ExpressionSyntaxError ? err.message : String(err) }];
  }
}

export function checkOutputs(def: StepDefinitionLike): Problem[] {
  return Object.entries(def.outputs ?? {}).flatMap(([name, q]) => checkQuery(q, `outputs.${name}`));
}

/** Named outputs: each JMESPath over the response; what finds nothing is left out. */
export function namedOutputs(outputs: Record<string, string> | undefined, response: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, q] of Object.entries(outputs ?? {})) {
    const v = query(q, response);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** `prefix:Api` (the service's IAM prefix, not always its name), on the ARNs the input names literally, else on every resource. */
export function iamNeedsOf(w: Record<string, unknown> | undefined): IamNeed[] {
  if (!w || typeof w.service !== 'string' || typeof w.api !== 'string' || hasExpression(w.service) || hasExpression(w.api)) return [];
  const prefix = awsService(w.service)?.iamPrefix ?? w.service;
  const arns = literalArns(w.input);
  const needs: IamNeed[] = [{ action: `${prefix}:${w.api}`, resources: arns.length > 0 ? arns : ['*'] }];
  if (typeof w.roleArn === 'string' && !hasExpression(w.roleArn)) needs.push({ action: 'sts:AssumeRole', resources: [w.roleArn] });
  else if (typeof w.roleArn === 'string') needs.push({ action: 'sts:AssumeRole', resources: ['*'] });
  return needs;
}

function literalArns(value: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      if (/^arn:aws[a-z-]*:/.test(v) && !hasExpression(v)) out.add(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  // An input that also names resources by expression or identifier cannot be narrowed safely.
  return [...out].length > 0 && !containsExpression(value) ? [...out] : [];
}

function containsExpression(v: unknown): boolean {
  if (typeof v === 'string') return hasExpression(v);
  if (Array.isArray(v)) return v.some(containsExpression);
  if (v && typeof v === 'object') return Object.values(v).some(containsExpression);
  return false;
}

/**
 * The idempotency token a state-changing call sends when its API has one: the same for every
 * attempt of one step of one run (a resend after a crash is then a no-op), different across runs.
 * UUID-shaped, since several APIs limit tokens to 36 characters.
 */
export function derivedToken(runId: string, stepId: string): string {
  const h = createHash('sha256').update(`runbookd/${runId}/${stepId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The idempotency input of a service's API, if it has one. */
export function idempotencyInputOf(service: string, api: string): string | undefined {
  return awsService(service)?.idempotency[api];
}
