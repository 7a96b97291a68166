import * as fs from 'node:fs';
import * as iam from 'aws-cdk-lib/aws-iam';

/** The shape `scripts/iam-policy.ts` (and `GET /v1/iam-policy`) prints. */
export interface GeneratedPolicy {
  Version: string;
  Statement: Array<{ Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[] }>;
}

/**
 * Reads the policy runbookd generated from the runbooks the image ships. Refused when it grants a
 * wildcard action (`*`, `rds:*`, `rds:Describe*`) or denies nothing it could: the generator never
 * writes one, so a file that has one was edited by hand or came from elsewhere.
 */
export function readGeneratedPolicy(file: string): GeneratedPolicy {
  let doc: GeneratedPolicy;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as GeneratedPolicy;
  } catch (e) {
    throw new Error(`taskPolicyFile ${file}: ${(e as Error).message} (make it with: node -r @swc-node/register scripts/iam-policy.ts > ${file})`);
  }
  return checkGeneratedPolicy(doc, file);
}

export function checkGeneratedPolicy(doc: GeneratedPolicy, source: string): GeneratedPolicy {
  if (!doc || !Array.isArray(doc.Statement) || doc.Statement.length === 0) throw new Error(`${source}: not a policy document with statements`);
  for (const s of doc.Statement) {
    if (s.Effect !== 'Allow') throw new Error(`${source}: statement ${s.Sid ?? '?'} is not an Allow`);
    for (const a of ([] as string[]).concat(s.Action)) {
      if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a)) throw new Error(`${source}: action "${a}" is a wildcard or malformed; the task role names every action`);
    }
  }
  return doc;
}

/** The statements as CDK policy statements, resource scoping kept as the generator wrote it. */
export function statementsOf(doc: GeneratedPolicy, drop: (action: string) => boolean = () => false): iam.PolicyStatement[] {
  return doc.Statement.flatMap((s) => {
    const actions = ([] as string[]).concat(s.Action).filter((a) => !drop(a));
    if (actions.length === 0) return [];
    return [new iam.PolicyStatement({ sid: s.Sid, effect: iam.Effect.ALLOW, actions, resources: ([] as string[]).concat(s.Resource) })];
  });
}
