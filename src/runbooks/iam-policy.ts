import type { IamNeed } from '../model/step-metadata.types';
import type { StepTypeCatalog } from './step-type-catalog';
import type { RunbookDefinition, StepDefinition } from '../model/runbook.types';

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
}

export interface IamPolicyDocument {
  Version: '2012-10-17';
  Statement: IamStatement[];
}

const hasExpression = (v: unknown) => typeof v === 'string' && v.includes('${{');

/**
 * Everything the runbook can call, step by step (every branch, preflight and cleanup too), plus
 * what the engine calls on its behalf: the guard alarms (cloudwatch:DescribeAlarms), the SNS
 * notification (sns:Publish on its topic), roles it assumes. Unknown step types are refused by
 * the loader, so every step here has a declaration.
 */
export function iamNeedsOf(def: RunbookDefinition, registry: StepTypeCatalog): IamNeed[] {
  const needs: IamNeed[] = [];
  const steps: StepDefinition[] = [...(def.preflight ?? []), ...def.steps, ...def.cleanup];
  for (const s of steps) {
    const type = registry.forStep(s);
    if (type?.iamNeeds) {
      needs.push(...type.iamNeeds(s));
      continue;
    }
    // A shipped type that declares neither fails the policy test.
    const fixed = type?.iamActions;
    if (!fixed) throw new Error(`step type ${s.uses} declares no IAM actions`);
    needs.push(...fixed.map((action) => ({ action })));
    // A fixed step's `roleArn` input is assumed for its calls.
    const role = s.with?.roleArn;
    if (role !== undefined) needs.push({ action: 'sts:AssumeRole', resources: [typeof role === 'string' && !hasExpression(role) ? role : '*'] });
  }
  const sc = def.guards.stopConditions;
  if (sc && sc.alarms.length > 0) {
    needs.push({ action: 'cloudwatch:DescribeAlarms' });
    if (sc.roleArn) needs.push({ action: 'sts:AssumeRole', resources: [hasExpression(sc.roleArn) ? '*' : sc.roleArn] });
  }
  if (def.notify?.sns) needs.push({ action: 'sns:Publish', resources: [def.notify.sns] });
  return needs;
}

/** The least-privilege policy document for some runbooks: one statement per resource set. */
export function iamPolicyFor(defs: RunbookDefinition[], registry: StepTypeCatalog): IamPolicyDocument {
  const byResources = new Map<string, Set<string>>();
  for (const def of defs) {
    for (const need of iamNeedsOf(def, registry)) {
      const resources = need.resources && need.resources.length > 0 && !need.resources.includes('*') ? [...need.resources].sort() : ['*'];
      const key = JSON.stringify(resources);
      if (!byResources.has(key)) byResources.set(key, new Set());
      byResources.get(key)!.add(need.action);
    }
  }
  // An action granted on every resource needs no narrower statement.
  const everywhere = byResources.get('["*"]') ?? new Set<string>();
  const statements: IamStatement[] = [];
  const keys = [...byResources.keys()].sort((a, b) => (a === '["*"]' ? -1 : b === '["*"]' ? 1 : a.localeCompare(b)));
  keys.forEach((key, i) => {
    const actions = [...byResources.get(key)!].filter((a) => key === '["*"]' || !everywhere.has(a)).sort();
    if (actions.length === 0) return;
    const resources = JSON.parse(key) as string[];
    statements.push({
      Sid: key === '["*"]' ? 'RunbookdActions' : `RunbookdScoped${i}`,
      Effect: 'Allow',
      Action: actions,
      Resource: resources.length === 1 ? resources[0] : resources,
    });
  });
  return { Version: '2012-10-17', Statement: statements };
}

/** Every action of a policy document, for comparisons. */
export function actionsOf(doc: IamPolicyDocument): string[] {
  return [...new Set(doc.Statement.flatMap((s) => s.Action))].sort();
}
