/**
 * Prints the least-privilege IAM policy ({ Version, Statement }) for one runbook, or for every
 * runbook with no argument (the task role's policy). Offline: loads the runbooks folder the same
 * way the server does, without a database or AWS.
 *
 *   node -r @swc-node/register scripts/iam-policy.ts [runbook-id] [--dir runbooks]
 */
import * as path from 'node:path';
import { StepRegistry } from '../src/steps/step-registry';
import type { StepType } from '../src/steps/step.contract';
import { type IamPolicyDocument, iamPolicyFor } from '../src/runbooks/iam-policy';
import { loadRunbooks } from '../src/runbooks/runbook-loader';
import { STEP_CLASSES } from '../src/steps/step-catalog';

export const RUNBOOKS_DIR = path.resolve(__dirname, '..', 'runbooks');

// Step types are only asked what they declare here: none of them is run, so none needs its dependencies.
const declarations = () => new StepRegistry(STEP_CLASSES.map((C) => new (C as unknown as new () => StepType)()));

/** The task role's policy: every runbook in the folder (the image ships `runbooks/`). The CDK app's test compares against it. */
export function taskRolePolicy(dir = RUNBOOKS_DIR): IamPolicyDocument {
  const registry = declarations();
  return iamPolicyFor(
    loadRunbooks(dir, registry).map((l) => l.definition),
    registry,
  );
}

export function main(argv: string[]): number {
  const dirAt = argv.indexOf('--dir');
  const dir = dirAt >= 0 ? argv[dirAt + 1] : RUNBOOKS_DIR;
  const ids = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--dir');
  const registry = declarations();
  const loaded = loadRunbooks(dir, registry);
  const chosen = ids.length === 0 ? loaded : loaded.filter((l) => ids.includes(l.definition.id));
  const missing = ids.filter((id) => !loaded.some((l) => l.definition.id === id));
  if (missing.length > 0) {
    process.stderr.write(`no runbook ${missing.join(', ')} in ${dir} (loaded: ${loaded.map((l) => l.definition.id).join(', ')})\n`);
    return 2;
  }
  process.stdout.write(
    `${JSON.stringify(
      iamPolicyFor(
        chosen.map((l) => l.definition),
        registry,
      ),
      null,
      2,
    )}\n`,
  );
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
